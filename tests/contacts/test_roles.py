import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def perms(role):
    return set(Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename"))


def test_roles_exist_with_the_right_permissions():
    viewer, editor, manager = perms("Viewer"), perms("Editor"), perms("Manager")
    assert ("contacts", "view_contact") in viewer and ("contacts", "change_contact") not in viewer
    assert {("contacts", "add_contact"), ("contacts", "change_contactlist")} <= editor
    assert ("messaging", "change_provideraccount") not in editor
    assert ("messaging", "view_provideraccount") not in editor | viewer  # accounts are Manager-only
    assert ("messaging", "view_httplog") in viewer
    assert {("messaging", "change_provideraccount"), ("auth", "change_user")} <= manager
    assert ("auth", "change_user") not in editor


def test_admin_enforces_roles(client, viewer, editor):
    client.force_login(viewer)
    assert client.get("/admin/contacts/contact/").status_code == 200
    assert client.get("/admin/contacts/contact/add/").status_code == 403
    client.force_login(editor)
    assert client.get("/admin/contacts/contact/add/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403

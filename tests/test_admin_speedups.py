"""The admin's speed-ups (config/admin_site.py, config/unfold_speedups.py) change no HTML and no permission."""

import re

import pytest
import unfold.admin
from django.contrib.admin import AdminSite, site
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.utils import translation
from unfold.sites import UnfoldAdminSite
from unfold.templatetags import unfold_list
from unfold.views import ChangeList

from config import unfold_speedups
from config.admin_site import SwitchboardAdminSite
from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


@pytest.fixture
def unfold_as_shipped(monkeypatch):
    """Put unfold's own per-row code back, for the page to compare with."""

    def restore():
        monkeypatch.setattr(unfold_list, "result_headers", unfold_speedups.ORIGINALS["result_headers"])
        monkeypatch.setattr(unfold_list, "display_for_label", unfold_speedups.ORIGINALS["display_for_label"])
        monkeypatch.setattr(
            unfold.admin.ModelAdmin, "action_checkbox", unfold_speedups.ORIGINALS["action_checkbox"]
        )
        monkeypatch.setattr(SwitchboardAdminSite, "get_sidebar_list", UnfoldAdminSite.get_sidebar_list)
        monkeypatch.setattr(SwitchboardAdminSite, "get_app_list", AdminSite.get_app_list)
        monkeypatch.setattr(ChangeList, "url_for_result", unfold_speedups.ORIGINALS["url_for_result"])
        if unfold_speedups.ORIGINALS.get("list_sections_added"):
            monkeypatch.delattr(unfold.admin.ModelAdmin, "list_sections")

    return restore


@pytest.mark.parametrize("language", ["it", "en"])
def test_the_contact_list_is_the_same_html_as_unfold_renders(client, manager, unfold_as_shipped, language):
    for i in range(3):
        ContactFactory(first_name=f"Anna{i}", opted_out=bool(i % 2))
    ContactFactory(first_name="<b>Bold</b>", blocked=True)
    client.force_login(manager)
    client.cookies["django_language"] = language
    fast = _without_tokens(client.get("/admin/contacts/contact/").content.decode())
    assert fast.count('name="_selected_action"') == 4  # the rows really are there
    for contact in Contact.objects.all():
        assert f'href="/admin/contacts/contact/{contact.pk}/change/' in fast
    unfold_as_shipped()
    shipped = _without_tokens(client.get("/admin/contacts/contact/").content.decode())
    assert fast == shipped


@pytest.mark.parametrize("path", ["/admin/", "/admin/contacts/tag/", "/admin/campaigns/campaign/"])
def test_other_pages_and_the_sidebar_are_the_same_html(client, viewer, unfold_as_shipped, path):
    client.force_login(viewer)
    fast = _without_tokens(client.get(path).content.decode())
    unfold_as_shipped()
    assert fast == _without_tokens(client.get(path).content.decode())


def test_the_sidebar_follows_a_change_of_permissions_at_the_next_request(client, django_user_model):
    user = django_user_model.objects.create_user("staffer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_tag"))
    client.force_login(user)
    page = client.get("/admin/contacts/tag/").content.decode()
    assert 'href="/admin/contacts/tag/"' in page and 'href="/admin/contacts/contact/"' not in page
    user.user_permissions.add(Permission.objects.get(codename="view_contact"))
    page = client.get("/admin/contacts/tag/").content.decode()
    assert 'href="/admin/contacts/contact/"' in page


def test_the_app_list_is_built_only_when_used_and_is_then_django_s(manager):
    request = RequestFactory().get("/admin/")
    request.user = manager
    lazy = site.get_app_list(request)
    with translation.override("en"):
        assert list(lazy) == AdminSite.get_app_list(site, request)
    assert "contacts" in [app["app_label"] for app in lazy]

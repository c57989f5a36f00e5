"""Issue 8: permissions outside the API, each failure as it was reported."""

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile

from contacts.imports import exports
from contacts.imports.models import ContactImport
from messaging.models import HttpLog
from messaging.services import create_account
from messaging.sync.models import SyncRun
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def other_editor(django_user_model):
    user = django_user_model.objects.create_user("editor2", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Editor"))
    return user


@pytest.fixture
def norole(django_user_model):
    return django_user_model.objects.create_user("norole", password="x", is_staff=True)


def test_an_editor_cannot_download_another_users_export(client, editor, other_editor, manager, media):
    ContactFactory()
    export = exports.start_export("csv", {}, user=other_editor)
    url = f"/admin/contacts/contactexport/{export.pk}/download/"
    client.force_login(editor)
    assert client.get(url).status_code == 404
    assert client.get(f"/admin/contacts/contactexport/{export.pk}/status.json").status_code == 404
    assert f"/admin/contacts/contactexport/{export.pk}/" not in client.get("/admin/contacts/contactexport/").content.decode()
    client.force_login(other_editor)
    assert client.get(url).status_code == 200
    client.force_login(manager)
    assert client.get(url).status_code == 200


def test_no_role_staff_cannot_read_an_imports_rows_or_progress(client, editor, norole, media):
    imp = ContactImport(original_name="p.csv", kind="csv", status=ContactImport.Status.SUCCEEDED,
                        created_by=editor, rejected=1)  # fmt: skip
    imp.file.save("p.csv", ContentFile(b"phone\nx\n"), save=False)
    imp.rejected_file.save("r.csv", ContentFile(b"line,error\n2,not a phone\n"), save=False)
    imp.save()
    client.force_login(norole)
    for view in ("rejected/", "progress/", "status.json"):
        assert client.get(f"/admin/contacts/contactimport/{imp.pk}/{view}").status_code == 403


def test_viewers_and_editors_do_not_see_provider_accounts(client, api_client, viewer, editor, manager):
    account = create_account(provider="sandbox", name="Secret Spoki Italy")
    HttpLog.objects.create(account=account, provider="sandbox", method="GET", host="api.hidden.example", path="/v1")
    run = SyncRun.objects.create(account=account, resource="contacts", direction="pull", trigger="api")
    for user in (viewer, editor):
        client.force_login(user)
        for url in ("/admin/", "/admin/messaging/httplog/", f"/admin/messaging/httplog/{HttpLog.objects.get().pk}/change/",
                    "/admin/messaging/syncrun/", f"/admin/messaging/syncrun/{run.pk}/change/"):  # fmt: skip
            page = client.get(url).content.decode()
            assert "Secret Spoki Italy" not in page and "api.hidden.example" not in page, url
        api_client.force_authenticate(user)
        body = api_client.get("/api/sync-runs/").json()
        assert body["results"][0]["account_name"] is None
        assert api_client.get(f"/api/sync-runs/{run.pk}/").json()["account_name"] is None
    client.force_login(manager)
    assert "Secret Spoki Italy" in client.get("/admin/").content.decode()
    log_page = client.get(f"/admin/messaging/httplog/{HttpLog.objects.get().pk}/change/").content.decode()
    assert "api.hidden.example" in log_page and "Secret Spoki Italy" in log_page
    api_client.force_authenticate(manager)
    assert api_client.get("/api/sync-runs/").json()["results"][0]["account_name"] == "Secret Spoki Italy"


def test_get_test_connection_changes_nothing(client, manager):
    account = create_account(provider="sandbox", name="Sandbox")
    client.force_login(manager)
    url = f"/admin/messaging/provideraccount/{account.pk}/test-connection/"
    assert client.get(url).status_code == 200
    account.refresh_from_db()
    assert account.last_success_at is None
    assert client.post(url).status_code == 302
    account.refresh_from_db()
    assert account.last_success_at is not None

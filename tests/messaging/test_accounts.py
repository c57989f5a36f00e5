"""Provider accounts: secrets encrypted at rest and never shown, health, the API, the admin, roles."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from messaging import services, tasks
from messaging.models import HttpLog, ProviderAccount
from tests.messaging.account_helpers import SECRET, KeyedFake, use_test_providers

pytestmark = pytest.mark.django_db

KEY = "x0M1bXx9d2pVb2lVdjF0Q3RaS3l6cW5GU0xOMG1QQ1E="  # the conftest's test key


@pytest.fixture(autouse=True)
def providers(settings):
    use_test_providers(settings)


@pytest.fixture
def fake(serve_fake):
    return serve_fake(KeyedFake())


@pytest.fixture
def keyed(fake):
    return services.create_account(
        provider="keyed",
        name="Keyed main",
        base_url=fake.url,
        credentials={"api_key": SECRET, "company_id": "co-77"},
        settings={"sender": "ACME"},
        webhook_secret="whsec-SHHH",
    )


def raw_columns(account) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials, webhook_secret FROM messaging_provideraccount WHERE id = %s", [account.pk]
        )
        return cursor.fetchone()


# --- encryption at rest --------------------------------------------------------------------------


def test_credentials_and_webhook_secret_are_fernet_tokens_in_the_database(keyed):
    credentials, webhook_secret = raw_columns(keyed)
    assert credentials.startswith("gAAAAA") and webhook_secret.startswith("gAAAAA")
    assert SECRET not in credentials and "co-77" not in credentials and "SHHH" not in webhook_secret
    assert json.loads(Fernet(KEY.encode()).decrypt(credentials.encode())) == {
        "api_key": SECRET,
        "company_id": "co-77",
    }
    fresh = ProviderAccount.objects.get(pk=keyed.pk)
    assert fresh.credentials["api_key"] == SECRET and fresh.credential_keys() == ["api_key", "company_id"]


def test_key_rotation_with_two_keys(keyed, settings):
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [new_key, KEY]  # new key first; the old one still decrypts
    assert ProviderAccount.objects.get(pk=keyed.pk).credentials["api_key"] == SECRET

    call_command("rotate_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115

    credentials, webhook_secret = raw_columns(keyed)
    assert json.loads(Fernet(new_key.encode()).decrypt(credentials.encode()))["api_key"] == SECRET
    assert Fernet(new_key.encode()).decrypt(webhook_secret.encode()) == b"whsec-SHHH"
    settings.FIELD_ENCRYPTION_KEY = [new_key]  # the old key can now go
    fresh = ProviderAccount.objects.get(pk=keyed.pk)
    assert fresh.credentials["api_key"] == SECRET and fresh.webhook_secret == "whsec-SHHH"


def test_a_secret_no_configured_key_opens_reads_as_a_clear_failure(keyed, settings):
    """Issue 8: a rotated/wrong key must not make the account unloadable; using it says why."""
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    from messaging.crypto import SecretUnreadable

    account = ProviderAccount.objects.get(pk=keyed.pk)
    assert account.secrets_unreadable and account.credential_keys() == []
    with pytest.raises(SecretUnreadable):
        account.get_provider()
    assert "re-enter" in services.health_text(account)


# --- services: validation --------------------------------------------------------------------------


def test_create_account_names_the_unknown_provider_and_the_missing_credential():
    with pytest.raises(ValidationError) as unknown:
        services.create_account(provider="nope", name="x")
    assert "keyed" in str(unknown.value) and "sandbox" in str(unknown.value)
    with pytest.raises(ValidationError) as missing:
        services.create_account(provider="keyed", name="x", credentials={"api_key": "k"})
    assert "company_id" in str(missing.value.message_dict["credentials"])
    with pytest.raises(ValidationError, match="Unknown credential token"):
        services.create_account(
            provider="keyed", name="x", credentials={"api_key": "k", "company_id": "c", "token": "t"}
        )
    assert not ProviderAccount.objects.exists()


def test_blank_credentials_keep_the_stored_ones(keyed):
    services.update_account(
        keyed, credentials={"api_key": "", "company_id": "co-88"}, settings={"sender": ""}
    )
    fresh = ProviderAccount.objects.get(pk=keyed.pk)
    assert fresh.credentials == {"api_key": SECRET, "company_id": "co-88"}
    assert fresh.settings == {}
    with pytest.raises(ValidationError, match="cannot change"):
        services.update_account(keyed, provider="sandbox")


def test_set_credentials_validates_and_never_logs_values(keyed, caplog):
    caplog.set_level(logging.DEBUG)
    services.set_credentials(keyed, {"api_key": "sk-NEW-VALUE-99", "company_id": ""})
    fresh = ProviderAccount.objects.get(pk=keyed.pk)
    assert fresh.credentials == {"api_key": "sk-NEW-VALUE-99", "company_id": "co-77"}
    with pytest.raises(ValidationError, match="company_id"):
        services.set_credentials(keyed, {"api_key": "only"}, replace=True)
    services.test_connection(keyed)
    assert "api_key" in caplog.text  # the log says which keys changed…
    assert "sk-NEW-VALUE-99" not in caplog.text and SECRET not in caplog.text  # …never their values


# --- connection tests and health ---------------------------------------------------------------------


def test_connection_success_records_health_balance_and_a_redacted_correlated_log(keyed):
    result = services.test_connection(keyed)
    assert result.ok and result.status == "connected"
    assert result.detail == "Connected — credit €150.50"
    keyed.refresh_from_db()
    assert keyed.balance_text == "€150.50" and keyed.last_success_at and keyed.consecutive_failures == 0
    assert services.health_text(keyed) == "Healthy"

    log = HttpLog.objects.get()
    assert log.correlation == f"check:{keyed.pk}" and log.status == 200 and log.account == keyed
    dumped = json.dumps([log.request_body, log.response_body, log.query, log.error])
    assert SECRET not in dumped and '"apiKey": "***"' in log.request_body


def test_a_refused_key_is_said_in_words_and_counts_failures(keyed, fake):
    fake.fake.api_key = "rotated-at-the-vendor"
    for _ in range(3):
        result = services.test_connection(keyed)
    assert not result.ok and result.status == "auth_failed"
    assert result.detail == "The API key was refused (401): Invalid API key"
    keyed.refresh_from_db()
    assert keyed.consecutive_failures == 3 and not keyed.healthy
    assert (
        services.health_text(keyed) == "3 failures in a row: The API key was refused (401): Invalid API key"
    )
    fake.fake.api_key = SECRET
    assert services.test_connection(keyed).ok
    keyed.refresh_from_db()
    assert keyed.consecutive_failures == 0 and services.health_text(keyed) == "Healthy"


def test_an_unreachable_provider_is_said_in_words(keyed):
    services.update_account(keyed, base_url="http://127.0.0.1:9")
    result = services.test_connection(keyed)
    assert not result.ok and result.status == "unreachable"
    assert result.detail == "Provider unreachable: connection refused"
    assert (
        HttpLog.objects.filter(status__isnull=True, correlation=f"check:{keyed.pk}").count() == 2
    )  # one retry


def test_the_sandbox_connects_with_no_credentials():
    account = services.create_account(provider="sandbox", name="Sandbox")
    result = services.test_connection(account)
    assert result.ok and result.detail == "Connected — sandbox (no real messages are sent)"
    account.refresh_from_db()
    assert account.balance_text == "€100.00"


# --- tasks ------------------------------------------------------------------------------------------------


def test_tasks_call_the_services(keyed):
    assert tasks.check_account_health.delay(keyed.pk).get()["ok"] is True
    HttpLog.objects.update(created_at="2000-01-01T00:00:00Z")
    assert tasks.prune_http_log.delay().get() == {"deleted": 1}


def test_the_pruning_schedule_exists_once_after_migrate():
    from django_celery_beat.models import PeriodicTask

    services.ensure_periodic_tasks()  # a second run (post_migrate already ran one) changes nothing
    task = PeriodicTask.objects.get(name=services.PRUNE_TASK_NAME)
    assert task.task == "messaging.tasks.prune_http_log" and task.crontab.hour == "3"
    assert PeriodicTask.objects.filter(task="messaging.tasks.prune_http_log").count() == 1


# --- the API ------------------------------------------------------------------------------------------


def test_api_creates_reads_updates_and_tests_an_account_without_ever_returning_secrets(manager_api, fake):
    created = manager_api.post(
        "/api/provider-accounts/",
        {
            "provider": "keyed", "name": "Via API", "base_url": fake.url,
            "credentials": {"api_key": SECRET, "company_id": "co-1"}, "settings": {"sender": "ACME"},
            "webhook_secret": "whsec-API",
        },
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["credentials_set"] == ["api_key", "company_id"] and body["webhook_secret_set"] is True
    assert body["settings"] == {"sender": "ACME"} and body["capabilities"]["balance"] is True
    assert body["health"]["text"] == "Not checked yet"
    pk = body["id"]

    tested = manager_api.post(f"/api/provider-accounts/{pk}/test/")
    assert tested.status_code == 200
    assert tested.json()["ok"] is True and tested.json()["detail"] == "Connected — credit €150.50"
    assert tested.json()["status"] == "connected" and tested.json()["balance"] == "€150.50"

    patched = manager_api.patch(
        f"/api/provider-accounts/{pk}/", {"credentials": {"company_id": "co-2"}}, format="json"
    )
    assert patched.status_code == 200
    assert ProviderAccount.objects.get(pk=pk).credentials == {"api_key": SECRET, "company_id": "co-2"}

    listed = manager_api.get("/api/provider-accounts/")
    detail = manager_api.get(f"/api/provider-accounts/{pk}/")
    for response in (created, tested, patched, listed, detail):
        assert SECRET not in response.content.decode() and "whsec-API" not in response.content.decode()
        assert "co-2" not in response.content.decode()
    assert detail.json()["health"]["text"] == "Healthy" and detail.json()["balance"]["text"] == "€150.50"

    assert manager_api.delete(f"/api/provider-accounts/{pk}/").status_code == 204
    assert not ProviderAccount.objects.filter(pk=pk).exists()


def test_api_says_what_is_wrong(manager_api):
    unknown = manager_api.post("/api/provider-accounts/", {"provider": "acme", "name": "x"}, format="json")
    assert unknown.status_code == 400
    assert "keyed" in unknown.json()["provider"][0] and "sandbox" in unknown.json()["provider"][0]
    missing = manager_api.post(
        "/api/provider-accounts/",
        {"provider": "keyed", "name": "x", "credentials": {"api_key": "k"}},
        format="json",
    )
    assert missing.status_code == 400 and "company_id" in missing.json()["credentials"][0]
    services.create_account(provider="sandbox", name="Taken")
    taken = manager_api.post(
        "/api/provider-accounts/", {"provider": "sandbox", "name": "Taken"}, format="json"
    )
    assert taken.status_code == 400 and "already exists" in taken.json()["name"][0]


def test_providers_endpoint_lists_the_registry(manager_api):
    providers = {p["slug"]: p for p in manager_api.get("/api/providers/").json()}
    assert set(providers) == {"sandbox", "keyed"}
    assert [f["key"] for f in providers["keyed"]["credentials"]] == ["api_key", "company_id"]
    assert providers["sandbox"]["capabilities"]["send"] == ["rcs", "sms", "voice", "whatsapp"]


@pytest.mark.parametrize("role", ["editor_api", "viewer"])
def test_only_managers_reach_provider_accounts_in_the_api(request, role, api_client):
    client = request.getfixturevalue(role)
    if role == "viewer":
        api_client.force_authenticate(client)
        client = api_client
    services.create_account(provider="sandbox", name="Sandbox")
    assert client.get("/api/provider-accounts/").status_code == 403
    assert (
        client.post(
            "/api/provider-accounts/", {"provider": "sandbox", "name": "x"}, format="json"
        ).status_code
        == 403
    )
    assert client.post(f"/api/provider-accounts/{ProviderAccount.objects.get().pk}/test/").status_code == 403


def test_roles_grant_provider_accounts_to_managers_only(editor, viewer, manager):
    assert manager.has_perm("messaging.change_provideraccount") and manager.has_perm(
        "messaging.add_provideraccount"
    )
    for user in (editor, viewer):
        assert not user.has_perm("messaging.change_provideraccount")
        assert not user.has_perm("messaging.add_provideraccount")
    assert not manager.has_perm("messaging.change_httplog") and not manager.has_perm("messaging.add_httplog")


# --- the admin --------------------------------------------------------------------------------------------


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_admin_change_page_never_renders_secrets(manager_client, keyed):
    html = manager_client.get(
        reverse("admin:messaging_provideraccount_change", args=[keyed.pk])
    ).content.decode()
    assert SECRET not in html and "co-77" not in html and "whsec-SHHH" not in html
    assert html.count("•••• set — leave blank to keep") == 3  # api key, company id, webhook secret
    assert 'name="set__keyed__sender"' in html and 'value="ACME"' in html  # settings are not secret
    assert "Not checked yet" in html and "Contacts: read" in html and "Balance: yes" in html


def test_admin_adds_an_account_with_the_chosen_providers_credentials(manager_client, fake):
    response = manager_client.post(
        reverse("admin:messaging_provideraccount_add"),
        {
            "provider": "keyed", "name": "From admin", "base_url": fake.url, "is_active": "on",
            "cred__keyed__api_key": SECRET, "cred__keyed__company_id": "co-9", "set__keyed__sender": "ACME",
            "webhook_secret_input": "", "conflict_policy": "hold", "delete_policy": "unlink",
            "sync_interval_minutes": "60",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    account = ProviderAccount.objects.get(name="From admin")
    assert account.credentials == {"api_key": SECRET, "company_id": "co-9"} and account.settings == {
        "sender": "ACME"
    }


def test_admin_form_names_a_missing_credential(manager_client):
    response = manager_client.post(
        reverse("admin:messaging_provideraccount_add"),
        {
            "provider": "keyed", "name": "Incomplete", "cred__keyed__api_key": "k", "conflict_policy": "hold",
            "delete_policy": "unlink", "sync_interval_minutes": "60",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "Missing required credential company_id (Company id)." in response.content.decode()
    assert not ProviderAccount.objects.filter(name="Incomplete").exists()


def test_admin_edit_with_blank_secrets_keeps_them(manager_client, keyed):
    response = manager_client.post(
        reverse("admin:messaging_provideraccount_change", args=[keyed.pk]),
        {
            "name": "Renamed", "base_url": keyed.base_url, "is_active": "on", "cred__keyed__api_key": "",
            "cred__keyed__company_id": "", "set__keyed__sender": "NEWCO", "webhook_secret_input": "",
            "conflict_policy": "hold", "delete_policy": "unlink", "sync_interval_minutes": "30",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    fresh = ProviderAccount.objects.get(pk=keyed.pk)
    assert (
        fresh.name == "Renamed"
        and fresh.sync_interval_minutes == 30
        and fresh.settings == {"sender": "NEWCO"}
    )
    assert (
        fresh.credentials == {"api_key": SECRET, "company_id": "co-77"}
        and fresh.webhook_secret == "whsec-SHHH"
    )


def test_admin_test_connection_button_and_bulk_action(manager_client, keyed, fake):
    url = reverse("admin:messaging_provideraccount_test_connection_detail", args=[keyed.pk])
    # Issue 8: a GET only asks (nothing is recorded); the POST tests.
    asked = manager_client.get(url)
    assert asked.status_code == 200 and "Test connection now" in asked.content.decode()
    keyed.refresh_from_db()
    assert keyed.last_success_at is None and not HttpLog.objects.exists()
    followed = manager_client.post(url, follow=True)
    assert "Keyed main: Connected — credit €150.50" in followed.content.decode()

    fake.fake.api_key = "changed"
    followed = manager_client.post(
        reverse("admin:messaging_provideraccount_changelist"),
        {"action": "test_connection_bulk", "_selected_action": [keyed.pk]},
        follow=True,
    )
    html = followed.content.decode()
    assert "Keyed main: The API key was refused (401): Invalid API key" in html
    assert "1 failure: The API key was refused" in html  # the health column
    assert SECRET not in html


def test_admin_http_log_is_read_only_and_filterable(manager_client, keyed):
    services.test_connection(keyed)
    log = HttpLog.objects.get()
    changelist = reverse("admin:messaging_httplog_changelist")
    assert manager_client.get(reverse("admin:messaging_httplog_add")).status_code == 403
    page = manager_client.get(changelist, {"status_class": "2xx"}).content.decode()
    assert "/v1/me" in page
    assert "/v1/me" not in manager_client.get(changelist, {"status_class": "4xx"}).content.decode()
    assert "/v1/me" in manager_client.get(changelist, {"correlation": f"check:{keyed.pk}"}).content.decode()
    detail = manager_client.get(reverse("admin:messaging_httplog_change", args=[log.pk])).content.decode()
    assert "150.5" in detail and SECRET not in detail and 'name="method"' not in detail


def test_editors_and_viewers_cannot_open_provider_accounts_in_the_admin(client, editor, viewer, keyed):
    for user in (editor, viewer):
        client.force_login(user)
        assert client.get(reverse("admin:messaging_provideraccount_changelist")).status_code == 403
        assert (
            client.get(reverse("admin:messaging_provideraccount_change", args=[keyed.pk])).status_code == 403
        )


def test_list_pages_do_not_query_per_row(manager_api, manager_client):
    def counts():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as api:
            assert manager_api.get("/api/provider-accounts/").status_code == 200
        with CaptureQueriesContext(connection) as admin_page:
            assert (
                manager_client.get(reverse("admin:messaging_provideraccount_changelist")).status_code == 200
            )
        with CaptureQueriesContext(connection) as log_page:
            assert manager_client.get(reverse("admin:messaging_httplog_changelist")).status_code == 200
        return len(api), len(admin_page), len(log_page)

    def add(n, start):
        for i in range(start, start + n):
            account = services.create_account(provider="sandbox", name=f"Sandbox {i}")
            HttpLog.record(
                account=account, provider="sandbox", method="GET", url="https://x.invalid/v1/me", params={},
                status=200, duration_ms=1, request_body="", response_body="", request_id="", error="",
                correlation="",
            )  # fmt: skip

    add(2, 0)
    counts()  # warm up: the first request caches the user's permissions
    few = counts()
    add(8, 2)
    assert counts() == few


def test_an_account_whose_provider_was_uninstalled_says_so(keyed, settings):
    settings.SWITCHBOARD_PROVIDERS = ["messaging.providers.sandbox.SandboxProvider"]
    result = services.test_connection(keyed)
    assert not result.ok and "No provider 'keyed' is installed" in result.detail

"""Issue 8: credentials validated on save, errors without secrets, a wrong key is not a 500."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError

from messaging import services
from messaging.models import HttpLog, ProviderAccount
from messaging.sync.models import SyncRun
from messaging.sync.services import describe_sync_failure
from tests.messaging.account_helpers import SECRET, KeyedFake, use_test_providers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def providers(settings):
    use_test_providers(settings)


@pytest.fixture
def fake(serve_fake):
    return serve_fake(KeyedFake())


def _create(fake, **changes):
    data = {
        "provider": "keyed", "name": "Keyed main", "base_url": fake.url,
        "credentials": {"api_key": SECRET, "company_id": "co-77"}, **changes,
    }  # fmt: skip
    return services.create_account(**data)


@pytest.mark.parametrize("bad", ["sk-\nlive", "sk\r\nX-Evil: 1", "sk\x00", "sk\x7f"])
def test_credentials_with_control_characters_are_refused(fake, manager_api, bad):
    with pytest.raises(ValidationError) as refused:
        _create(fake, credentials={"api_key": bad, "company_id": "co"})
    assert "control character" in str(refused.value) and bad not in str(refused.value)
    response = manager_api.post(
        "/api/provider-accounts/",
        {"provider": "keyed", "name": "k", "credentials": {"api_key": bad, "company_id": "c"}},
        format="json",
    )
    assert response.status_code == 400 and not ProviderAccount.objects.exists()


@pytest.mark.parametrize("url", ["https://user:pw@api.example.com", "https://user@api.example.com", "ftp://x.y", "https://"])
def test_base_url_with_credentials_or_odd_scheme_is_refused(fake, url):
    with pytest.raises(ValidationError) as refused:
        _create(fake, base_url=url)
    assert "base_url" in refused.value.message_dict


def test_a_legacy_key_with_a_newline_never_reaches_logs_or_runs(fake, caplog):
    """Before: requests' InvalidHeader (quoting the key) reached the log, SyncRun.error and the DB."""
    account = _create(fake)
    leaked = "sk-NEWLINE-SECRET-99"
    ProviderAccount.objects.filter(pk=account.pk).update(
        credentials={"api_key": leaked + "\n", "company_id": "co"}  # saved before validation existed
    )
    account.refresh_from_db()
    with caplog.at_level(logging.DEBUG):
        result = services.test_connection(account)
    assert not result.ok
    account.refresh_from_db()
    texts = [result.detail, account.last_error, caplog.text, *HttpLog.objects.values_list("error", flat=True)]
    assert all(leaked not in t for t in texts)
    assert "could not be sent" in result.detail


def test_sync_run_errors_blank_out_the_accounts_secrets(fake):
    account = _create(fake)
    text = describe_sync_failure(RuntimeError(f"header value {SECRET!r} is invalid"), account)
    assert SECRET not in text and "[redacted]" in text


def test_a_wrong_encryption_key_keeps_every_page_working(fake, client, manager, settings):
    account = _create(fake)
    SyncRun.objects.create(account=account, resource="contacts", direction="pull", trigger="api")
    services.test_connection(account)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]  # rotated without rotate_secrets
    client.force_login(manager)
    for url in ["/admin/", "/admin/messaging/provideraccount/", f"/admin/messaging/provideraccount/{account.pk}/change/",
                "/admin/messaging/syncrun/", "/admin/messaging/httplog/"]:  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get("/admin/messaging/provideraccount/").content.decode()
    assert "need re-entering" in page
    result = services.test_connection(ProviderAccount.objects.get(pk=account.pk))
    assert not result.ok and "again" in result.detail
    # Saving something else keeps the unreadable token (the old key may come back).
    stored = ProviderAccount.objects.filter(pk=account.pk).values_list("credentials", flat=True).get()
    services.update_account(ProviderAccount.objects.get(pk=account.pk), name="Renamed")
    assert ProviderAccount.objects.filter(pk=account.pk).values_list("credentials", flat=True).get() == stored
    # Re-entering the credentials works.
    fresh = ProviderAccount.objects.get(pk=account.pk)
    services.update_account(fresh, credentials={"api_key": SECRET, "company_id": "co-77"})
    assert not ProviderAccount.objects.get(pk=account.pk).secrets_unreadable

"""Registering our URL with providers whose API allows it, against the HTTP fakes; manual steps elsewhere."""

from __future__ import annotations

import json

import pytest

from messaging.models import HttpLog, ProviderAccount
from messaging.providers.errors import NotSupported
from messaging.providers.spoki.registration import EVENTS
from messaging.webhooks import services
from tests.fakes.qlara import QlaraFake
from tests.fakes.spoki import SpokiFake

from .helpers import hook_path, make_account, spoki_examples, spoki_headers

pytestmark = pytest.mark.django_db


def at(account: ProviderAccount, server) -> ProviderAccount:
    account.base_url = server.url
    account.save(update_fields=["base_url"])
    return account


def test_qlara_registration_posts_then_puts_with_the_secret_as_basic_auth(serve_fake):
    fake = QlaraFake(api_key="k")
    account = at(make_account("qlara", secret="q-secret-1"), serve_fake(fake))
    services.register_webhooks(account)
    assert fake.webhook["callbackUrl"] == account.webhook_url.replace("https://", "https://qlara:q-secret-1@")
    services.rotate_webhook_token(account)
    services.register_webhooks(account)  # exists now: GET, then PUT
    assert account.webhook_token in fake.webhook["callbackUrl"]
    account.refresh_from_db()
    assert account.webhook_registration["url"] == account.webhook_url
    assert not any("q-secret-1" in (r.request_body + r.response_body) for r in HttpLog.objects.all())


def test_qlara_registration_treats_409_as_exists(serve_fake):
    fake = QlaraFake(api_key="k")
    server = serve_fake(fake)
    account = at(make_account("qlara"), server)
    fake.webhook = {"companyId": fake.company_id, "callbackUrl": "https://old.example/x"}
    services.register_webhooks(account)
    assert fake.webhook["callbackUrl"] == account.webhook_url


def test_spoki_registration_one_subscription_per_event_and_secrets_kept_encrypted(serve_fake, client):
    fake = SpokiFake(api_key="k")
    fake.webhooks.append(
        {
            "id": 1,
            "version": 2,
            "url": "https://other.example/",
            "event": "message.inbound",
            "is_active": True,
            "account": 1,
            "secret": "whsec_other",
        }
    )  # another integration's
    account = at(make_account("spoki"), serve_fake(fake))
    services.register_webhooks(account)
    ours = [w for w in fake.webhooks if w["url"] == account.webhook_url]
    assert sorted(w["event"] for w in ours) == sorted(EVENTS)
    assert fake.webhooks[0]["url"] == "https://other.example/"  # left alone
    account.refresh_from_db()
    secrets = json.loads(account.webhook_secret)
    assert secrets["message.outbound"] == next(w["secret"] for w in ours if w["event"] == "message.outbound")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM messaging_provideraccount WHERE id = %s", [account.pk])
        (raw,) = cursor.fetchone()
    assert raw and "whsec_" not in raw  # encrypted at rest
    # a body signed with the subscription's secret is accepted end to end
    body = json.dumps(spoki_examples()["webhooks_webhooks_body_content_message_sent"]).encode()
    response = client.post(hook_path(account), data=body, content_type="application/json",
                           headers=spoki_headers(body, secrets["message.outbound"]))  # fmt: skip
    assert response.status_code == 200
    # registering again changes nothing: no duplicate subscriptions
    services.register_webhooks(account)
    assert len([w for w in fake.webhooks if w["url"] == account.webhook_url]) == len(EVENTS)


def test_spoki_a_new_url_updates_our_subscriptions_in_place(serve_fake):
    # (Spoki allows 30 calls a minute on external-webhooks: start from an earlier registration.)
    fake = SpokiFake(api_key="k")
    account = at(make_account("spoki"), serve_fake(fake))
    old_url = account.webhook_url
    for i, event in enumerate(EVENTS, start=10):
        fake.webhooks.append({"id": i, "version": 1, "url": old_url, "event": event, "is_active": True,
                              "account": 1, "secret": f"v1-secret-{i}"})  # fmt: skip
    account.webhook_registration = {"subscriptions": {e: str(i) for i, e in enumerate(EVENTS, start=10)}}
    account.save(update_fields=["webhook_registration"])
    services.rotate_webhook_token(account)
    services.register_webhooks(account)
    assert len(fake.webhooks) == len(EVENTS)
    assert all(w["url"] == account.webhook_url and w["version"] == 2 for w in fake.webhooks)
    account.refresh_from_db()
    assert all(s.startswith("whsec_") for s in json.loads(account.webhook_secret).values())  # V2 secrets


def test_spoki_secret_rotation_replaces_every_secret(serve_fake):
    fake = SpokiFake(api_key="k")
    account = at(make_account("spoki"), serve_fake(fake))
    services.register_webhooks(account)
    account.refresh_from_db()
    before = json.loads(account.webhook_secret)
    services.rotate_webhook_secrets(account)
    account.refresh_from_db()
    after = json.loads(account.webhook_secret)
    assert set(after) == set(before) and all(after[e] != before[e] for e in after)
    assert {w["secret"] for w in fake.webhooks} == set(after.values())


def test_manual_providers_get_instructions_with_the_exact_url():
    for slug in ("myoperator", "spryng"):
        account = make_account(slug)
        steps = services.registration_help(account)
        assert any(account.webhook_url in step for step in steps)
        assert not services.can_register(account)
        with pytest.raises(NotSupported):
            services.register_webhooks(account)
    assert services.can_register(make_account("qlara")) and services.can_rotate_secrets(make_account("spoki"))


def test_the_account_page_buttons(client, manager, serve_fake):
    fake = QlaraFake(api_key="k")
    account = at(make_account("qlara"), serve_fake(fake))
    client.force_login(manager)
    url = f"/admin/messaging/provideraccount/{account.pk}/register-webhooks/"
    assert client.get(url).status_code == 200 and fake.webhook is None  # a confirmation page only
    client.post(url)
    assert fake.webhook["callbackUrl"] == account.webhook_url
    old = account.webhook_token
    client.post(f"/admin/messaging/provideraccount/{account.pk}/rotate-webhook-token/")
    account.refresh_from_db()
    assert account.webhook_token != old and fake.webhook["callbackUrl"] == account.webhook_url


def test_the_sandbox_issues_and_rotates_a_signing_secret(client):
    account = make_account("sandbox")
    services.register_webhooks(account)
    account.refresh_from_db()
    first = account.webhook_secret
    assert first.startswith("sbx_") and account.webhook_registration["url"] == account.webhook_url
    provider = account.get_provider()
    from messaging.providers.base import DeliveryUpdate

    headers, body = provider.webhook_request([DeliveryUpdate("sb-1", "delivered", event_id="e1")], first)
    assert (
        client.post(
            hook_path(account), data=body, content_type="application/json", headers=headers
        ).status_code
        == 200
    )
    services.rotate_webhook_secrets(account)
    account.refresh_from_db()
    assert account.webhook_secret != first
    headers, body = provider.webhook_request([DeliveryUpdate("sb-2", "delivered", event_id="e2")], first)
    assert (
        client.post(
            hook_path(account), data=body, content_type="application/json", headers=headers
        ).status_code
        == 401
    )


def test_register_buttons_show_only_where_the_provider_api_allows(client, manager):
    client.force_login(manager)
    manual = make_account("myoperator")
    page = client.get(f"/admin/messaging/provideraccount/{manual.pk}/change/").content.decode()
    assert "register-webhooks" not in page and "rotate-webhook-secrets" not in page
    assert "rotate-webhook-token" in page and manual.webhook_url in page
    spoki = make_account("spoki")
    page = client.get(f"/admin/messaging/provideraccount/{spoki.pk}/change/").content.decode()
    assert "register-webhooks" in page and "rotate-webhook-secrets" in page

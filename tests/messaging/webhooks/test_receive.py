"""/hooks/<token>/: every provider's documented payloads in, forgeries refused, retries counted once."""

from __future__ import annotations

import json
import time

import pytest

from messaging.models import WebhookEvent
from messaging.webhooks.receive import dedupe_key, receive_webhook
from messaging.webhooks.tokens import webhook_url_for

from .helpers import (
    MYOP_SECRET,
    SPOKI_SECRET,
    SPRYNG_MO,
    basic,
    hook_path,
    make_account,
    myoperator_examples,
    qlara_examples,
    spoki_examples,
    spoki_headers,
    spryng_query,
)

pytestmark = pytest.mark.django_db


def post(client, account, body: bytes, headers=None, content_type="application/json"):
    return client.post(hook_path(account), data=body, content_type=content_type, headers=headers or {})


# --- addressing ---------------------------------------------------------------------------------------


def test_each_account_has_its_own_unguessable_url(client):
    a, b = make_account("qlara"), make_account("qlara")
    assert a.webhook_token != b.webhook_token and len(a.webhook_token) >= 43  # 256 bits, base64
    assert (
        a.webhook_url
        == f"https://sb.example.com/hooks/{a.webhook_token}/"
        == webhook_url_for(a.webhook_token)
    )


def test_an_unknown_token_is_a_404_and_stores_nothing(client):
    response = client.post("/hooks/" + "x" * 43 + "/", data=b"{}", content_type="application/json")
    assert response.status_code == 404
    assert WebhookEvent.objects.count() == 0


def test_head_and_bodiless_get_are_verification_pings(client):
    account = make_account("spoki", secret=SPOKI_SECRET)
    assert client.head(hook_path(account)).status_code == 200
    assert client.get(hook_path(account)).status_code == 200
    spryng = make_account("spryng")
    assert client.get(hook_path(spryng)).status_code == 200  # the portal's reachability check
    assert WebhookEvent.objects.count() == 0


def test_rotating_the_token_retires_the_old_url_at_once(client):
    from messaging.webhooks.services import rotate_webhook_token

    account = make_account("qlara")
    body = json.dumps(qlara_examples()[0]).encode()
    old = hook_path(account)
    assert client.post(old, data=body, content_type="application/json").status_code == 200  # cached now
    rotate_webhook_token(account)
    assert client.post(old, data=body, content_type="application/json").status_code == 404
    assert post(client, account, body).content == b"duplicate\n"  # the new URL works; same event
    assert WebhookEvent.objects.filter(is_original=True).count() == 1


# --- Spoki ------------------------------------------------------------------------------------------------


def test_every_documented_spoki_event_signed_v2_is_stored(client):
    account = make_account("spoki", secret=SPOKI_SECRET)
    examples = spoki_examples()
    assert len({e["event"] for e in examples.values()}) >= 25  # the catalogue's 27 minus the undocumented
    for name, payload in examples.items():
        body = json.dumps(payload).encode()
        response = post(client, account, body, spoki_headers(body))
        assert response.status_code == 200, (name, response.content)
    events = WebhookEvent.objects.filter(account=account)
    assert events.filter(status="received", is_original=True).count() + events.filter(
        status="duplicate"
    ).count() == len(examples)
    stored = set(events.values_list("event_type", flat=True))
    assert {"message.inbound", "message.outbound", "contact.created", "template.updated"} <= stored
    assert not any("whsec" in json.dumps(h) for h in events.values_list("headers", flat=True))


def test_spoki_legacy_v1_signature_is_accepted(client):
    account = make_account("spoki", secret=SPOKI_SECRET)
    body = json.dumps(spoki_examples()["webhooks_webhooks_body_content_contact_created"]).encode()
    assert post(client, account, body, spoki_headers(body, v1=True)).status_code == 200


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (lambda b: spoki_headers(b, "whsec_wrong"), "does not match"),
        (lambda b: spoki_headers(b, t=int(time.time()) - 301), "too old"),
        (lambda b: spoki_headers(b + b" "), "does not match"),  # signed another body
        (lambda b: {}, "no Spoki signature"),
        (lambda b: {"X-Spoki-Signature": "t=abc,v2="}, "Malformed"),
    ],
)
def test_forged_or_stale_spoki_requests_are_refused_recorded_and_change_nothing(client, headers, why):
    account = make_account("spoki", secret=SPOKI_SECRET)
    body = json.dumps(spoki_examples()["webhooks_webhooks_body_content_message_sent"]).encode()
    response = post(client, account, body, headers(body))
    assert response.status_code == 401
    (event,) = WebhookEvent.objects.all()
    assert (event.status, event.http_status, event.is_original) == ("failed", 401, False)
    assert why in event.error
    # A forgery holds no dedupe key: the real event still gets in afterwards.
    assert post(client, account, body, spoki_headers(body)).content == b"ok\n"


def test_a_spoki_account_without_a_secret_refuses_everything(client):
    account = make_account("spoki")
    body = json.dumps(spoki_examples()["webhooks_webhooks_body_content_message_sent"]).encode()
    response = post(client, account, body, spoki_headers(body))
    assert response.status_code == 403
    assert WebhookEvent.objects.get().error.startswith("No webhook secret")


def test_a_replayed_request_and_a_retry_with_a_new_event_id_are_duplicates(client):
    account = make_account("spoki", secret=SPOKI_SECRET)
    payload = spoki_examples()["webhooks_webhooks_body_content_message_sent"]
    body = json.dumps(payload).encode()
    headers = spoki_headers(body)
    assert post(client, account, body, headers).content == b"ok\n"
    assert post(client, account, body, headers).content == b"duplicate\n"  # the very same request
    renewed = json.dumps({**payload, "event_uuid": "11111111-2222-3333-4444-555555555555"}).encode()
    assert post(client, account, renewed, spoki_headers(renewed)).content == b"duplicate\n"
    counts = {s: WebhookEvent.objects.filter(status=s).count() for s in ("received", "duplicate")}
    assert counts == {"received": 1, "duplicate": 2}


def test_spoki_secret_map_picks_the_subscription_secret(client):
    secrets = {"message.outbound": "whsec_out", "contact.created": "whsec_contact"}
    account = make_account("spoki", secret=json.dumps(secrets))
    body = json.dumps(spoki_examples()["webhooks_webhooks_body_content_contact_created"]).encode()
    assert post(client, account, body, spoki_headers(body, "whsec_contact")).status_code == 200
    assert post(client, account, body, spoki_headers(body, "whsec_out")).status_code == 401


# --- MyOperator -----------------------------------------------------------------------------------------


def test_every_documented_myoperator_payload_is_stored(client):
    account = make_account("myoperator")  # no secret: the URL token authenticates
    examples = myoperator_examples()
    for name, body in examples.items():
        assert post(client, account, body).status_code == 200, name
    types = set(WebhookEvent.objects.values_list("event_type", flat=True))
    assert {"message.delivered", "message.read", "message.received", "message.sent"} <= types


def test_myoperator_with_a_secret_needs_the_x_webhook_token_header(client):
    account = make_account("myoperator", secret=MYOP_SECRET)
    body = myoperator_examples()["webhooks_new_message_delivered_1"]
    assert post(client, account, body).status_code == 401
    assert post(client, account, body, {"X-Webhook-Token": "guess"}).status_code == 401
    assert post(client, account, body, {"X-Webhook-Token": MYOP_SECRET}).status_code == 200
    stored = WebhookEvent.objects.get(status="received")
    assert stored.headers["X-Webhook-Token"] == "***"
    assert MYOP_SECRET not in json.dumps(list(WebhookEvent.objects.values_list("headers", flat=True)))


# --- Qlara ------------------------------------------------------------------------------------------------


def test_qlara_callbacks_single_and_batched(client):
    account = make_account("qlara")
    examples = qlara_examples()
    assert len(examples) == 4
    for example in examples:
        assert post(client, account, json.dumps(example).encode()).status_code == 200
    batch = json.dumps(examples[1:3]).encode()
    assert post(client, account, batch).status_code == 200
    assert WebhookEvent.objects.filter(status="received").count() == 5
    assert WebhookEvent.objects.filter(event_type="DELIVERY+READ").exists()


def test_qlara_with_a_secret_needs_it_as_basic_auth(client):
    account = make_account("qlara", secret="q-secret")
    body = json.dumps(qlara_examples()[0]).encode()
    assert post(client, account, body).status_code == 401
    assert post(client, account, body, {"Authorization": basic("qlara", "q-secret")}).status_code == 200


# --- Spryng -------------------------------------------------------------------------------------------------


def test_spryng_dlr_is_a_get_with_query_parameters(client):
    account = make_account("spryng")
    response = client.get(hook_path(account) + "?" + spryng_query())
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.method, event.event_type, event.status) == ("GET", "dlr", "received")
    assert "ID=91646b0b" in event.headers["QUERY_STRING"]
    # the same report for a second recipient of the same message id is another event
    assert client.get(hook_path(account) + "?" + spryng_query(RECIPIENT="31687654321")).content == b"ok\n"
    assert client.get(hook_path(account) + "?" + spryng_query()).content == b"duplicate\n"


def test_spryng_with_a_secret_needs_the_token_in_the_url(client):
    account = make_account("spryng", secret="s-token-123")
    assert client.get(hook_path(account) + "?" + spryng_query()).status_code == 401
    response = client.get(hook_path(account) + "?" + spryng_query(token="s-token-123"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get(status="received")
    assert "s-token-123" not in event.headers["QUERY_STRING"]


def test_spryng_inbound_sms_is_a_form_post(client):
    from urllib.parse import urlencode

    account = make_account("spryng")
    response = client.post(
        hook_path(account), data=urlencode(SPRYNG_MO), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().event_type == "mo"


# --- malformed and oversized ------------------------------------------------------------------------------


def test_malformed_json_is_stored_and_answered_400(client):
    account = make_account("qlara")
    response = post(client, account, b'{"eventType": "DELIVERY", "messageId": ')
    assert response.status_code == 400
    event = WebhookEvent.objects.get()
    assert (event.status, event.http_status) == ("failed", 400)
    assert event.body.startswith('{"eventType"') and "Malformed" in event.error


def test_an_oversized_body_is_kept_truncated_and_refused(client, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    account = make_account("qlara")
    response = post(client, account, b'{"x": "' + b"a" * 500 + b'"}')
    assert response.status_code == 413
    assert len(WebhookEvent.objects.get().body) == 100


def test_a_wrong_method_is_refused_without_storing(client):
    account = make_account("qlara")
    assert client.put(hook_path(account), data=b"{}", content_type="application/json").status_code == 405
    assert WebhookEvent.objects.count() == 0


def test_the_wsgi_front_answers_like_the_view(db):
    """config.wsgi serves /hooks/ before Django's middleware; same receiver, same answers."""
    import io

    from config.wsgi import application

    account = make_account("qlara")
    body = json.dumps(qlara_examples()[0]).encode()
    answers = []

    def call(path, data=b"", method="POST"):
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data), "SERVER_NAME": "testserver",
            "SERVER_PORT": "80", "wsgi.url_scheme": "http",
        }  # fmt: skip
        chunks = application(environ, lambda status, headers: answers.append(status))
        return answers[-1], b"".join(chunks)

    assert call(hook_path(account), body) == ("200 OK", b"ok\n")
    assert call(hook_path(account), body) == ("200 OK", b"duplicate\n")
    assert call("/hooks/nope/", body)[0] == "404 Not Found"
    assert WebhookEvent.objects.count() == 2


def test_dedupe_key_ignores_the_provider_event_id_for_message_events():
    from messaging.providers.base import DeliveryUpdate, WebhookRead

    a = WebhookRead(
        "message.delivered", "ev-1", [DeliveryUpdate("m1", "delivered", to="+39333", event_id="ev-1")]
    )
    b = WebhookRead(
        "message.delivered", "ev-2", [DeliveryUpdate("m1", "delivered", to="+39333", event_id="ev-2")]
    )
    c = WebhookRead("message.read", "ev-3", [DeliveryUpdate("m1", "read", to="+39333")])
    assert dedupe_key(a, b"1") == dedupe_key(b, b"2") != dedupe_key(c, b"1")
    assert dedupe_key(WebhookRead("contact.updated", "u-1"), b"x") == "e:contact.updated:u-1"
    assert dedupe_key(WebhookRead("x"), b"x").startswith("b:")


def test_receive_webhook_answers_without_django(db):
    account = make_account("myoperator")
    body = myoperator_examples()["webhooks_new_message_read_1"]
    answer = receive_webhook(account.webhook_token, "POST", {"Content-Type": "application/json"}, body)
    assert answer.status == 200 and answer.event_id == WebhookEvent.objects.get().pk

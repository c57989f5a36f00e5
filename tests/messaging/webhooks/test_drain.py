"""The drainer and the effects: statuses forward only, inbound conversations, keywords, crash safety."""

from __future__ import annotations

import datetime as dt
import json
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import Contact
from messaging.models import Message, WebhookEvent
from messaging.providers.base import DeliveryUpdate
from messaging.sending import queue_message
from messaging.status import apply_delivery_update
from messaging.webhooks import drain
from messaging.webhooks.drain import drain_webhook_events, reprocess_webhook_events

from .helpers import (
    SPOKI_SECRET,
    SPRYNG_MO,
    hook_path,
    make_account,
    myoperator_examples,
    qlara_examples,
    spoki_examples,
    spoki_headers,
    spryng_query,
)

pytestmark = pytest.mark.django_db


def post(client, account, payload, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(hook_path(account), data=body, content_type="application/json", headers=headers or {})


def sent_message(account, *, phone, remote_id, reference=None, campaign=None, contact=None):
    message = queue_message(
        account, channel="whatsapp", phone=phone, contact=contact, text="Ciao", campaign=campaign
    )
    update = DeliveryUpdate(remote_message_id=remote_id, status="sent", reference=message.reference,
                            occurred_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))  # fmt: skip
    apply_delivery_update(account, update)
    message.refresh_from_db()
    return message


# --- delivery updates ---------------------------------------------------------------------------------


def test_myoperator_delivery_events_move_our_message_forward_once(client):
    account = make_account("myoperator")
    examples = myoperator_examples()
    delivered = json.loads(examples["webhooks_new_message_delivered_1"])
    remote_id = delivered["payload"]["id"]
    phone = "+" + str(delivered.get("customer_identifier") or "").lstrip("+")
    message = sent_message(account, phone=phone if len(phone) > 5 else "+919999999999", remote_id=remote_id)
    read = json.loads(examples["webhooks_new_message_read_1"])
    read["payload"]["id"] = remote_id
    post(client, account, read)
    post(client, account, delivered)  # late: must not downgrade read
    post(client, account, delivered)  # a retry: a duplicate, never applied
    counts = drain_webhook_events()
    assert counts == {"processed": 2}
    message.refresh_from_db()
    assert message.status == "read" and message.delivered_at is not None
    assert WebhookEvent.objects.filter(status="duplicate").count() == 1
    outcomes = [
        e.outcome["deliveries"] for e in WebhookEvent.objects.filter(status="processed").order_by("id")
    ]
    assert outcomes[0] == {"applied": 1}


def test_spryng_reports_match_on_message_id_plus_recipient(client):
    account = make_account("spryng")
    a = sent_message(account, phone="+31612345678", remote_id="91646b0b-b425-4e98-bb53-8c545873eec0")
    b = sent_message(account, phone="+31687654321", remote_id="91646b0b-b425-4e98-bb53-8c545873eec0")
    client.get(hook_path(account) + "?" + spryng_query(REFERENCE=""))
    client.get(
        hook_path(account)
        + "?"
        + spryng_query(RECIPIENT="31687654321", STATUS="20", REASONCODE="21", REFERENCE="")
    )
    drain_webhook_events()
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("delivered", "failed")
    assert b.error_code == "21" and "incorrect" in b.error_message


STATUS_EVENTS = ["sent", "delivered", "read", "delivered", "sent"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(5)))
def test_any_order_of_the_same_events_gives_the_same_final_state(client, order):
    """Property: Spoki message.outbound events (sent/delivered/read and retries) in any order → read."""
    WebhookEvent.objects.all().delete()
    Message.objects.all().delete()
    account = make_account("spoki", secret=SPOKI_SECRET)
    base = spoki_examples()["webhooks_webhooks_body_content_message_sent"]
    message = sent_message(account, phone="+393331234567", remote_id=base["data"]["uuid"])
    words = {"sent": "Sent", "delivered": "Delivered", "read": "Read"}
    for i in order:
        status = STATUS_EVENTS[i]
        payload = {**base, "event_uuid": f"ev-{i}",
                   "data": {**base["data"], "send_status": words[status], "to_phone": "+393331234567"}}  # fmt: skip
        body = json.dumps(payload).encode()
        assert post(client, account, body, spoki_headers(body)).status_code == 200
    drain_webhook_events()
    message.refresh_from_db()
    assert message.status == "read" and message.delivered_at and message.read_at
    assert WebhookEvent.objects.filter(status="duplicate").count() == 2  # the two retries


def test_unknown_event_types_are_kept_as_ignored(client):
    account = make_account("spoki", secret=SPOKI_SECRET)
    for name in ("channel_activation", "note_added", "campaign_created", "chat_has_unread_messages"):
        body = json.dumps(spoki_examples()[f"webhooks_webhooks_body_content_{name}"]).encode()
        post(client, account, body, spoki_headers(body))
    assert drain_webhook_events() == {"ignored": 4}
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"ignored"}


def test_every_documented_event_drains_without_failure(client):
    spoki = make_account("spoki", secret=SPOKI_SECRET, settings={})
    for payload in spoki_examples().values():
        if payload["event"].startswith(("contact", "template")):
            continue  # they start a sync: covered below against the fake
        body = json.dumps(payload).encode()
        post(client, spoki, body, spoki_headers(body))
    myop = make_account("myoperator")
    for body in myoperator_examples().values():
        post(client, myop, body)
    qlara = make_account("qlara")
    for payload in qlara_examples():
        post(client, qlara, payload)
    counts = drain_webhook_events()
    assert "failed" not in counts and counts["processed"] > 10 and counts["ignored"] > 5
    assert not WebhookEvent.objects.filter(status="received").exists()


# --- crash safety --------------------------------------------------------------------------------------


class WorkerDied(BaseException):
    """What a killed process looks like to the code that was running (nothing catches it)."""


def test_a_crash_mid_batch_leaves_every_event_and_processes_each_once_on_retry(client, monkeypatch):
    account = make_account("qlara")
    messages = [sent_message(account, phone=f"+39333000000{i}", remote_id=f"q-{i}") for i in range(3)]
    for i in range(3):
        post(client, account, {"eventType": "DELIVERY", "channel": "SMS", "messageId": f"q-{i}", "statusCode": 3,
                               "statusDescription": "DELIVERED", "timestamp": "2024-01-15T10:30:00Z"})  # fmt: skip
    real = drain.apply_read
    calls = []

    def dies_on_the_third(account, read, context, deliveries=None):
        calls.append(1)
        if len(calls) == 3:
            raise WorkerDied
        return real(account, read, context, deliveries)

    monkeypatch.setattr(drain, "apply_read", dies_on_the_third)
    with pytest.raises(WorkerDied):
        drain_webhook_events()
    # the whole batch rolled back: effects and marks alike
    assert WebhookEvent.objects.filter(status="received").count() == 3
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in messages])} == {"sent"}
    monkeypatch.setattr(drain, "apply_read", real)
    assert drain_webhook_events() == {"processed": 3}
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in messages])} == {"delivered"}
    assert drain_webhook_events() == {}


def test_an_effect_that_raises_marks_the_event_failed_and_it_is_retried(client, monkeypatch):
    account = make_account("qlara")
    message = sent_message(account, phone="+393330000009", remote_id="q-9")
    post(client, account, {"eventType": "DELIVERY", "channel": "SMS", "messageId": "q-9", "statusCode": 3})
    real = drain.apply_read
    monkeypatch.setattr(
        drain, "apply_read", lambda *a: (_ for _ in ()).throw(RuntimeError("database hiccup"))
    )
    assert drain_webhook_events() == {"failed": 1}
    event = WebhookEvent.objects.get()
    assert event.status == "failed" and "database hiccup" in event.error and event.attempts == 1
    monkeypatch.setattr(drain, "apply_read", real)
    # retried automatically once the pause has passed
    later = event.processed_at + dt.timedelta(minutes=2)
    assert drain.requeue_failed(now=later) == 1
    assert drain_webhook_events() == {"processed": 1}
    message.refresh_from_db()
    assert message.status == "delivered"


def test_reprocess_runs_an_event_again_without_counting_twice(client):
    account = make_account("qlara")
    message = sent_message(account, phone="+393330000008", remote_id="q-8")
    post(client, account, {"eventType": "DELIVERY", "channel": "SMS", "messageId": "q-8", "statusCode": 3,
                           "timestamp": "2024-01-15T10:30:00Z"})  # fmt: skip
    post(client, account, b"{not json")
    drain_webhook_events()
    queued, skipped = reprocess_webhook_events(WebhookEvent.objects.all())
    assert (queued, skipped) == (1, 1)  # the malformed request is never applied
    assert drain_webhook_events() == {"processed": 1}
    event = WebhookEvent.objects.get(status="processed")
    assert event.outcome["deliveries"] == {"duplicate": 1} and event.attempts == 2
    message.refresh_from_db()
    assert message.status == "delivered"


# --- inbound ----------------------------------------------------------------------------------------------


def test_an_inbound_message_creates_the_contact_and_joins_the_conversation(client):
    from contacts.events import ContactEvent

    account = make_account("qlara")
    inbound = next(e for e in qlara_examples() if e["eventType"] == "INBOUND")
    post(client, account, inbound)
    post(client, account, inbound)  # a retry
    drain_webhook_events()
    contact = Contact.objects.get(phone=inbound["source"])
    (message,) = Message.objects.filter(direction="inbound")
    assert (message.contact, message.text, message.status, message.phone) == (
        contact,
        "User reply message",
        "received",
        "+393471488489",
    )
    assert ContactEvent.objects.filter(kind="contact_created", contact=contact, source="inbound").count() == 1
    assert ContactEvent.objects.filter(kind="inbound_message", contact=contact).count() == 1


def test_a_reply_after_a_campaign_message_counts_as_replied(client):
    from campaigns.models import Campaign
    from messaging.stats import campaign_totals

    account = make_account("myoperator")
    received = json.loads(myoperator_examples()["webhooks_new_message_received_1"])
    from messaging.providers.myoperator.webhooks import parse

    (inbound,) = parse({}, json.dumps(received).encode())
    contact = Contact.objects.create(phone=inbound.from_phone)
    campaign = Campaign.objects.create(name="Spring sale", account=account, text="x")
    outbound = queue_message(account, channel="whatsapp", contact=contact, text="Offer", campaign=campaign)
    apply_delivery_update(
        account, DeliveryUpdate(remote_message_id="o-1", status="sent", reference=outbound.reference)
    )
    Message.objects.filter(pk=outbound.pk).update(created_at=inbound.received_at - dt.timedelta(hours=2))
    post(client, account, received)
    drain_webhook_events()
    outbound.refresh_from_db()
    assert outbound.replied_at is not None
    assert campaign_totals(campaign.pk)["replied"] == 1


@pytest.mark.parametrize("text", ["STOP", "stop", " Arresta! ", "stop all", "CANCELLAMI", "Unsubscribe"])
def test_opt_out_keywords_opt_the_contact_out_with_the_message_as_source(client, text):
    account = make_account("spryng")
    client.post(hook_path(account), data=urlencode({**SPRYNG_MO, "KEYWORD": text, "PARM": ""}),
                content_type="application/x-www-form-urlencoded")  # fmt: skip
    drain_webhook_events()
    contact = Contact.objects.get(phone="+31612345678")
    message = Message.objects.get(direction="inbound")
    assert contact.opted_out and f"#{message.pk}" in contact.opted_out_reason


def test_start_opts_back_in_and_the_keywords_are_configurable(client, settings):
    account = make_account("spryng")
    Contact.objects.create(phone="+31612345678", opted_out=True, opted_out_reason="old")
    client.post(hook_path(account), data=urlencode({**SPRYNG_MO, "KEYWORD": "START", "TIMESTAMP": "20240102030410"}),
                content_type="application/x-www-form-urlencoded")  # fmt: skip
    drain_webhook_events()
    assert not Contact.objects.get().opted_out
    settings.INBOUND_OPT_IN_KEYWORDS = []
    settings.INBOUND_OPT_OUT_KEYWORDS = ["BASTA"]
    for stamp, word in (("20240102030411", "STOP"), ("20240102030412", "BASTA"), ("20240102030413", "START")):
        client.post(hook_path(account), data=urlencode({**SPRYNG_MO, "KEYWORD": word, "TIMESTAMP": stamp}),
                    content_type="application/x-www-form-urlencoded")  # fmt: skip
        drain_webhook_events()
        expected = {"STOP": False, "BASTA": True, "START": True}[word]
        assert Contact.objects.get().opted_out is expected, word


def test_spoki_inbound_repeats_update_one_row(client):
    account = make_account("spoki", secret=SPOKI_SECRET)
    payload = spoki_examples()["webhooks_webhooks_body_content_message_received_message_image_received"]
    body = json.dumps(payload).encode()
    post(client, account, body, spoki_headers(body))
    again = json.loads(body)
    again["data"]["text"] = "with a caption now"
    body2 = json.dumps(again).encode()
    post(client, account, body2, spoki_headers(body2))
    drain_webhook_events()
    assert Message.objects.filter(direction="inbound").count() == 1
    assert Message.objects.get(direction="inbound").text == "with a caption now"


def test_spoki_contact_events_go_through_a_sync_pull(client, serve_fake, django_capture_on_commit_callbacks):
    from messaging.sync.models import SyncRun
    from tests.fakes.spoki import SpokiFake

    server = serve_fake(SpokiFake(api_key="k"))
    account = make_account("spoki", secret=SPOKI_SECRET)
    account.base_url = server.url
    account.save(update_fields=["base_url"])
    for name in ("contact_created", "contact_updated", "contact_tag_created"):
        body = json.dumps(spoki_examples()[f"webhooks_webhooks_body_content_{name}"]).encode()
        post(client, account, body, spoki_headers(body))
    with django_capture_on_commit_callbacks(execute=True):
        assert drain_webhook_events() == {"processed": 3}
    runs = SyncRun.objects.filter(account=account)
    assert runs.count() == 1  # one pull for the batch, through the engine's rules
    run = runs.get()
    assert (run.resource, run.direction, run.status) == ("contacts", "pull", "succeeded")
    change = WebhookEvent.objects.filter(event_type="contact.created").get().outcome["changes"][0]
    assert change["sync"] == "pull" and change["remote_id"]


def test_drain_time_budget_stops_between_batches(client):
    account = make_account("qlara")
    for i in range(5):
        post(client, account, {"eventType": "DELIVERY", "messageId": f"x-{i}", "statusCode": 3})
    started = time.monotonic()
    counts = drain_webhook_events(batch_size=2, max_seconds=0)
    assert counts == {"processed": 2, "more": True} and time.monotonic() - started < 5
    assert drain_webhook_events(batch_size=2) == {"processed": 3}

"""The sending service: row first, claim before the call, unknown outcomes never resent."""

from __future__ import annotations

import pytest

from messaging.models import Message, ProviderAccount, SandboxObject
from messaging.providers.errors import Unavailable
from messaging.providers.sandbox import SandboxProvider
from messaging.sending import (
    SendRefused,
    dispatch,
    outbound_for,
    queue_message,
    resolve_stale_dispatches,
    send_message,
)
from messaging.stats import campaign_totals
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return ProviderAccount.objects.create(provider="sandbox", name="Sandbox", settings={"seed": "s1"})


def test_send_message_for_one_contact(account):
    contact = ContactFactory()
    m = send_message(account, channel="sms", contact=contact, text="Ciao Anna")
    assert m.status == "sent" and m.provider_message_id and m.price is not None
    assert SandboxObject.objects.filter(kind="message").count() == 1
    totals = campaign_totals(0)
    assert (totals["created"], totals["sent"], totals["queued"]) == (1, 1, 0)


@pytest.mark.parametrize("flag", ["opted_out", "blocked"])
def test_opted_out_and_blocked_are_refused_before_writing(account, flag):
    contact = ContactFactory(**{flag: True})
    with pytest.raises(SendRefused):
        send_message(account, channel="sms", contact=contact, text="x")
    assert not Message.objects.exists()


def test_batches_go_in_one_call_each(account, monkeypatch):
    calls = []
    real = SandboxProvider.send_batch
    monkeypatch.setattr(
        SandboxProvider, "send_batch", lambda self, ms: calls.append(len(ms)) or real(self, ms)
    )
    messages = [
        queue_message(account, channel="sms", phone=f"+3933300000{i:02d}", text="Same") for i in range(60)
    ]
    report = dispatch(messages)
    assert report.sent == 60 and calls == [50, 10]
    assert Message.objects.filter(status="sent").count() == 60


def test_dispatch_twice_sends_once(account):
    m = queue_message(account, channel="sms", phone="+393330000001", text="x")
    dispatch([m])
    dispatch([Message.objects.get(pk=m.pk)])
    assert SandboxObject.objects.filter(kind="message").count() == 1


def test_timeout_after_the_request_left_is_looked_up_not_resent(account, monkeypatch):
    m = queue_message(account, channel="sms", phone="+393330000001", text="x")
    real = SandboxProvider.send

    def send_then_time_out(self, message):
        real(self, message)  # the provider got it …
        raise Unavailable("Sandbox unreachable: timeout after 30 s")  # … but the answer was lost

    monkeypatch.setattr(SandboxProvider, "send", send_then_time_out)
    report = dispatch([m])
    m.refresh_from_db()
    assert m.status == "sent" and m.provider_message_id  # found by our reference
    assert report.sent == 1 and SandboxObject.objects.filter(kind="message").count() == 1


def test_unknown_when_the_provider_cannot_be_asked(account, monkeypatch):
    m = queue_message(account, channel="sms", phone="+393330000001", text="x")
    monkeypatch.setattr(
        SandboxProvider, "send", lambda self, msg: (_ for _ in ()).throw(Unavailable("timeout"))
    )
    monkeypatch.setattr(
        SandboxProvider, "lookup_message", lambda self, ref, to="": (_ for _ in ()).throw(Unavailable("down"))
    )
    dispatch([m])
    m.refresh_from_db()
    assert m.status == "unknown" and campaign_totals(0)["unknown"] == 1
    dispatch([m])  # never again
    assert Message.objects.get().status == "unknown"


def test_worker_died_between_claim_and_record(account):
    """A claimed row with no outcome (the worker died): resolved by lookup, never sent twice."""
    m = queue_message(account, channel="sms", phone="+393330000001", text="x")
    account.get_provider().send(outbound_for(m))
    Message.objects.filter(pk=m.pk).update(dispatched_at="2020-01-01T00:00:00Z")
    assert dispatch([Message.objects.get(pk=m.pk)]).sent == 0  # already claimed: left alone
    assert resolve_stale_dispatches() == 1
    m.refresh_from_db()
    assert m.status == "sent"
    assert SandboxObject.objects.filter(kind="message").count() == 1


def test_batched_sends_record_one_status_event_per_message(account):
    from contacts.events import ContactEvent
    from messaging.providers.base import DeliveryUpdate
    from messaging.status import apply_delivery_update

    contacts = [ContactFactory() for _ in range(12)]
    messages = [queue_message(account, channel="sms", contact=c, text="Same for all") for c in contacts]
    assert dispatch(messages).sent == 12
    events = ContactEvent.objects.filter(kind="message_status")
    assert events.count() == 12
    assert sorted(e.data["message_id"] for e in events) == sorted(m.pk for m in messages)
    m = Message.objects.get(pk=messages[0].pk)
    update = DeliveryUpdate(
        remote_message_id=m.provider_message_id, status="delivered", reference=m.reference
    )
    apply_delivery_update(account, update)
    apply_delivery_update(account, update)
    assert events.filter(data__status="delivered").count() == 1


def test_a_webhook_between_the_call_and_the_record_is_kept_and_counted_once(account, monkeypatch):
    """The optimistic record sees a row moved since the claim, rolls back and records under locks."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging.providers.base import DeliveryUpdate
    from messaging.status import apply_delivery_update
    from tests.messaging.test_status import assert_stats_match

    contacts = [ContactFactory() for _ in range(5)]
    messages = [queue_message(account, channel="sms", contact=c, text="Same for all") for c in contacts]
    real = SandboxProvider.send_batch

    def fast_receipt(self, outbound):
        results = real(self, outbound)
        # the provider's "delivered" for the first recipient arrives before we record the call
        update = DeliveryUpdate(remote_message_id=results[0].remote_id, status="delivered",
                                reference=outbound[0].reference)  # fmt: skip
        assert apply_delivery_update(account, update).outcome == "applied"
        return results

    monkeypatch.setattr(SandboxProvider, "send_batch", fast_receipt)
    assert dispatch(messages).sent == 5
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {m.pk: ("delivered" if m is messages[0] else "sent") for m in messages}
    first = Message.objects.get(pk=messages[0].pk)
    assert [(h["status"], h["applied"]) for h in first.status_history] == [
        ("delivered", True),
        ("sent", False),
    ]
    assert_stats_match()

    # Nobody in between: claim, call, then one UPDATE, one counter upsert, one events INSERT.
    monkeypatch.setattr(SandboxProvider, "send_batch", real)
    more = [queue_message(account, channel="sms", contact=c, text="Again") for c in contacts]
    with CaptureQueriesContext(connection) as queries:
        assert dispatch(more).sent == 5
    ours = [q["sql"].split(None, 1)[0].upper() for q in queries if "sandboxobject" not in q["sql"]
            and "SAVEPOINT" not in q["sql"].upper()]  # fmt: skip
    assert ours == ["UPDATE", "UPDATE", "INSERT", "INSERT"], ours
    assert set(Message.objects.filter(pk__in=[m.pk for m in more]).values_list("status", flat=True)) == {
        "sent"
    }
    assert_stats_match()

"""The status service: forward only, idempotent, counters equal to a count over the rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import Message, ProviderAccount
from messaging.providers.base import STATUS_RANK, DeliveryUpdate, MessageStatus
from messaging.sending import queue_message
from messaging.stats import FUNNEL_OF, campaign_totals
from messaging.status import Outcome, apply_delivery_update, mark_replied
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def account():
    return ProviderAccount.objects.create(provider="sandbox", name="Sandbox", settings={"seed": "s1"})


def make_message(account, phone="+393331112222", **kw):
    message = queue_message(account, channel="sms", phone=phone, text="Ciao", **kw)
    return mark_sent(account, message, "pm-1")


def mark_sent(account, message, remote_id):
    """As the sending service records an accepted call (through the same status service)."""
    sent = DeliveryUpdate(
        remote_message_id=remote_id,
        status="sent",
        occurred_at=T0 - dt.timedelta(seconds=1),
        reference=message.reference,
    )
    assert apply_delivery_update(account, sent).outcome == Outcome.APPLIED
    message.refresh_from_db()
    return message


def totals_from_rows(account_id=None):
    """The truth: a count over the message rows (what the counters must always equal)."""
    counts = Counter()
    rows = Message.objects.filter(direction="outbound")
    for m in rows:
        counts[FUNNEL_OF[m.status]] += 1
        counts["delivered"] += m.status in ("delivered", "read") or bool(m.delivered_at)
        counts["read"] += m.status == "read"
        counts["replied"] += bool(m.replied_at)
        counts["created"] += 1
    return counts


def assert_stats_match():
    from django.db.models import Sum

    from messaging.models import MessageStat

    truth = totals_from_rows()
    got = {r["metric"]: r["n"] for r in MessageStat.objects.values("metric").annotate(n=Sum("count"))}
    for metric in (
        "queued",
        "sent",
        "failed",
        "unknown",
        "skipped",
        "delivered",
        "read",
        "replied",
        "created",
    ):
        assert got.get(metric, 0) == truth.get(metric, 0), metric
    failed_reasons = sum(n for m, n in got.items() if m == "failed_reason")
    assert failed_reasons == truth.get("failed", 0)


def upd(status, at=None, **kw):
    return DeliveryUpdate(remote_message_id=kw.pop("rid", "pm-1"), status=status, occurred_at=at or T0, **kw)


def test_late_delivered_never_overwrites_read(account):
    make_message(account)
    assert (
        apply_delivery_update(account, upd("read", T0 + dt.timedelta(minutes=2))).outcome == Outcome.APPLIED
    )
    result = apply_delivery_update(account, upd("delivered", T0 + dt.timedelta(minutes=1)))
    assert result.outcome == Outcome.RECORDED
    m = Message.objects.get()
    assert m.status == "read"
    assert m.delivered_at == T0 + dt.timedelta(minutes=2)  # read implies it was delivered
    assert [h["status"] for h in m.status_history][-2:] == ["read", "delivered"]
    assert_stats_match()


def test_failed_after_delivered_is_history_only(account):
    make_message(account)
    apply_delivery_update(account, upd("delivered"))
    result = apply_delivery_update(account, upd("failed", T0 + dt.timedelta(hours=1), error_code="30008"))
    assert result.outcome == Outcome.RECORDED
    m = Message.objects.get()
    assert m.status == "delivered" and m.failed_at is None
    assert m.status_history[-1] == {**m.status_history[-1], "status": "failed", "applied": False}
    assert_stats_match()


def test_same_update_twice_counts_once(account):
    make_message(account)
    assert apply_delivery_update(account, upd("delivered", event_id="e1")).outcome == Outcome.APPLIED
    assert apply_delivery_update(account, upd("delivered", event_id="e1")).outcome == Outcome.DUPLICATE
    assert campaign_totals(0)["delivered"] == 1
    assert [h["status"] for h in Message.objects.get().status_history] == ["sent", "delivered"]
    assert_stats_match()


def test_match_by_reference_first_then_provider_id_and_recipient(account):
    a = queue_message(account, channel="sms", phone="+393330000001", text="x")
    b = queue_message(account, channel="sms", phone="+393330000002", text="x")
    # One provider id covers both (a batch call), and the call carried a's reference.
    mark_sent(account, a, "batch-9")
    mark_sent(account, b, "batch-9")
    r = apply_delivery_update(
        account, upd("delivered", rid="batch-9", reference=a.reference, to="393330000002")
    )
    assert r.message.pk == b.pk  # the reference named a, but the recipient is b's
    r = apply_delivery_update(account, upd("read", rid="zzz", reference=a.reference))
    assert r.message.pk == a.pk
    assert (
        apply_delivery_update(account, upd("read", rid="batch-9")).outcome == Outcome.NOT_FOUND
    )  # ambiguous
    other = ProviderAccount.objects.create(provider="sandbox", name="Other")
    assert apply_delivery_update(other, upd("read", reference=a.reference)).outcome == Outcome.NOT_FOUND
    assert_stats_match()


def test_failure_records_code_words_and_price(account):
    make_message(account)
    r = apply_delivery_update(
        account,
        upd(
            "failed",
            error_code="63016",
            error_message="Outside the 24 h window",
            price=Decimal("0.04"),
            currency="EUR",
        ),
    )
    assert r.outcome == Outcome.APPLIED
    m = r.message
    assert (m.error_code, m.error, m.price) == ("63016", "Outside the 24 h window (63016)", Decimal("0.04"))
    assert campaign_totals(0)["cost"] == Decimal("0.04")
    assert apply_delivery_update(account, upd("failed", price=Decimal("0.04"))).outcome == Outcome.DUPLICATE
    assert campaign_totals(0)["cost"] == Decimal("0.04")
    assert_stats_match()


def test_unknown_status_is_refused(account):
    make_message(account)
    assert apply_delivery_update(account, upd("exploded")).outcome == Outcome.INVALID


def test_mark_replied_counts_once(account):
    from campaigns.models import Campaign

    contact = ContactFactory()
    campaign = Campaign.objects.create(name="C", account=account, text="x")
    m = queue_message(account, channel="sms", contact=contact, text="x", campaign=campaign)
    mark_sent(account, m, "r-1")
    assert mark_replied(account, contact).pk == m.pk
    assert mark_replied(account, contact) is None
    assert campaign_totals(campaign.pk)["replied"] == 1
    assert_stats_match()


STATUSES = ["sent", "delivered", "read", "failed", "unknown", "queued"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    updates=st.lists(st.tuples(st.sampled_from(STATUSES), st.integers(0, 600)), min_size=1, max_size=12),
    seed=st.integers(0, 10_000),
)
def test_statuses_are_monotonic_under_shuffled_updates(account, updates, seed):
    """Whatever order updates arrive in (and however often), the end state is the highest rank seen."""
    Message.objects.all().delete()
    from messaging.models import MessageStat

    MessageStat.objects.all().delete()
    make_message(account)
    events = [upd(s, T0 + dt.timedelta(seconds=sec)) for s, sec in updates]
    shuffled = events + events[: len(events) // 2]  # duplicates too
    random.Random(seed).shuffle(shuffled)
    seen_ranks = []
    for event in shuffled:
        apply_delivery_update(account, event)
        m = Message.objects.get()
        seen_ranks.append(STATUS_RANK[MessageStatus(m.status)])
        assert seen_ranks == sorted(seen_ranks)  # never backwards, at any step
    m = Message.objects.get()
    best = max([2, *(STATUS_RANK[MessageStatus(s)] for s, _ in updates)])
    assert STATUS_RANK[MessageStatus(m.status)] == best
    if any(s in ("delivered", "read") for s, _ in updates) and m.status != "failed":
        assert m.delivered_at is not None
    assert_stats_match()

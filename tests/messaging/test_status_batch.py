"""The status service's batch path: the same rules as one update at a time, in a few statements.

Property: any mix of updates (shuffled, duplicated, split into random batches) leaves every
message exactly where applying them one by one leaves it, never moves a status backwards, and
keeps the counters equal to a count over the message rows. On PostgreSQL: two appliers racing
over the same messages lose nothing and never deadlock.
"""

from __future__ import annotations

import datetime as dt
import random
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import Message, MessageStat, ProviderAccount
from messaging.providers.base import STATUS_RANK, DeliveryUpdate, MessageStatus
from messaging.sending import queue_message
from messaging.status import Outcome, apply_delivery_update_results, apply_delivery_updates
from tests.factories import ContactFactory

from .test_status import T0, assert_stats_match

PHONES = ["+393330000001", "+393330000002", "+393330000003", "+393330000004"]
# Message i's provider id: the last two share one (a Spryng batch id covers several recipients).
PIDS = ["pm-a", "pm-b", "pm-shared", "pm-shared"]
STATUSES = ["sent", "delivered", "read", "failed", "unknown", "queued"]


def sent_messages(account, contacts=None) -> list[Message]:
    messages = []
    for i, phone in enumerate(PHONES):
        contact = contacts[i] if contacts else None
        m = queue_message(account, channel="sms", phone=phone, contact=contact, text="Ciao")
        apply_delivery_updates(account, [DeliveryUpdate(remote_message_id=PIDS[i], status="sent", reference=m.reference,
                                                        occurred_at=T0 - dt.timedelta(seconds=1))])  # fmt: skip
        messages.append(m)
    return messages


def update_for(i: int, status: str, seconds: int, reference: str = "") -> DeliveryUpdate:
    return DeliveryUpdate(
        remote_message_id=PIDS[i], status=status, occurred_at=T0 + dt.timedelta(seconds=seconds),
        to=PHONES[i] if PIDS[i] == "pm-shared" else "", reference=reference,
        error_code="30008" if status == "failed" else "",
    )  # fmt: skip


def state(account) -> list[tuple]:
    return [
        (m.phone, m.status, m.sent_at, m.delivered_at, m.read_at, m.failed_at, m.error_code,
         [(h["status"], h["at"], h["applied"]) for h in m.status_history])
        for m in Message.objects.filter(account=account).order_by("phone")
    ]  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    updates=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(STATUSES), st.integers(0, 600)), min_size=1, max_size=25
    ),
    seed=st.integers(0, 10_000),
)
@pytest.mark.django_db
def test_batches_end_where_one_by_one_ends_and_counters_match_the_rows(updates, seed):
    Message.objects.all().delete()
    MessageStat.objects.all().delete()
    ProviderAccount.objects.all().delete()
    rng = random.Random(seed)
    batched = ProviderAccount.objects.create(provider="sandbox", name=f"Batched {seed}")
    single = ProviderAccount.objects.create(provider="sandbox", name=f"One by one {seed}")
    sent_messages(batched)
    sent_messages(single)
    events = [update_for(i, s, sec) for i, s, sec in updates]
    stream = events + [rng.choice(events) for _ in range(len(events) // 2)]  # duplicates too
    rng.shuffle(stream)

    for event in stream:
        apply_delivery_updates(single, [event])
    seen = {m.phone: [STATUS_RANK[MessageStatus(m.status)]] for m in Message.objects.filter(account=batched)}
    position = 0
    while position < len(stream):  # random batch sizes, a message often twice in one batch
        size = rng.randint(1, 8)
        apply_delivery_updates(batched, stream[position : position + size])
        position += size
        for m in Message.objects.filter(account=batched):
            seen[m.phone].append(STATUS_RANK[MessageStatus(m.status)])
    assert all(ranks == sorted(ranks) for ranks in seen.values())  # never backwards, after any batch

    assert state(batched) == state(single)
    for i, m in enumerate(Message.objects.filter(account=batched).order_by("phone")):
        reached = [STATUS_RANK[MessageStatus(s)] for j, s, _ in updates if j == i]
        assert STATUS_RANK[MessageStatus(m.status)] == max([2, *reached])
    assert_stats_match()
    # Idempotent: the whole stream again, in one batch, changes nothing.
    before = state(batched)
    assert set(apply_delivery_updates(batched, stream)) == {Outcome.DUPLICATE.value}
    assert state(batched) == before
    assert_stats_match()


@pytest.mark.django_db
def test_a_batch_matches_reference_first_then_provider_id_and_recipient():
    account = ProviderAccount.objects.create(provider="sandbox", name="S")
    a, b, c, d = sent_messages(account)
    results = apply_delivery_update_results(account, [
        update_for(0, "delivered", 5, reference=a.reference),
        DeliveryUpdate(remote_message_id="nobody-knows", status="read", reference=b.reference),  # by reference
        DeliveryUpdate(remote_message_id="pm-shared", status="read"),  # two recipients, no phone: ambiguous
        update_for(3, "failed", 7),  # the shared id plus the recipient: exactly one
        DeliveryUpdate(remote_message_id="pm-a", status="exploded"),
        DeliveryUpdate(remote_message_id="pm-zzz", status="read"),
    ])  # fmt: skip
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.APPLIED, Outcome.NOT_FOUND, Outcome.APPLIED,
                                            Outcome.INVALID, Outcome.NOT_FOUND]  # fmt: skip
    assert [r.message.pk for r in results if r.message] == [a.pk, b.pk, d.pk]
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {a.pk: "delivered", b.pk: "read", c.pk: "sent", d.pk: "failed"}
    other = ProviderAccount.objects.create(provider="sandbox", name="Other")
    assert apply_delivery_updates(other, [update_for(0, "read", 9, reference=a.reference)]) == {
        "not_found": 1
    }
    assert_stats_match()


@pytest.mark.django_db
def test_a_batch_costs_the_same_few_statements_whatever_its_size():
    account = ProviderAccount.objects.create(provider="sandbox", name="S")
    contacts = ContactFactory.create_batch(4)
    sent_messages(account, contacts)
    updates = [update_for(i % 4, s, n) for n, (i, s) in enumerate((i, s) for s in ("delivered", "read") for i in
                                                                    range(40))]  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        counts = apply_delivery_updates(account, updates)
    assert counts == {"applied": 8, "recorded": 72}
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"].upper()]
    # SELECT … FOR UPDATE, UPDATE … FROM (VALUES …), the counters' upsert, the status events' INSERT
    assert len(statements) == 4, statements
    assert statements[0].startswith("SELECT") and statements[1].startswith("UPDATE")
    from contacts.events import ContactEvent

    assert ContactEvent.objects.filter(kind="message_status").count() == 4 * 3  # sent, delivered, read
    assert_stats_match()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_appliers_racing_over_the_same_messages_lose_nothing():
    """A drainer and a poller (or two drainers) on one account: row locks in id order, no lost update."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SWITCHBOARD_INTEGRATION=1 with DATABASE_URL)")
    from django.db import connections

    account = ProviderAccount.objects.create(provider="sandbox", name="Race")
    messages = []
    for n in range(60):
        m = queue_message(account, channel="sms", phone=f"+3933300{n:05d}", text="Ciao")
        apply_delivery_updates(account, [DeliveryUpdate(remote_message_id=f"pm-{n}", status="sent",
                                                        reference=m.reference, occurred_at=T0)])  # fmt: skip
        messages.append(m)
    streams = {
        "drainer": [DeliveryUpdate(remote_message_id=f"pm-{n}", status="delivered",
                                   occurred_at=T0 + dt.timedelta(seconds=n + 1)) for n in range(60)],
        "poller": [DeliveryUpdate(remote_message_id=f"pm-{n}", status="read",
                                  occurred_at=T0 + dt.timedelta(seconds=n + 2)) for n in range(60)],
    }  # fmt: skip
    barrier = threading.Barrier(2)
    errors = []

    def work(name, seed):
        try:
            stream = list(streams[name])
            random.Random(seed).shuffle(
                stream
            )  # each locks its own mix of rows: only id order avoids deadlock
            barrier.wait()
            for start in range(0, len(stream), 7):
                apply_delivery_updates(account, stream[start : start + 7])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(name, seed)) for seed, name in enumerate(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for m in Message.objects.filter(account=account):
        assert m.status == "read" and m.delivered_at and m.read_at
        assert sorted(h["status"] for h in m.status_history) == ["delivered", "read", "sent"]
    assert_stats_match()

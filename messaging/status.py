"""The one status service: every delivery update, from webhooks and from polling, goes through here.

`apply_delivery_update(account, update)` finds our message (by our reference first, then by
the provider's message id and the recipient, since one Spryng id covers up to 50 people),
and moves its status forward only (messaging.providers.base.STATUS_RANK): a late
"delivered" never overwrites "read"; "failed" after "delivered" is kept in the history
but does not undo the delivery. The same update twice changes nothing the second time.
Counters (messaging.stats) move in the same transaction, so they always equal a count
over the message rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .message_models import Message
from .providers.base import STATUS_RANK, DeliveryUpdate, MessageStatus
from .stats import StatDeltas

logger = logging.getLogger("switchboard.messaging")

HISTORY_LIMIT = 50
# Statuses nothing moves a message out of: it never went to a provider, or it came from one.
TERMINAL = {Message.Status.SKIPPED, Message.Status.RECEIVED}


class Outcome(StrEnum):
    APPLIED = "applied"  # the status moved forward
    RECORDED = "recorded"  # kept in the history only (not forward, e.g. failed after delivered)
    DUPLICATE = "duplicate"  # seen before: nothing changed
    NOT_FOUND = "not_found"  # no message of ours matches
    INVALID = "invalid"  # a status we do not know


@dataclass
class UpdateResult:
    outcome: Outcome
    message: Message | None = None


def rank(status: str) -> int:
    try:
        return STATUS_RANK[MessageStatus(status)]
    except ValueError:
        return -1


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone or "" if ch.isdigit())


def find_message(account, update: DeliveryUpdate, *, lock: bool = False) -> Message | None:
    """Our outbound message an update is about, or None."""
    qs = Message.objects.filter(account=account, direction=Message.Direction.OUTBOUND)
    if lock:
        qs = qs.select_for_update()
    to = _digits(update.to)
    if update.reference:
        message = qs.filter(reference=update.reference).first()
        # A batch reference names the call, not the person: check the recipient when told.
        if message is not None and (not to or _digits(message.phone) == to):
            return message
    if update.remote_message_id:
        return _one_recipient(update, list(qs.filter(provider_message_id=update.remote_message_id)[:100]), to)
    return None


def _one_recipient(update: DeliveryUpdate, candidates: list[Message], to: str) -> Message | None:
    """The one message of a provider id the update is about: one id may cover a whole batch call
    (Spryng: up to 50 recipients), so the recipient decides; still several → ignored, logged."""
    if to:
        candidates = [m for m in candidates if _digits(m.phone) == to]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        logger.warning("delivery update %s matches %d messages; ignored", update.remote_message_id,
                       len(candidates))  # fmt: skip
    return None


def _history_entry(status: str, at: dt.datetime, update: DeliveryUpdate | None, source: str) -> dict:
    entry = {"status": status, "at": at.isoformat(), "source": source}
    if update is not None:
        if update.event_id:
            entry["event_id"] = update.event_id
        if update.error_code:
            entry["error_code"] = update.error_code[:100]
        if update.error_message:
            entry["error"] = update.error_message[:300]
    return entry


def _seen(message: Message, entry: dict) -> bool:
    for old in message.status_history or []:
        if old.get("status") != entry["status"]:
            continue
        if entry.get("event_id") and old.get("event_id") == entry["event_id"]:
            return True
        if old.get("at") == entry["at"]:
            return True
    return False


def transition(message: Message, new_status: str, *, at: dt.datetime | None = None,
               update: DeliveryUpdate | None = None, source: str = "provider",
               deltas: StatDeltas, error_code: str = "", error_message: str = "",
               force: bool = False) -> tuple[Outcome, list[str]]:  # fmt: skip
    """Apply one status to a locked message in memory; return (outcome, fields to save).

    `force` lets the sending service move queued→failed/unknown/sent by its own knowledge;
    the rank rule still holds for everything else. The caller saves and flushes `deltas`.
    """
    at = at or timezone.now()
    entry = _history_entry(new_status, at, update, source)
    if _seen(message, entry):
        return Outcome.DUPLICATE, []
    old = message.status
    forward = old not in TERMINAL and (force or rank(new_status) > rank(old))
    entry["applied"] = forward
    message.status_history = [*(message.status_history or []), entry][-HISTORY_LIMIT:]
    fields = ["status_history", "updated_at"]
    if not forward:
        return Outcome.RECORDED, fields
    old_reason = message.error_message or message.error_code or "No reason given by the provider"
    message.status = new_status
    fields.append("status")
    if (
        new_status in (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)
        and not message.sent_at
    ):
        message.sent_at = at
        fields.append("sent_at")
    reached_before = old in (Message.Status.DELIVERED, Message.Status.READ)
    if new_status in (Message.Status.DELIVERED, Message.Status.READ) and not reached_before:
        if not message.delivered_at:
            message.delivered_at = at
            fields.append("delivered_at")
        deltas.add(message, "delivered", 1, at=at)
        # Also by the hour the message was written, so rates per send day are true cohorts.
        deltas.add(message, "cohort_delivered", 1, at=message.created_at)
    if new_status == Message.Status.READ:
        message.read_at = message.read_at or at
        fields.append("read_at")
        deltas.add(message, "read", 1, at=at)
        deltas.add(message, "cohort_read", 1, at=message.created_at)
    if new_status == Message.Status.FAILED:
        message.failed_at = at
        message.error_code = (error_code or (update.error_code if update else ""))[:100]
        message.error_message = (error_message or (update.error_message if update else ""))[:500]
        fields += ["failed_at", "error_code", "error_message"]
    deltas.move(message, old, new_status, at=at, old_reason=old_reason)
    return Outcome.APPLIED, fields


def add_price(
    message: Message, price: Decimal | None, currency: str, deltas: StatDeltas, at=None
) -> list[str]:
    """Record the price once (the first the provider tells us); the cost counter moves with it."""
    if price is None or message.price is not None:
        return []
    message.price = Decimal(price)
    message.currency = (currency or message.currency)[:3]
    # The currency rides in the bucket's reason, so pages name it without reading messages.
    deltas.add(message, "cost", 0, at=at or message.created_at, cost=message.price, reason=message.currency)
    return ["price", "currency"]


def _aware(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    return timezone.make_aware(at, dt.UTC) if timezone.is_naive(at) else at


class _Index:
    """The batch's candidate messages, found by one SELECT, matched the way find_message does."""

    def __init__(self, messages: list[Message]):
        self.by_ref = {m.reference: m for m in messages if m.reference}
        self.by_pid: dict[str, list[Message]] = {}
        for m in messages:
            if m.provider_message_id:
                self.by_pid.setdefault(m.provider_message_id, []).append(m)

    def match(self, update: DeliveryUpdate) -> Message | None:
        to = _digits(update.to)
        if update.reference:
            message = self.by_ref.get(update.reference)
            if message is not None and (not to or _digits(message.phone) == to):
                return message
        if update.remote_message_id:
            return _one_recipient(update, self.by_pid.get(update.remote_message_id, [])[:100], to)
        return None

    def learn_pid(self, message: Message) -> None:
        """A message got its provider id in this batch: later updates of the batch find it by it."""
        self.by_pid.setdefault(message.provider_message_id, []).append(message)


# What matching, the rules, the counters and the events read (the text and payload are not loaded).
LOADED_FIELDS = ("id", "account_id", "campaign_id", "contact_id", "channel", "phone", "source", "reference",
                 "provider_message_id", "status", "status_history", "sent_at", "delivered_at", "read_at",
                 "failed_at", "error_code", "error_message", "price", "currency", "created_at", "updated_at")  # fmt: skip


def _lock_candidates(account, updates: list[DeliveryUpdate]) -> list[Message]:
    """One SELECT … FOR UPDATE for every message the batch may touch, locked in id order.

    Every writer of message rows (this service, the sending service) locks in ascending id, so
    two drainers, a drainer and a poller, or a drainer and a runner wait for each other instead
    of deadlocking, and each applies its updates to the row as the other left it.
    """
    refs = sorted({u.reference for u in updates if u.reference})
    pids = sorted({u.remote_message_id for u in updates if u.remote_message_id})
    if not refs and not pids:
        return []
    match = Q()
    if refs:
        match |= Q(reference__in=refs)
    if pids:
        match |= Q(provider_message_id__in=pids)
    return list(
        Message.objects.select_for_update()
        .filter(match, account=account, direction=Message.Direction.OUTBOUND)
        .only(*LOADED_FIELDS)
        .order_by("id")
    )


def apply_delivery_update_results(account, updates) -> list[UpdateResult]:
    """Apply a batch of delivery updates; one UpdateResult per update, in the same order.

    One transaction and a fixed number of statements whatever the batch size: one SELECT …
    FOR UPDATE of the batch's messages (id order), the forward-only rules in Python (`transition`,
    the same code the single path always used, applied in the order given, so a message updated
    twice in a batch ends as if updated twice in a row), one UPDATE … FROM (VALUES …) of the
    changed rows, one counter upsert, one INSERT of status events. Idempotent: a batch applied
    again ends in DUPLICATE for every update and writes nothing.
    """
    updates = list(updates)
    results: list[UpdateResult | None] = [None] * len(updates)
    valid: list[tuple[int, DeliveryUpdate, str]] = []
    for i, update in enumerate(updates):
        status = (update.status or "").lower()
        if rank(status) < 0:
            results[i] = UpdateResult(Outcome.INVALID)
        else:
            valid.append((i, update, status))
    if not valid:
        return results  # type: ignore[return-value]
    with transaction.atomic():
        index = _Index(_lock_candidates(account, [u for _, u, _ in valid]))
        deltas = StatDeltas()
        changed: dict[int, Message] = {}
        reached: list[tuple[Message, str]] = []
        now = timezone.now()
        for i, update, status in valid:
            message = index.match(update)
            if message is None:
                results[i] = UpdateResult(Outcome.NOT_FOUND)
                continue
            outcome, _fields = transition(message, status, at=_aware(update.occurred_at), update=update,
                                          deltas=deltas)  # fmt: skip
            results[i] = UpdateResult(outcome, message)
            if outcome == Outcome.DUPLICATE:
                continue
            add_price(message, update.price, update.currency, deltas)
            if not message.provider_message_id and update.remote_message_id:
                message.provider_message_id = update.remote_message_id[:200]
                index.learn_pid(message)
            message.updated_at = now
            changed[message.pk] = message
            if outcome == Outcome.APPLIED:
                reached.append((message, status))
        write_messages(list(changed.values()))
        deltas.flush()
        record_status_events(reached)
    return results  # type: ignore[return-value]


def apply_delivery_update(account, update: DeliveryUpdate) -> UpdateResult:
    """Apply one normalised delivery update idempotently, forward only (the batch path with one)."""
    return apply_delivery_update_results(account, [update])[0]


def apply_delivery_updates(account, updates) -> dict[str, int]:
    """Apply many updates in one batch (polling, the webhook drainer); how many ended in each outcome."""
    counts: dict[str, int] = {}
    for result in apply_delivery_update_results(account, updates):
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return counts


# Every column a status change, a send result or a price can move; written together.
WRITTEN_FIELDS = ("status", "status_history", "sent_at", "delivered_at", "read_at", "failed_at", "error_code",
                  "error_message", "price", "currency", "provider_message_id", "updated_at")  # fmt: skip
WRITE_CHUNK = 500


def write_messages(messages: list[Message], *, unchanged_since: dict[int, object] | None = None) -> int:
    """Write WRITTEN_FIELDS of many rows in one UPDATE … FROM (VALUES …) per 500 rows; → rows written.

    Either the caller holds the rows' locks (on SQLite, the write lock), so the in-memory values
    are the rows' current state plus our changes; or `unchanged_since` maps each id to the
    `updated_at` the caller read, and a row is written only if nobody wrote it since (optimistic:
    the caller compares the count and retries under locks). Django's bulk_update would build a
    CASE per row and column; this is one join against a VALUES list.
    """
    if not messages:
        return 0
    if connection.vendor == "postgresql":
        return _write_messages_pg(messages, unchanged_since)
    fields = [Message._meta.get_field(name) for name in WRITTEN_FIELDS]
    stamp = Message._meta.get_field("updated_at")
    table = connection.ops.quote_name(Message._meta.db_table)
    pg = connection.vendor == "postgresql"
    columns = ["id", *(f.column for f in fields)]
    types = ["bigint", *(f.db_type(connection) for f in fields)]
    if unchanged_since is not None:
        columns.append("seen_updated_at")
        types.append(stamp.db_type(connection))
    # Literal parameters are untyped in a VALUES list on PostgreSQL: say what each column is.
    row_sql = "(" + ", ".join(f"CAST(%s AS {t})" if pg else "%s" for t in types) + ")"
    # SQLite names a VALUES list's columns column1, column2, … and takes no column list on the
    # alias; PostgreSQL takes one. The statement starts with UPDATE either way (sqlite3 reports
    # a rowcount only for statements that do, so a leading WITH would hide it).
    names = columns if pg else [f"column{i}" for i in range(1, len(columns) + 1)]
    alias = f"v({', '.join(columns)})" if pg else "v"
    col = dict(zip(columns, names, strict=True))
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = v.{col[f.column]}" for f in fields)
    where = f"{table}.id = v.{col['id']}"
    if unchanged_since is not None:
        where += f" AND {table}.updated_at = v.{col['seen_updated_at']}"
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(messages), WRITE_CHUNK):
            chunk = sorted(messages[start : start + WRITE_CHUNK], key=lambda m: m.pk)
            params = []
            for m in chunk:
                params.append(m.pk)
                params.extend(f.get_db_prep_save(getattr(m, f.attname), connection) for f in fields)
                if unchanged_since is not None:
                    params.append(stamp.get_db_prep_save(unchanged_since[m.pk], connection))
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608
                f"FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS {alias} WHERE {where}",
                params,
            )
            written += cursor.rowcount
    return written


def _write_messages_pg(messages: list[Message], unchanged_since) -> int:
    """PostgreSQL: the VALUES list as one array per column (unnest), so the statement text is the
    same whatever the batch size (no per-row placeholders for the driver to parse) and values go
    in as plain Python objects, not through each field's adapter."""
    fields = [Message._meta.get_field(name) for name in WRITTEN_FIELDS]
    table = connection.ops.quote_name(Message._meta.db_table)
    json_columns = {f.column for f in fields if f.get_internal_type() == "JSONField"}
    rows = sorted(messages, key=lambda m: m.pk)
    columns = ["id", *(f.column for f in fields)]
    types = ["bigint", *("text" if f.column in json_columns else f.db_type(connection) for f in fields)]
    arrays = [[m.pk for m in rows]]
    for f in fields:
        if f.column in json_columns:
            arrays.append([json.dumps(getattr(m, f.attname), cls=DjangoJSONEncoder) for m in rows])
        else:
            arrays.append([getattr(m, f.attname) for m in rows])
    where = f"{table}.id = v.id"
    if unchanged_since is not None:
        columns.append("seen_updated_at")
        types.append("timestamptz")
        arrays.append([unchanged_since[m.pk] for m in rows])
        where += f" AND {table}.updated_at = v.seen_updated_at"
    assignments = ", ".join(
        f"{connection.ops.quote_name(f.column)} = v.{f.column}"
        + ("::jsonb" if f.column in json_columns else "")
        for f in fields
    )
    unnest = ", ".join(f"%s::{t.split('(')[0]}[]" for t in types)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM unnest({unnest}) AS v({', '.join(columns)}) "  # noqa: S608
            f"WHERE {where}",
            arrays,
        )
        return cursor.rowcount


def record_status_event(message: Message, status: str) -> None:
    """Tell automations a contact's message reached a status (contacts.events, when installed)."""
    if not message.contact_id:
        return
    try:
        from contacts.events import record_events
    except ImportError:  # the events module arrives with automations
        return
    record_events(
        "message_status",
        [message.contact_id],
        source="campaign" if message.campaign_id else (message.source or "message"),
        data={
            "message_id": message.pk,
            "status": status,
            "campaign_id": message.campaign_id,
            "channel": message.channel,
        },
        dedupe_key=f"message_status:{message.pk}:{status}",
    )


def record_status_events(reached) -> None:
    """record_status_event for many (message, status) pairs in one INSERT (the batch paths).

    A bare message stands for (message, message.status).
    """
    pairs = [item if isinstance(item, tuple) else (item, item.status) for item in reached]
    pairs = [(m, status) for m, status in pairs if m.contact_id]
    if not pairs:
        return
    try:
        from contacts.events import ContactEvent
    except ImportError:
        return
    ContactEvent.objects.bulk_create(
        [
            ContactEvent(
                kind="message_status", contact_id=m.contact_id,
                source="campaign" if m.campaign_id else (m.source or "message"),
                data={"message_id": m.pk, "status": status, "campaign_id": m.campaign_id, "channel": m.channel},
                dedupe_key=f"message_status:{m.pk}:{status}",
            )
            for m, status in pairs
        ],
        ignore_conflicts=True,  # the (kind, contact, dedupe_key) constraint: seen before, dropped
    )  # fmt: skip


def mark_replied(account, contact, *, at: dt.datetime | None = None, within_days: int = 7) -> Message | None:
    """A contact wrote back: mark the latest campaign message we sent them on this account as replied.

    Called by the inbound service (webhooks). Counted once per message; returns the message
    marked, or None when there is no recent campaign message (or it was already replied to).
    """
    at = at or timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .filter(
                account=account, contact=contact, direction=Message.Direction.OUTBOUND,
                campaign__isnull=False, created_at__gte=at - dt.timedelta(days=within_days),
                created_at__lte=at,
            )
            .exclude(status__in=[Message.Status.SKIPPED, Message.Status.QUEUED])
            .order_by("-created_at", "-id")
            .first()
        )  # fmt: skip
        if message is None or message.replied_at:
            return None
        message.replied_at = at
        message.save(update_fields=["replied_at", "updated_at"])
        deltas = StatDeltas()
        deltas.add(message, "replied", 1, at=at)
        deltas.flush()
    return message

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
import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db import transaction
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
        candidates = list(qs.filter(provider_message_id=update.remote_message_id)[:100])
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


def apply_delivery_update(account, update: DeliveryUpdate) -> UpdateResult:
    """Apply one normalised delivery update idempotently, forward only. Runs its own transaction."""
    status = (update.status or "").lower()
    if rank(status) < 0:
        return UpdateResult(Outcome.INVALID)
    with transaction.atomic():
        message = find_message(account, update, lock=True)
        if message is None:
            return UpdateResult(Outcome.NOT_FOUND)
        deltas = StatDeltas()
        at = update.occurred_at or timezone.now()
        if timezone.is_naive(at):
            at = timezone.make_aware(at, dt.UTC)
        outcome, fields = transition(message, status, at=at, update=update, deltas=deltas)
        if outcome == Outcome.DUPLICATE:
            return UpdateResult(outcome, message)
        fields += add_price(message, update.price, update.currency, deltas)
        if not message.provider_message_id and update.remote_message_id:
            message.provider_message_id = update.remote_message_id[:200]
            fields.append("provider_message_id")
        message.save(update_fields=list(dict.fromkeys(fields)))
        deltas.flush()
        if outcome == Outcome.APPLIED:
            record_status_event(message, status)
    return UpdateResult(outcome, message)


def apply_delivery_updates(account, updates) -> dict[str, int]:
    """Apply many updates (polling); returns how many ended in each outcome."""
    counts: dict[str, int] = {}
    for update in updates:
        result = apply_delivery_update(account, update)
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return counts


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


def record_status_events(messages: list[Message]) -> None:
    """record_status_event for many messages in one INSERT (the batch path of the sending service)."""
    rows = [m for m in messages if m.contact_id]
    if not rows:
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
                data={"message_id": m.pk, "status": m.status, "campaign_id": m.campaign_id, "channel": m.channel},
                dedupe_key=f"message_status:{m.pk}:{m.status}",
            )
            for m in rows
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

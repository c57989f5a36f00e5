"""The one sending service: queued Message rows → provider calls, never the same message twice.

The rule that makes a dying worker harmless: a message row with its idempotency key exists
before any call, and `dispatched_at` is set *and committed* just before the call. After a
crash, a row with `dispatched_at` set and status still queued is a send whose outcome we do
not know: `resolve_uncertain` asks the provider by our reference where it can, and otherwise
marks it *unknown* for staff. It is never sent again.

Campaigns (campaigns.services.fanout) and automations (`send_message`) both send through here.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .message_models import Message
from .providers.base import DeliveryUpdate, OutboundMessage, SendResult
from .providers.errors import AuthError, NotSupported, ProviderError, RateLimited, Rejected
from .stats import StatDeltas
from .status import (
    Outcome,
    add_price,
    apply_delivery_update,
    record_status_event,
    record_status_events,
    transition,
    write_messages,
)

logger = logging.getLogger("switchboard.messaging")


class SendRefused(ValidationError):
    """The message may not be sent (opted out, blocked, nothing to send); nothing was written."""


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    requeued: int = 0  # rate-limited before anything left: will go again
    auth_failed: bool = False

    def merge(self, other: DispatchReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.unknown += other.unknown
        self.requeued += other.requeued
        self.auth_failed = self.auth_failed or other.auth_failed


def new_reference() -> str:
    return f"sb-{uuid.uuid4().hex}"


def count_new_messages(messages, deltas: StatDeltas) -> None:
    """Counters for freshly written outbound rows (call in the transaction that wrote them)."""
    for message in messages:
        deltas.add(message, "created", 1, at=message.created_at)
        deltas.move(message, None, message.status, at=message.created_at)


def queue_message(account, *, channel: str, contact=None, phone: str = "", text: str = "",
                  template_name: str = "", template_language: str = "", variables=None,
                  sender: str = "", campaign=None, source: str = "api", is_marketing: bool = False,
                  reference: str | None = None, payload: dict | None = None) -> Message:  # fmt: skip
    """Write one queued outbound message (honouring opt-out and blocked). Raises SendRefused."""
    if contact is not None:
        if contact.opted_out:
            raise SendRefused(
                _("%(phone)s opted out of messages.") % {"phone": contact.phone}, code="opted_out"
            )
        if contact.blocked:
            raise SendRefused(_("%(phone)s is blocked.") % {"phone": contact.phone}, code="blocked")
        phone = phone or contact.phone
    if not phone:
        raise SendRefused(_("A message needs a phone number."), code="no_phone")
    if not (text or template_name):
        raise SendRefused(_("A message needs a text or a template."), code="empty")
    if not account.provider_class.capabilities.can_send(channel):
        raise SendRefused(
            _("%(account)s cannot send %(channel)s messages.")
            % {"account": account.name, "channel": channel},
            code="channel",
        )
    with transaction.atomic():
        message = Message.objects.create(
            account=account, campaign=campaign, contact=contact, phone=phone, channel=channel,
            text=text, template_name=template_name, template_language=template_language,
            variables=variables or {}, sender=sender, source=source, is_marketing=is_marketing,
            reference=reference or new_reference(), payload=payload or {},
        )  # fmt: skip
        deltas = StatDeltas()
        count_new_messages([message], deltas)
        deltas.flush()
    return message


def outbound_for(message: Message) -> OutboundMessage:
    payload = message.payload or {}
    return OutboundMessage(
        to=message.phone, channel=message.channel, text=message.text, template_name=message.template_name,
        template_language=message.template_language, variables=message.variables or [],
        sender=message.sender, reference=message.reference or "", media_url=payload.get("media_url", ""),
        buttons=payload.get("buttons") or [], fallback=payload.get("fallback") or [],
    )  # fmt: skip


def _claim(messages: list[Message]) -> list[Message]:
    """Mark still-queued, never-dispatched messages as "a call is leaving now"; commit; return them.

    One statement, committed on its own (autocommit) before the call leaves: rows another runner
    holds locked are skipped, not waited for, and rows dispatched or moved already are left alone.
    """
    now = timezone.now()
    ids = sorted(m.pk for m in messages)
    table = Message._meta.db_table
    queued = Message.Status.QUEUED.value
    if connection.vendor == "postgresql":
        sql = (
            f"UPDATE {table} SET dispatched_at = %s WHERE id IN (SELECT id FROM {table} "  # noqa: S608
            "WHERE id = ANY(%s) AND status = %s AND dispatched_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED) "
            "RETURNING id"
        )
        params = [now, ids, queued]
    else:
        sql = (
            f"UPDATE {table} SET dispatched_at = %s WHERE id IN ({', '.join(['%s'] * len(ids))}) "  # noqa: S608
            "AND status = %s AND dispatched_at IS NULL RETURNING id"
        )
        params = [connection.ops.adapt_datetimefield_value(now), *ids, queued]
    with connection.cursor() as cursor:  # outside a transaction: the statement commits on its own
        cursor.execute(sql, params)
        claimed = {row[0] for row in cursor.fetchall()}
    for m in messages:
        if m.pk in claimed:
            m.dispatched_at = now
    return [m for m in messages if m.pk in claimed]


def _apply_send_result(row: Message, result: SendResult, report: DispatchReport, deltas: StatDeltas, now):
    """One call's outcome on one message row in memory; → (outcome, fields touched). Nothing is saved."""
    # Our own knowledge of the call only moves a message that nothing has moved since
    # (a fast webhook may already have said "delivered"; that must stay).
    force = row.status in (Message.Status.QUEUED, Message.Status.UNKNOWN)
    if result.accepted:
        status = result.status if result.status in ("sent", "delivered", "read") else "sent"
        outcome, touched = transition(row, status, at=now, source="send", deltas=deltas, force=force)
        report.sent += 1
    else:
        outcome, touched = transition(row, Message.Status.FAILED, at=now, source="send", deltas=deltas,
                                      force=force, error_code="rejected",
                                      error_message=result.error or _("Refused by the provider"))  # fmt: skip
        report.failed += 1
    if result.remote_id:
        row.provider_message_id = result.remote_id[:200]
        touched.append("provider_message_id")
    touched += add_price(row, result.price, result.currency, deltas, at=now)
    return outcome, touched


def _record_result(message: Message, result: SendResult, report: DispatchReport) -> None:
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        deltas = StatDeltas()
        now = timezone.now()
        outcome, fields = _apply_send_result(locked, result, report, deltas, now)
        if fields:
            locked.save(update_fields=list(dict.fromkeys(fields)))
        deltas.flush()
        if outcome == Outcome.APPLIED:
            record_status_event(locked, locked.status)
    message.status = locked.status


class _Moved(Exception):
    """A row changed between the claim and the record (a fast webhook): record under locks instead."""


def _apply_results(rows: dict[int, Message], pairs, report: DispatchReport, deltas: StatDeltas, now):
    """The send outcome of each (message, result) on its row in memory; → (changed rows, reached)."""
    changed, reached = [], []
    for message, result in pairs:
        row = rows[message.pk]
        outcome, touched = _apply_send_result(row, result, report, deltas, now)
        if touched:
            row.updated_at = now
            changed.append(row)
        if outcome == Outcome.APPLIED:
            reached.append((row, row.status))
    return changed, reached


def _record_results(pairs: list[tuple[Message, SendResult]], report: DispatchReport) -> None:
    """The outcome of one call, for all its messages in one transaction of three statements.

    Optimistic first: the rows were read by the runner and claimed by us, and normally nobody
    writes them until we record the call, so their new state is computed from what we hold and
    written with one UPDATE … FROM (VALUES …) that only touches rows whose `updated_at` is still
    the one we read; the counters (one upsert) and status events (one INSERT) go in the same
    transaction. If any row moved meanwhile, that transaction is rolled back and the call is
    recorded again from the locked rows (SELECT … FOR UPDATE in id order, as the status service).
    """
    now = timezone.now()
    messages = [m for m, _ in pairs]
    if all(m.status == Message.Status.QUEUED and m.updated_at for m in messages):
        seen = {m.pk: m.updated_at for m in messages}
        copies = {m.pk: _copy(m) for m in messages}
        local = DispatchReport()
        try:
            with transaction.atomic():
                deltas = StatDeltas()
                changed, reached = _apply_results(copies, pairs, local, deltas, now)
                if write_messages(changed, unchanged_since=seen) != len(changed):
                    raise _Moved
                deltas.flush()
                record_status_events(reached)
        except _Moved:
            pass
        else:
            report.merge(local)
            for m in messages:
                m.status = copies[m.pk].status
            return
    with transaction.atomic():
        locked = {m.pk: m for m in Message.objects.select_for_update().filter(pk__in=[m.pk for m in messages])
                  .order_by("id")}  # fmt: skip
        deltas = StatDeltas()
        changed, reached = _apply_results(locked, pairs, report, deltas, now)
        write_messages(changed)
        deltas.flush()
        record_status_events(reached)
    for m in messages:
        m.status = locked[m.pk].status


def _copy(message: Message) -> Message:
    """A detached copy to compute on (the caller's object stays as read if we must start over)."""
    copy = Message.from_db(message._state.db, [f.attname for f in Message._meta.concrete_fields],
                           [getattr(message, f.attname) for f in Message._meta.concrete_fields])  # fmt: skip
    copy.status_history = list(message.status_history or [])
    return copy


def _record_failure(message: Message, exc: ProviderError, report: DispatchReport) -> None:
    """A call that raised. Refused → failed; rate-limited → back in the queue; otherwise uncertain."""
    if isinstance(exc, RateLimited):
        # A 429 is answered before anything is sent: it is safe to send this one again later.
        Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(dispatched_at=None)
        report.requeued += 1
        return
    if isinstance(exc, (Rejected, AuthError, NotSupported)):
        report.auth_failed = report.auth_failed or isinstance(exc, AuthError)
        result = SendResult(accepted=False, to=message.phone, error=str(exc)[:500])
        _record_result(message, result, report)
        return
    resolve_uncertain(message, report=report)


def resolve_uncertain(message: Message, *, report: DispatchReport | None = None) -> str:
    """A send that may have left: ask the provider by our reference; else mark it unknown. Never resend."""
    report = report if report is not None else DispatchReport()
    account = message.account
    try:
        found = account.get_provider().lookup_message(message.reference or "", message.phone)
    except NotSupported:
        found = None
        asked = False
    except ProviderError as exc:
        logger.warning("could not look up message %s: %s", message.pk, exc)
        found = None
        asked = False
    else:
        asked = True
    if found is not None:
        if found.remote_message_id:
            Message.objects.filter(pk=message.pk, provider_message_id="").update(
                provider_message_id=found.remote_message_id[:200]
            )
        found.reference = message.reference or found.reference
        if found.status in ("queued", "unknown", ""):
            found.status = "sent"  # the provider has it: it left us
        found.to = message.phone
        result = apply_delivery_update(account, found)
        if result.outcome in (Outcome.APPLIED, Outcome.RECORDED, Outcome.DUPLICATE):
            report.sent += 1
            return "found"
    if asked and found is None:
        # The provider says it never received it, so it did not go out: it is a failure we know.
        _record_result(message, SendResult(accepted=False, error=_("Never reached the provider")), report)
        return "not_sent"
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        deltas = StatDeltas()
        update = DeliveryUpdate(
            remote_message_id="", status="unknown",
            error_message=_("The provider did not answer in time; it may or may not have been sent."),
        )  # fmt: skip
        _outcome, fields = transition(locked, Message.Status.UNKNOWN, update=update, source="send",
                                     deltas=deltas, force=locked.status == Message.Status.QUEUED)  # fmt: skip
        if fields:
            locked.save(update_fields=fields)
        deltas.flush()
    report.unknown += 1
    return "unknown"


def dispatch(messages: list[Message]) -> DispatchReport:
    """Send queued messages (one account), in batch calls where the provider takes them.

    Each message is claimed (dispatched_at committed) before its call and recorded after it;
    a message already claimed by someone else is left alone.
    """
    report = DispatchReport()
    if not messages:
        return report
    account = messages[0].account
    provider = account.get_provider()
    claimed = _claim(messages)
    limit = max(1, provider.batch_send_limit)
    groups: dict[tuple, list[Message]] = {}
    for m in claimed:
        key = (m.channel, m.text, m.sender, m.template_name) if limit > 1 and not m.template_name else (m.pk,)
        groups.setdefault(key, []).append(m)
    for group in groups.values():
        for start in range(0, len(group), limit):
            chunk = group[start : start + limit]
            _dispatch_chunk(provider, chunk, report)
            if report.auth_failed:
                # Every further call would be refused the same way: put the rest back untouched.
                rest = [m.pk for m in claimed if m.status == Message.Status.QUEUED]
                Message.objects.filter(pk__in=rest, status=Message.Status.QUEUED).update(dispatched_at=None)
                return report
    return report


def _dispatch_chunk(provider, chunk: list[Message], report: DispatchReport) -> None:
    try:
        if len(chunk) > 1:
            results = provider.send_batch([outbound_for(m) for m in chunk])
        else:
            results = [provider.send(outbound_for(chunk[0]))]
    except ProviderError as exc:
        for m in chunk:
            _record_failure(m, exc, report)
        return
    pairs = list(zip(chunk, results, strict=False))
    if pairs:
        _record_results(pairs, report)
    for m in chunk[len(results) :]:
        resolve_uncertain(m, report=report)


def send_message(account, *, channel: str, contact=None, phone: str = "", text: str = "",
                 template_name: str = "", template_language: str = "", variables=None, sender: str = "",
                 source: str = "automation", is_marketing: bool = False) -> Message:  # fmt: skip
    """Queue and send one message now (automations, tests). Raises SendRefused before writing anything."""
    message = queue_message(
        account, channel=channel, contact=contact, phone=phone, text=text, template_name=template_name,
        template_language=template_language, variables=variables, sender=sender, source=source,
        is_marketing=is_marketing,
    )  # fmt: skip
    dispatch([message])
    message.refresh_from_db()
    return message


def resolve_stale_dispatches(*, older_than: dt.timedelta = dt.timedelta(minutes=5), campaign=None) -> int:
    """Every message claimed long ago and never recorded (its worker died): resolve, never resend."""
    qs = Message.objects.filter(
        status=Message.Status.QUEUED, dispatched_at__lt=timezone.now() - older_than
    ).select_related("account")
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    n = 0
    for message in qs.iterator(chunk_size=200):
        resolve_uncertain(message)
        n += 1
    return n

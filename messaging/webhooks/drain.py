"""The drainer: stored webhook events, in batches, through their effects, each marked once.

A batch is claimed with SELECT … FOR UPDATE SKIP LOCKED (several drainers share the backlog
without taking the same rows) and handled in ONE transaction: each event's effects run in a
savepoint and its new status is written in the same transaction. So a crash anywhere in a batch
rolls back both the effects and the marks, and the events are processed once, on the retry.
An event whose effects raise is marked failed with the error (savepoint rolled back, the batch
goes on) and retried later, up to WEBHOOK_MAX_ATTEMPTS.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import Counter

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ProviderAccount
from .effects import BatchContext, apply_deliveries, apply_read, finish_batch
from .models import WebhookEvent

log = logging.getLogger(__name__)

S = WebhookEvent.Status


def _headers_and_body(event: WebhookEvent) -> tuple[dict, bytes]:
    return dict(event.headers or {}), (event.body or "").encode("utf-8")


def read_event(event: WebhookEvent, providers: dict):
    """Parse one stored event into normalised records; None when it is settled already (ignored, failed)."""
    event.attempts += 1
    event.processed_at = timezone.now()
    provider = providers.get(event.account_id)
    if provider is None:
        provider = providers[event.account_id] = event.account.get_provider()
    headers, body = _headers_and_body(event)
    try:
        read = provider.read_webhook(headers, body)
    except Exception as exc:
        _failed(event, exc)
        return None
    if read.empty:
        event.status, event.error, event.outcome = S.IGNORED, "", {}
        return None
    return read


def process_event(event: WebhookEvent, read, context: BatchContext, deliveries=None) -> None:
    """Apply one parsed event's effects and set its status, error and outcome (not saved here).

    `deliveries` are its delivery updates' results when the batch applied them already.
    """
    try:
        # No savepoint of our own: every effect runs in its own atomic block (the status service,
        # record_inbound), which is the savepoint inside the batch's transaction. A request with
        # several events that fails half-way keeps the first effects (and the delivery updates
        # the batch applied); its retry re-applies them idempotently.
        event.outcome = apply_read(event.account, read, context, deliveries)
        event.status, event.error = S.PROCESSED, ""
    except Exception as exc:
        _failed(event, exc)


def _failed(event: WebhookEvent, exc: Exception) -> None:
    log.warning("Webhook event %s failed: %s", event.pk, exc, exc_info=True)
    event.status = S.FAILED
    event.error = (f"{type(exc).__name__}: {exc}")[:2000]


def drain_batch(batch_size: int | None = None) -> Counter:
    """Claim and process up to batch_size waiting events; returns counts by new status.

    The batch's delivery updates go to the status service together (one batch per account: a
    handful of statements for all of them), then each event's other effects run and its mark is set.
    """
    size = batch_size or getattr(settings, "WEBHOOK_DRAIN_BATCH", 200)
    counts: Counter = Counter()
    with transaction.atomic():
        claimed = claim_account()
        if claimed is BUSY:
            return counts
        pending = WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            status=S.RECEIVED
        )
        if claimed is not None:
            pending = pending.filter(account_id=claimed)
        events = list(pending.order_by("id")[:size])
        if not events:
            return counts
        # Each account once per batch (its encrypted secrets are decrypted as it loads), not per event.
        accounts = ProviderAccount.objects.in_bulk({e.account_id for e in events})
        for event in events:
            event.account = accounts[event.account_id]
        providers: dict = {}
        context = BatchContext()
        reads = [(event, read_event(event, providers)) for event in events]
        parsed = [(event, read) for event, read in reads if read is not None]
        deliveries = apply_deliveries(parsed)
        for event, read in parsed:
            process_event(event, read, context, deliveries.get(event.pk))
        for event in events:
            counts[event.status] += 1
        save_marks(events)
        finish_batch(context, {e.account_id: e.account for e in events})
    return counts


BUSY = object()
LOCK_NAMESPACE = 11011  # pg_advisory_xact_lock(namespace, account id): one drainer per account


def claim_account():
    """PostgreSQL: the id of an account with a backlog that no other drainer holds (locked until
    this transaction ends), or BUSY when every such account is taken, or None with no backlog.

    Drainers work on different accounts at once and never on the same one: one account's events
    touch the same messages and counter rows, which two concurrent batches would fight over (and
    could deadlock on); different accounts' never do. Elsewhere (SQLite) one drainer runs at a time.
    """
    if connection.vendor != "postgresql":
        return None
    table = WebhookEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT account_id FROM {table} WHERE status = 'received' LIMIT 100"  # noqa: S608
        )
        accounts = [row[0] for row in cursor.fetchall()]
        for account_id in accounts:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, account_id])
            if cursor.fetchone()[0]:
                return account_id
    return BUSY if accounts else None


def requeue_failed(now=None) -> int:
    """Failed events that were received in good order go back to the queue, with a growing pause."""
    now = now or timezone.now()
    limit = getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 5)
    requeued = 0
    for attempts in range(1, limit):
        requeued += WebhookEvent.objects.filter(
            status=S.FAILED, http_status__lt=400, attempts=attempts,
            processed_at__lt=now - dt.timedelta(minutes=attempts * attempts),
        ).update(status=S.RECEIVED)  # fmt: skip
    return requeued


def save_marks(events: list[WebhookEvent]) -> None:
    """Write every event's new status in one statement (PostgreSQL) or one executemany, not a CASE per row."""
    table = WebhookEvent._meta.db_table
    if connection.vendor == "postgresql":  # one UPDATE … FROM unnest: one round trip, one short statement
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = v.status, error = v.error, outcome = v.outcome::jsonb, "  # noqa: S608
                "attempts = v.attempts, processed_at = v.processed_at FROM unnest(%s::bigint[], %s::text[], "
                "%s::text[], %s::text[], %s::int[], %s::timestamptz[]) AS v(id, status, error, outcome, attempts, "
                f"processed_at) WHERE {table}.id = v.id",
                [[e.pk for e in events], [str(e.status) for e in events], [e.error or "" for e in events],
                 [json.dumps(e.outcome or {}) for e in events], [e.attempts for e in events],
                 [e.processed_at for e in events]],
            )  # fmt: skip
        return
    cast = ""
    sql = (
        f"UPDATE {table} SET status = %s, error = %s, outcome = %s{cast}, attempts = %s, "  # noqa: S608
        "processed_at = %s WHERE id = %s"
    )
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (e.status, e.error, json.dumps(e.outcome or {}), e.attempts, adapt(e.processed_at), e.pk)
        for e in events
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def backlog() -> int:
    return WebhookEvent.objects.filter(status=S.RECEIVED).count()


def drain_webhook_events(*, max_seconds: float = 50.0, batch_size: int | None = None) -> dict:
    """Drain the backlog batch after batch, for at most max_seconds; returns counts by status.

    When every account with a backlog is held by another drainer, wait a moment and look again
    (a drainer finishing its account must not leave the others' backlog waiting for a kick).
    Returns with `more: True` when time ran out with events still waiting (the task re-queues).
    """
    requeue_failed()
    started = time.monotonic()
    totals: Counter = Counter()
    while True:
        counts = drain_batch(batch_size)
        totals.update(counts)
        if not counts and not backlog():
            return dict(totals)
        if time.monotonic() - started > max_seconds:
            break
        if not counts:
            time.sleep(0.2)  # the rest is held by other drainers
    result = dict(totals)
    if backlog():
        result["more"] = True
    return result


def reprocess_webhook_events(events) -> tuple[int, int]:
    """Queue events again (admin action, API). Refused and malformed requests and duplicates never run.

    Effects are idempotent (the status service is forward only, inbound messages are keyed by
    the provider's id), so processing an event again does not count it twice. → (queued, skipped)
    """
    ids = (
        list(events.values_list("pk", flat=True))
        if hasattr(events, "values_list")
        else [e.pk for e in events]
    )
    eligible = WebhookEvent.objects.filter(pk__in=ids, http_status__lt=400).exclude(status=S.DUPLICATE)
    queued = eligible.update(status=S.RECEIVED, error="")
    if queued:
        transaction.on_commit(kick_drainer_now)
    return queued, len(ids) - queued


def kick_drainer_now() -> None:
    from .tasks import process_webhook_events

    try:
        process_webhook_events.apply_async()
    except Exception:
        log.warning("Could not enqueue the webhook drainer", exc_info=True)


def refusal_text(event: WebhookEvent) -> str:
    return _("Refused (%(status)s): %(error)s") % {"status": event.http_status, "error": event.error}

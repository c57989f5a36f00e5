"""Things that happen to contacts, recorded once by the service that makes them happen.

`record_events(kind, contact_ids, ...)` appends one small `ContactEvent` row per contact, in one
statement however many contacts there are (an import adding 100,000 contacts to a list raises
100,000 events with one INSERT). Whoever consumes events (automations, today) reads the
unconsumed rows in batches through the partial index on `consumed_at IS NULL` and marks them
consumed; the services that record events know nothing about their consumers.

After the recording transaction commits, the `events_recorded` signal is sent (kinds only, no
rows) so a consumer can schedule a prompt drain instead of waiting for its periodic one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import django.dispatch
from django.db import connections, models, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

events_recorded = django.dispatch.Signal()  # sent on commit with kinds=set[str], count=int


class ContactEvent(models.Model):
    """One thing that happened to one contact (append-only; consumers mark what they have read)."""

    class Kind(models.TextChoices):
        CONTACT_CREATED = "contact_created", _("Contact created")
        LIST_ADDED = "list_added", _("Added to a list")
        LIST_REMOVED = "list_removed", _("Removed from a list")
        TAG_ADDED = "tag_added", _("Tag added")
        INBOUND_MESSAGE = "inbound_message", _("Message received")
        MESSAGE_STATUS = "message_status", _("Message status reached")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="events", db_index=False
    )
    data = models.JSONField(_("data"), default=dict, blank=True)
    source = models.CharField(
        _("source"), max_length=32, blank=True, help_text=_("Where it came from: manual, api, import, sync…")
    )
    dedupe_key = models.CharField(
        _("dedupe key"),
        max_length=200,
        null=True,
        blank=True,
        help_text=_("Recording the same kind, contact and key twice keeps one event (e.g. a message id)."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    consumed_at = models.DateTimeField(_("consumed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact event")
        verbose_name_plural = _("contact events")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "contact", "dedupe_key"],
                condition=Q(dedupe_key__isnull=False),
                name="contactevent_dedupe",
            ),
        ]
        indexes = [
            # The consumer's batch query: WHERE consumed_at IS NULL ORDER BY id LIMIT n.
            models.Index(
                fields=["id"], condition=Q(consumed_at__isnull=True), name="contactevent_pending_idx"
            ),
            # A contact's timeline.
            models.Index(fields=["contact", "created_at"], name="contactevent_contact_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.contact_id}"


KINDS = frozenset(ContactEvent.Kind.values)


def record_events(
    kind: str,
    contact_ids: QuerySet | Iterable[int],
    *,
    source: str = "",
    data: Mapping[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> int:
    """Record `kind` for every contact in `contact_ids`, in one INSERT; returns how many were asked.

    Call it inside the transaction that made the change, so the events commit (or roll back)
    with it. `data` is the same small JSON object for every contact (e.g. {"list_id": 3});
    `dedupe_key` makes the call idempotent per (kind, contact): a second event with the same
    key is dropped (use the provider's message id plus status, never a random value).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown contact event kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    if isinstance(contact_ids, QuerySet):
        ids = list(contact_ids.values_list("pk", flat=True))
    else:
        ids = [int(i) for i in contact_ids]
    if not ids:
        return 0
    payload = dict(data or {})
    source = (source or "")[:32]
    now = timezone.now()
    db = router.db_for_write(ContactEvent)
    connection = connections[db]
    table = ContactEvent._meta.db_table
    columns = f"INSERT INTO {table} (kind, contact_id, data, source, dedupe_key, created_at) "
    params = [kind, _json(payload), source, dedupe_key, connection.ops.adapt_datetimefield_value(now)]
    with connection.cursor() as cursor:
        # One statement with six parameters however many contacts (no per-row parameters).
        if connection.vendor == "postgresql":
            cursor.execute(
                columns + "SELECT %s, c, %s::jsonb, %s, %s, %s FROM unnest(%s::bigint[]) AS c "  # noqa: S608
                "ON CONFLICT DO NOTHING",
                [*params, ids],
            )
        else:  # SQLite: json_each; "WHERE true" lets the parser see the upsert clause
            cursor.execute(
                columns + "SELECT %s, value, %s, %s, %s, %s FROM json_each(%s) WHERE true "  # noqa: S608
                "ON CONFLICT DO NOTHING",
                [*params, _json(ids)],
            )
    _notify_on_commit(db, kind, len(ids))
    return len(ids)


def _json(value) -> str:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(value, cls=DjangoJSONEncoder)


def _notify_on_commit(db: str, kind: str, count: int) -> None:
    """Send `events_recorded` after the surrounding transaction commits (never for a rollback).

    Receivers should be cheap and idempotent (schedule a drain that takes a lock): a service
    that records three kinds in one transaction sends three signals.
    """
    if not events_recorded.has_listeners(ContactEvent):
        return
    transaction.on_commit(
        lambda: events_recorded.send(sender=ContactEvent, kinds={kind}, count=count), using=db
    )


# --- what consumers listen for -------------------------------------------------------------------
#
# Bulk writers (imports: 2-3 events per contact, millions for a big file) record only the kinds a
# consumer listens for. A consumer registers a callable returning the kinds it wants *now* (e.g.
# automations: the trigger types of its enabled automations); contacts never imports it. With no
# consumer registered every kind is recorded (the safe default). Single-contact services keep
# recording every kind: their cost is negligible.

_listeners: list[Callable[[], Iterable[str]]] = []


def register_listened_kinds(func: Callable[[], Iterable[str]]) -> None:
    """Register `func() -> kinds this consumer listens for now` (call it from AppConfig.ready)."""
    if func not in _listeners:
        _listeners.append(func)


def unregister_listened_kinds(func: Callable[[], Iterable[str]]) -> None:
    if func in _listeners:
        _listeners.remove(func)


def listened_kinds() -> frozenset[str]:
    """The kinds some consumer listens for now (every kind when no consumer registered)."""
    if not _listeners:
        return KINDS
    kinds: set[str] = set()
    for func in _listeners:
        kinds.update(func())
    return frozenset(kinds) & KINDS


def record_imported(
    kind: str, contact_ids: Iterable[int], *, list_id: int | None = None, data: Mapping | None = None,
    kinds: frozenset[str] | None = None,
) -> int:  # fmt: skip
    """The import pipeline's hook: `kind` for contacts an import created, added to its list or tagged.

    `kinds` is what consumers listen for (listened_kinds(), asked once per batch); a kind nobody
    listens for is not recorded.
    """
    if kind not in (kinds if kinds is not None else listened_kinds()):
        return 0
    payload = dict(data or {})
    if list_id:
        payload.setdefault("list_id", list_id)
    return record_events(kind, list(contact_ids), source="import", data=payload or None)


def copy_imported(cursor, events: list[tuple[str, dict, Iterable[int]]], *, kinds: frozenset[str]) -> int:
    """PostgreSQL: the events of one import batch of new contacts, in one COPY (no conflicts possible:
    import events carry no dedupe key). `events` is [(kind, data, contact ids)]; `cursor` is a
    Django cursor inside the batch's transaction. Returns the rows written."""
    now = timezone.now().isoformat().encode()
    parts, counts = [], {}
    for kind, data, ids in events:
        if kind not in kinds:
            continue
        tail = b"\t%s\timport\t%s\n" % (_json(data or {}).replace("\\", "\\\\").encode(), now)
        head = kind.encode() + b"\t"
        before = len(parts)
        parts.extend(b"%s%d%s" % (head, pk, tail) for pk in ids)
        counts[kind] = counts.get(kind, 0) + len(parts) - before
    if not parts:
        return 0
    table = ContactEvent._meta.db_table
    with cursor.cursor.copy(f"COPY {table} (kind, contact_id, data, source, created_at) FROM STDIN") as copy:
        copy.write(b"".join(parts))
    db = router.db_for_write(ContactEvent)
    for kind, n in counts.items():
        _notify_on_commit(db, kind, n)
    return len(parts)


def record_sync_membership(list_id: int, added: Iterable[int], removed: Iterable[int]) -> None:
    """The sync engine's hook: list_added / list_removed for members a list sync changed here."""
    record_events("list_added", list(added), source="sync", data={"list_id": list_id})
    record_events("list_removed", list(removed), source="sync", data={"list_id": list_id})

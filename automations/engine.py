"""The automation engine: events → runs (once per automation x contact x event) → actions, in batches.

- `drain_events()` reads unconsumed ContactEvents in batches (SKIP LOCKED on PostgreSQL), matches
  them against the switched-on automations, checks conditions for the whole batch, writes the runs
  in bulk (the unique key automation x contact x key makes a repeat a no-op) and marks the
  events consumed, all in one transaction per batch.
- `run_due()` executes runs whose next step is due (new runs are due at once; delayed steps
  later; all persisted, so a delay survives restarts). Runs are grouped by (automation, step) so
  each action runs once per group: O(1) queries per batch, whatever its size.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.events import ContactEvent
from contacts.models import Contact

from .conditions import check_conditions
from .models import Automation, AutomationRun, AutomationStep

log = logging.getLogger(__name__)
# Set while this thread drains: events our own actions record are picked up by the same loop,
# so the post-commit kick need not start a nested drain (matters where Celery runs eagerly).
draining: ContextVar[bool] = ContextVar("automations_draining", default=False)

BATCH = 5000  # events per batch; a multiple of Spoki's 500 keeps its bulk calls full
MAX_ATTEMPTS = 3
LEASE = dt.timedelta(minutes=10)  # a run claimed by a worker that died is taken up again after this
STATUS_REACHED = {"delivered": {"delivered", "read"}, "read": {"read"}, "failed": {"failed"}}
WATCH_ON = {"sent", "delivered", "read", "queued"}  # statuses that start a "did not reach" watch


@dataclass
class Outcome:
    """What an action did for one run."""

    status: str = AutomationStep.Status.SUCCEEDED
    error: str = ""
    detail: dict = field(default_factory=dict)
    retry_at: dt.datetime | None = None  # postpone without counting an attempt (sending window)
    final: bool = False  # failed for good: retrying could act twice or cannot help


# --- matching -----------------------------------------------------------------------------------


def _run_key(event: ContactEvent) -> str:
    return f"{event.kind}:{event.dedupe_key}" if event.dedupe_key else f"e:{event.pk}"


def _keyword_match(trigger: dict, text: str) -> bool:
    text = (text or "").strip().casefold()
    if not text:
        return False
    if trigger.get("match") == "contains":
        return any(k in text for k in trigger["keywords"])
    return text in trigger["keywords"]


def match_event(automation: Automation, event: ContactEvent) -> tuple[str, dict, dt.datetime | None] | None:
    """(run key, trigger data, due_at override) when `event` triggers `automation`, else None."""
    trigger, data = automation.trigger, event.data or {}
    kind = trigger.get("type")
    if automation.enabled_at and event.created_at < automation.enabled_at:
        return None  # switching on never acts on the past
    base = {"event": event.kind, "event_id": event.pk, "source": event.source, **data}
    if kind == "contact_created" and event.kind == "contact_created":
        sources = trigger.get("sources")
        if sources and event.source not in sources:
            return None
        return _run_key(event), base, None
    if kind in ("list_added", "list_removed") and event.kind == kind:
        return (_run_key(event), base, None) if data.get("list_id") == trigger.get("list") else None
    if kind == "tag_added" and event.kind == "tag_added":
        return (_run_key(event), base, None) if data.get("tag") == trigger.get("tag") else None
    if kind == "inbound_keyword" and event.kind == "inbound_message":
        return (_run_key(event), base, None) if _keyword_match(trigger, data.get("text", "")) else None
    if kind == "message_status" and event.kind == "message_status":
        if trigger.get("campaign") and data.get("campaign_id") != trigger["campaign"]:
            return None
        if trigger.get("channel") and data.get("channel") != trigger["channel"]:
            return None
        message, status = data.get("message_id"), data.get("status")
        if trigger.get("within_hours"):
            # "Did not reach <status> within N hours": the first status of a message starts a
            # watch; when it is due, the run goes on only if the status was not reached.
            if status not in WATCH_ON or status in STATUS_REACHED[trigger["status"]]:
                return None
            due = event.created_at + dt.timedelta(hours=trigger["within_hours"])
            return f"missed:{message}:{trigger['status']}", {**base, "watch": trigger["status"]}, due
        if status in STATUS_REACHED[trigger["status"]]:
            return f"msg:{message}:{trigger['status']}", base, None
    return None


class RunRow:
    """A run being created or executed: the columns of AutomationRun as plain attributes.

    The engine builds tens of thousands of these a minute; a model instance per run cost more
    than the SQL that writes them. `claim_due` still hands out AutomationRun instances, which
    have the same attributes, so execute_batch takes either.
    """

    __slots__ = ("attempts", "automation", "automation_id", "conditions_checked", "contact_id", "created_at",
                 "due_at", "error", "event_id", "finished_at", "key", "next_step", "pk", "status", "trigger_data")  # fmt: skip

    def __init__(self, automation, contact_id, key, trigger_data, *, event_id=None, due_at=None, created_at=None):
        self.automation, self.automation_id, self.contact_id = automation, automation.pk, contact_id
        self.key, self.trigger_data, self.event_id = key, trigger_data, event_id
        self.due_at, self.created_at, self.finished_at = due_at, created_at, None
        self.status, self.error, self.conditions_checked = "pending", "", []
        self.next_step = self.attempts = 0
        self.pk = None


def new_run(automation: Automation, contact_id: int, key: str, trigger_data: dict, *, event_id=None,
            due_at=None, now=None) -> RunRow:  # fmt: skip
    now = now or timezone.now()
    first_delay = (automation.actions[0].get("delay_seconds") or 0) if automation.actions else 0
    return RunRow(automation, contact_id, key[:200], trigger_data, event_id=event_id, created_at=now,
                  due_at=due_at or (now + dt.timedelta(seconds=first_delay)))  # fmt: skip


def create_runs(
    automation: Automation, runs: list[RunRow], *, check: bool = True, lease_from: dt.datetime | None = None
) -> list[RunRow]:
    """Write `runs` of one automation that do not exist yet; conditions decide pending vs skipped.

    The unique key (automation, contact, key) decides what "exists": on PostgreSQL one
    INSERT … ON CONFLICT DO NOTHING RETURNING writes the batch and says which rows are new, so
    two workers racing on the same events cannot both write a run. With `lease_from`, runs due
    by then are written already leased (running) to this worker, which performs them right
    after its transaction commits. Queries: one per condition, one INSERT — O(1) per batch.
    """
    if not runs:
        return []
    seen, unique = set(), []
    for run in runs:
        if (run.contact_id, run.key) not in seen:
            seen.add((run.contact_id, run.key))
            unique.append(run)
    checked = (
        check_conditions(automation.conditions, [r.contact_id for r in unique])
        if check and automation.conditions else {}
    )  # fmt: skip
    now = timezone.now()
    for run in unique:
        results = checked.get(run.contact_id, [])
        run.conditions_checked = results
        if any(not r["ok"] for r in results):
            failed = ", ".join(r["condition"] for r in results if not r["ok"])
            run.status, run.error, run.finished_at, run.due_at = (
                "skipped", _("Conditions not met: %(c)s") % {"c": failed}, now, None,
            )  # fmt: skip
        elif lease_from is not None and run.due_at and run.due_at <= lease_from:
            run.status, run.due_at = "running", lease_from + LEASE
    if connection.vendor == "postgresql":
        return _insert_runs_pg(unique)
    return _insert_runs_orm(automation, unique)


_RUN_COLUMNS = ("automation_id", "contact_id", "event_id", "key", "status", "trigger_data", "conditions_checked",
                "due_at", "error", "created_at", "finished_at")  # fmt: skip
_RUN_TYPES = ("bigint", "bigint", "bigint", "text", "text", "jsonb", "jsonb", "timestamptz", "text", "timestamptz",
              "timestamptz")  # fmt: skip


def _insert_runs_pg(runs: list[RunRow]) -> list[RunRow]:
    """One statement for the batch; rows of contacts deleted meanwhile are left out (no run to show)."""
    table, contacts = AutomationRun._meta.db_table, Contact._meta.db_table
    iso: dict = {}  # the runs of a batch share a handful of timestamps: format each once

    def value(v):
        if isinstance(v, dt.datetime):
            text = iso.get(v)
            if text is None:
                text = iso[v] = v.isoformat()
            return text
        return v

    rows = [{c: value(getattr(r, c)) for c in _RUN_COLUMNS} for r in runs]
    columns = ", ".join(_RUN_COLUMNS)
    record = ", ".join(f"{c} {t}" for c, t in zip(_RUN_COLUMNS, _RUN_TYPES, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}, next_step, attempts) "  # noqa: S608
            f"SELECT {', '.join('r.' + c for c in _RUN_COLUMNS)}, 0, 0 "
            f"FROM jsonb_to_recordset(%s::jsonb) AS r({record}) "
            f"WHERE EXISTS (SELECT 1 FROM {contacts} c WHERE c.id = r.contact_id) "
            "ON CONFLICT ON CONSTRAINT automationrun_once DO NOTHING RETURNING id, contact_id, key",
            [_dumps(rows)],
        )
        written = {(contact_id, key): pk for pk, contact_id, key in cursor.fetchall()}
    fresh = []
    for run in runs:
        pk = written.get((run.contact_id, run.key))
        if pk is not None:
            run.pk = pk
            fresh.append(run)
    return fresh


def _insert_runs_orm(automation: Automation, runs: list[RunRow]) -> list[RunRow]:
    """Other databases (SQLite in the embedded default): existing keys first, then bulk_create."""
    existing = set(
        AutomationRun.objects.filter(automation=automation, key__in={r.key for r in runs}).values_list(
            "contact_id", "key"
        )
    )
    live = set(Contact.objects.filter(pk__in=[r.contact_id for r in runs]).values_list("pk", flat=True))
    fresh = [r for r in runs if (r.contact_id, r.key) not in existing and r.contact_id in live]
    objects = [AutomationRun(**{c: getattr(r, c) for c in _RUN_COLUMNS}) for r in fresh]
    try:
        with transaction.atomic():
            AutomationRun.objects.bulk_create(objects)
    except IntegrityError:  # another worker wrote some of the same runs a moment ago
        for obj in objects:
            try:
                with transaction.atomic():
                    obj.save(force_insert=True)
            except IntegrityError:
                obj.pk = None
    by_key = {(o.contact_id, o.key): o.pk for o in objects}
    if objects and objects[0].pk is None:  # backends without RETURNING
        by_key = {(c, k): pk for pk, c, k in AutomationRun.objects.filter(
            automation=automation, key__in={r.key for r in fresh}).values_list("pk", "contact_id", "key")}  # fmt: skip
    out = []
    for run in fresh:
        run.pk = by_key.get((run.contact_id, run.key))
        if run.pk is not None:
            out.append(run)
    return out


class _Encoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, but datetimes keep their microseconds (it cuts them to milliseconds)."""

    def default(self, o):
        if isinstance(o, dt.datetime):
            return o.isoformat()
        return super().default(o)


def _dumps(value) -> str:
    return json.dumps(value, cls=_Encoder, separators=(",", ":"))


def _id_array(ids) -> str:
    """A PostgreSQL array literal of integers: one short string parameter instead of thousands."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def _lock(qs):
    return (
        qs.select_for_update(skip_locked=True)
        if connection.features.has_select_for_update_skip_locked
        else qs
    )


def drain_events(*, batch_size: int = BATCH, max_batches: int | None = None, execute: bool = True) -> dict:
    """Consume pending events in batches; returns counts {events, runs, skipped, batches}."""
    token = draining.set(True)
    try:
        return _drain(batch_size, max_batches, execute)
    finally:
        draining.reset(token)


class _Event:
    """The columns of a ContactEvent the matcher reads (cheaper than a model instance per row)."""

    __slots__ = ("contact_id", "created_at", "data", "dedupe_key", "kind", "pk", "source")
    FIELDS = ("pk", "kind", "contact_id", "data", "source", "dedupe_key", "created_at")

    def __init__(self, row):
        for name, value in zip(self.FIELDS, row, strict=True):
            setattr(self, name, value)


_EVENT_SQL = (
    "UPDATE {table} SET consumed_at = %s WHERE id IN (SELECT id FROM {table} WHERE consumed_at IS NULL "
    "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id, kind, contact_id, data, source, dedupe_key, created_at"
)


def _take_events(batch_size: int, now) -> list[_Event]:
    """Read the next batch of pending events and mark them consumed (inside the caller's transaction).

    PostgreSQL: one UPDATE … RETURNING over the oldest unconsumed ids (SKIP LOCKED, so parallel
    workers take different batches). If the transaction rolls back, so does the marking.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_EVENT_SQL.format(table=ContactEvent._meta.db_table), [now, batch_size])
            events = [_Event(row) for row in cursor.fetchall()]
        for event in events:  # Django leaves jsonb undecoded on raw cursors
            if isinstance(event.data, str):
                event.data = json.loads(event.data)
        events.sort(key=lambda e: e.pk)
        return events
    pending = ContactEvent.objects.filter(consumed_at__isnull=True).order_by("pk")
    events = [_Event(row) for row in _lock(pending).values_list(*_Event.FIELDS)[:batch_size]]
    if events:
        ContactEvent.objects.filter(pk__in=[e.pk for e in events]).update(consumed_at=now)
    return events


def _drain(batch_size: int, max_batches: int | None, execute: bool) -> dict:
    totals = {"events": 0, "runs": 0, "skipped": 0, "batches": 0}
    while max_batches is None or totals["batches"] < max_batches:
        now = timezone.now()
        with transaction.atomic():
            events = _take_events(batch_size, now)
            if not events:
                break
            automations = list(Automation.objects.filter(enabled=True))
            created: list[RunRow] = []
            # Runs due now are written leased to this worker in the same statement and performed
            # right after the transaction commits, without reading them back; a crash leaves them
            # to the beat once the lease runs out.
            lease_from = now if execute else None
            for automation in automations:
                runs = []
                for event in events:
                    matched = match_event(automation, event)
                    if matched:
                        key, data, due = matched
                        runs.append(
                            new_run(automation, event.contact_id, key, data, event_id=event.pk, due_at=due, now=now)
                        )
                created += create_runs(
                    automation, runs, check=not automation.trigger.get("within_hours"), lease_from=lease_from
                )
        due = [r for r in created if r.status == "running"]
        totals["events"] += len(events)
        totals["batches"] += 1
        totals["runs"] += sum(1 for r in created if r.status in ("pending", "running"))
        totals["skipped"] += sum(1 for r in created if r.status == "skipped")
        if due:
            execute_batch(due)
    return totals


# --- execution -----------------------------------------------------------------------------------


def claim_due(*, run_ids: list[int] | None = None, limit: int = BATCH) -> list[AutomationRun]:
    """Lease due runs to this worker (status running, due_at = now + LEASE) and return them."""
    now = timezone.now()
    with transaction.atomic():
        qs = AutomationRun.objects.filter(status__in=["pending", "running"], due_at__lte=now)
        if run_ids is not None:
            qs = qs.filter(pk__in=run_ids)
        ids = list(_lock(qs.order_by("due_at", "pk")).values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        AutomationRun.objects.filter(pk__in=ids).update(status="running", due_at=now + LEASE)
    runs = list(
        AutomationRun.objects.filter(pk__in=ids).defer("conditions_checked", "created_at").order_by("pk")
    )
    # One Automation object per automation, shared by its runs (not one parsed copy per run).
    automations = Automation.objects.in_bulk({r.automation_id for r in runs})
    for run in runs:
        run._state.fields_cache["automation"] = automations[run.automation_id]
    return runs


def run_due(
    *, run_ids: list[int] | None = None, batch_size: int = BATCH, max_batches: int | None = None
) -> dict:
    """Execute every due run (or the given ones), batch by batch; returns counts by final status."""
    totals: dict[str, int] = defaultdict(int)
    batches = 0
    while max_batches is None or batches < max_batches:
        runs = claim_due(run_ids=run_ids, limit=batch_size)
        if not runs:
            break
        batches += 1
        for status, n in execute_batch(runs).items():
            totals[status] += n
        if run_ids is not None:
            break
    return dict(totals)


def _watch_reached(runs: list[AutomationRun]) -> set[int]:
    """Runs of "did not reach a status" whose message did reach it (one query)."""
    watching = [r for r in runs if r.trigger_data.get("watch") and r.next_step == 0]
    if not watching:
        return set()
    messages = {r.trigger_data.get("message_id") for r in watching}
    reached = set()
    for message_id, status in ContactEvent.objects.filter(
        kind="message_status", data__message_id__in=list(messages)
    ).values_list("data__message_id", "data__status"):
        reached.add((message_id, status))
    out = set()
    for run in watching:
        wanted = STATUS_REACHED[run.trigger_data["watch"]]
        if any((run.trigger_data.get("message_id"), s) in reached for s in wanted):
            out.add(run.pk)
    return out


def execute_batch(runs: list[AutomationRun]) -> dict[str, int]:
    """Run each run's due actions in order until it finishes or waits; write steps and runs in bulk."""
    from .actions import perform

    now = timezone.now()
    steps: list[tuple] = []
    reached = _watch_reached(runs)
    active = []
    for run in runs:
        if run.pk in reached:
            run.status, run.finished_at, run.due_at = "skipped", now, None
            run.error = _("The message reached “%(s)s” in time.") % {"s": run.trigger_data["watch"]}
        elif not run.automation.enabled and run.next_step == 0 and not run.trigger_data.get("past"):
            run.status, run.finished_at, run.due_at = "skipped", now, None
            run.error = _("The automation was switched off before it ran.")
        else:
            active.append(run)
    while active:
        groups: dict[tuple[int, int], list[AutomationRun]] = defaultdict(list)
        for run in active:
            groups[(run.automation_id, run.next_step)].append(run)
        carry_on = []
        for (_automation_id, index), group in groups.items():
            automation = group[0].automation
            action = automation.actions[index]
            try:
                outcomes = perform(automation, action, group)
            except Exception as exc:
                log.warning("automation %s action %s failed: %s", automation.pk, action["type"], exc)
                outcomes = {run.pk: Outcome("failed", str(exc)[:500]) for run in group}
            now = timezone.now()
            for run in group:
                outcome = outcomes.get(run.pk) or Outcome("failed", _("The action gave no result."))
                if outcome.retry_at is not None:
                    run.status, run.due_at = "pending", outcome.retry_at
                    continue
                if outcome.status == "failed":
                    run.attempts += 1
                    if run.attempts < MAX_ATTEMPTS and not outcome.final:
                        steps.append(_step(run, index, action, "retrying", outcome, now))
                        run.status, run.due_at = "pending", now + dt.timedelta(minutes=2**run.attempts)
                        run.error = outcome.error
                    else:
                        steps.append(_step(run, index, action, "failed", outcome, now))
                        run.status, run.finished_at, run.due_at = "failed", now, None
                        run.error = (
                            _("%(action)s failed: %(error)s") % {"action": action["type"], "error": outcome.error}
                            if outcome.final else
                            _("%(action)s failed after %(n)s attempts: %(error)s") % {
                                "action": action["type"], "n": run.attempts, "error": outcome.error}
                        )  # fmt: skip
                    continue
                steps.append(_step(run, index, action, outcome.status, outcome, now))
                run.attempts, run.error = 0, ""
                run.next_step = index + 1
                if run.next_step >= len(automation.actions):
                    run.status, run.finished_at, run.due_at = "succeeded", now, None
                    continue
                delay = automation.actions[run.next_step].get("delay_seconds") or 0
                if delay:
                    run.status, run.due_at = "pending", now + dt.timedelta(seconds=delay)
                else:
                    carry_on.append(run)
        active = carry_on
    with transaction.atomic():
        _insert_steps(steps)
        _save_runs(runs)
    counts: dict[str, int] = defaultdict(int)
    for run in runs:
        counts[run.status] += 1
    return dict(counts)


def _insert_steps(steps: list[tuple]) -> None:
    """All steps of a batch in one statement (PostgreSQL: one JSON parameter; elsewhere bulk_create)."""
    if not steps:
        return
    if connection.vendor != "postgresql":
        AutomationStep.objects.bulk_create([AutomationStep(**dict(zip(_STEP_COLUMNS, s, strict=True))) for s in steps],
                                           batch_size=5000)  # fmt: skip
        return
    record = ", ".join(f"{c} {t}" for c, t in zip(_STEP_COLUMNS, _STEP_TYPES, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AutomationStep._meta.db_table} ({', '.join(_STEP_COLUMNS)}) "  # noqa: S608
            f"SELECT {', '.join('s.' + c for c in _STEP_COLUMNS)} FROM jsonb_to_recordset(%s::jsonb) AS s({record})",
            [_dumps(steps_as_dicts(steps))],
        )


_STEP_COLUMNS = ("run_id", "index", "action", "status", "error", "detail", "at")
_STEP_TYPES = ("bigint", "smallint", "text", "text", "text", "jsonb", "timestamptz")


def steps_as_dicts(steps: list[tuple]) -> list[dict]:
    return [dict(zip(_STEP_COLUMNS, s, strict=True)) for s in steps]


RUN_FIELDS = ("status", "next_step", "due_at", "attempts", "error", "finished_at")


def _save_runs(runs) -> None:
    """One UPDATE per distinct outcome (runs of a batch mostly share theirs), not one per run.

    Django's bulk_update writes a CASE per row, which costs more than the actions themselves
    at thousands of runs a batch; grouping keeps it to a handful of statements, each naming its
    runs with one array parameter on PostgreSQL.
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for run in runs:
        groups[tuple(getattr(run, f) for f in RUN_FIELDS)].append(run.pk)
    for values, ids in groups.items():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {AutomationRun._meta.db_table} SET {', '.join(f + ' = %s' for f in RUN_FIELDS)} "  # noqa: S608
                    "WHERE id = ANY(%s::bigint[])",
                    [*values, _id_array(ids)],
                )
        else:
            AutomationRun.objects.filter(pk__in=ids).update(**dict(zip(RUN_FIELDS, values, strict=True)))


def _step(run, index, action, status, outcome: Outcome, at) -> tuple:
    """A step as a plain tuple in _STEP_COLUMNS order (no model instance per step)."""
    return (run.pk, index, action["type"], status, outcome.error[:2000], outcome.detail, at)

"""Switchboard-run campaigns: one message row per recipient, then a single paced runner sends them.

1. `materialize_recipients` writes every recipient's Message (status queued, or skipped when the
   frequency cap holds them back) with a deterministic idempotency key `c<campaign>-<contact>`,
   the audience count and the counters, all in one transaction: after it, the funnel adds up.
2. `run_campaign` sends them through messaging.sending.dispatch (batch calls where the provider
   has them), paced at the campaign's rate, holding a lease so only one runner works on a
   campaign. There is no cursor to lose: a message leaves the queue only when its outcome is
   recorded, so "where to resume" is the set of queued rows (listmonk #3022 cannot happen),
   and rows claimed by a runner that died are resolved (looked up or marked unknown), never
   resent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
import zoneinfo
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumbers import timezone as phone_timezone

from messaging.message_models import Message
from messaging.sending import dispatch, resolve_stale_dispatches
from messaging.stats import StatDeltas

from ..models import Campaign
from . import lifecycle
from .audience import compute_audience
from .links import LinkTracker
from .rules import render_for

logger = logging.getLogger("switchboard.campaigns")

LEASE_SECONDS = 90
WRITE_BATCH = 2000
RUN_SLICE_SECONDS = 240  # a runner task hands over to a fresh task after this long


# --- recipients ------------------------------------------------------------------------------


def reference_for(campaign_id: int, contact_id: int) -> str:
    return f"c{campaign_id}-{contact_id}"


def frequency_capped(contact_ids_qs) -> set[int]:
    """Contacts that already got their share of marketing messages (the cap shared by all campaigns)."""
    caps = [(settings.SWITCHBOARD_FREQUENCY_CAP_PER_DAY, dt.timedelta(days=1)),
            (settings.SWITCHBOARD_FREQUENCY_CAP_PER_WEEK, dt.timedelta(days=7))]  # fmt: skip
    held: set[int] = set()
    now = timezone.now()
    for limit, span in caps:
        if not limit:
            continue
        rows = (
            Message.objects.filter(
                is_marketing=True, direction=Message.Direction.OUTBOUND, created_at__gte=now - span,
                contact_id__in=contact_ids_qs,
            )
            .exclude(status=Message.Status.SKIPPED)
            .values("contact_id")
            .annotate(n=Count("id"))
            .filter(n__gte=limit)
        )  # fmt: skip
        held.update(r["contact_id"] for r in rows)
    return held


def materialize_recipients(campaign: Campaign) -> int:
    """Write every recipient's message row (idempotent: a second call writes nothing).

    One transaction: rows, counters and the audience count commit together, so the funnel
    adds up from the first moment anyone can see the campaign sending. On PostgreSQL the
    rows go in with COPY (100,000 in seconds); elsewhere with bulk_create.
    """
    if Message.objects.filter(campaign=campaign).exists():
        return 0
    audience = compute_audience(campaign)
    contacts = audience.contacts
    held = frequency_capped(contacts.values("pk")) if campaign.apply_frequency_cap else set()
    fields = ["pk", "phone", "first_name", "last_name", "email", "language", "gender", "company", "address",
              "city", "province", "postal_code", "country", "fields"]  # fmt: skip
    now = timezone.now()
    held_reason = _("Held back: the contact reached the frequency cap.")
    writer = _CopyWriter(now) if connection.vendor == "postgresql" else _OrmWriter(now)
    counts = {"queued": 0, "skipped": 0}
    links = LinkTracker(campaign)  # click tracking: rewrites texts, writes the links per batch
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if Message.objects.filter(campaign=campaign).exists():
            return 0
        last = 0
        while True:
            # Keyset pages, fully fetched before writing: COPY needs the connection to itself.
            page = list(contacts.filter(pk__gt=last).only(*fields)[:WRITE_BATCH])
            if not page:
                break
            last = page[-1].pk
            for contact in page:
                skipped = contact.pk in held
                counts["skipped" if skipped else "queued"] += 1
                reference = reference_for(campaign.pk, contact.pk)
                rendered = render_for(campaign, contact)
                writer.add({
                    "account_id": campaign.account_id, "campaign_id": campaign.pk, "contact_id": contact.pk,
                    "phone": contact.phone, "channel": campaign.channel, "sender": campaign.sender,
                    "status": Message.Status.SKIPPED if skipped else Message.Status.QUEUED,
                    "error_message": held_reason if skipped else "", "is_marketing": True, "source": "campaign",
                    "reference": reference, **(rendered if skipped else links.rewrite(reference, rendered)),
                })  # fmt: skip
            writer.close()
            links.flush()
        written = counts["queued"] + counts["skipped"]
        deltas = StatDeltas()
        probe = Message(campaign_id=campaign.pk, account_id=campaign.account_id, channel=campaign.channel)
        deltas.add(probe, "created", written, at=now)
        for level, n in counts.items():
            if n:
                deltas.add(probe, level, n, at=now)
        deltas.flush()
        locked.audience_count = written
        locked.excluded_counts = {**audience.excluded, "frequency_cap": len(held)}
        locked.save(update_fields=["audience_count", "excluded_counts", "updated_at"])
    campaign.audience_count = written
    campaign.excluded_counts = locked.excluded_counts
    return written


class _OrmWriter:
    def __init__(self, now):
        self.now, self.batch = now, []

    def add(self, values: dict) -> None:
        self.batch.append(Message(created_at=self.now, **values))
        if len(self.batch) >= WRITE_BATCH:
            self.close()

    def close(self) -> None:
        if self.batch:
            Message.objects.bulk_create(self.batch, batch_size=WRITE_BATCH)
            self.batch = []


_PLAIN = {"ForeignKey", "CharField", "TextField", "BooleanField", "IntegerField", "BigIntegerField",
          "PositiveIntegerField", "SmallIntegerField", "PositiveSmallIntegerField"}  # fmt: skip


def _copy_adapter(field):
    """How one column's value goes into COPY: as it is for ids, text and flags (the driver types
    them), JSON as its text, anything else through the field's own adapter."""
    kind = field.get_internal_type()
    if kind in _PLAIN:
        return lambda value: value
    if kind == "JSONField":
        encoder = field.encoder or DjangoJSONEncoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    return lambda value: field.get_db_prep_save(value, connection)


class _CopyWriter:
    """COPY rows into messaging_message, every column prepared by its own field (defaults included).

    The defaults are prepared once; per row only the columns the recipient sets are (about a
    third of them): 100,000 rows times every field through its adapter cost more than the COPY.
    """

    def __init__(self, now):
        self.fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
        defaults = {f.attname: f.get_default() for f in self.fields}
        defaults.update(created_at=now, updated_at=now)
        self.prepared = [f.get_db_prep_save(defaults[f.attname], connection) for f in self.fields]
        self.position = {}
        for i, f in enumerate(self.fields):
            self.position[f.attname] = self.position[f.name] = (i, _copy_adapter(f))
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.sql = f"COPY {Message._meta.db_table} ({columns}) FROM STDIN"
        self.rows: list[list] = []

    def add(self, values: dict) -> None:
        row = list(self.prepared)
        for name, value in values.items():
            i, adapt = self.position[name]
            row[i] = adapt(value)
        self.rows.append(row)

    def close(self) -> None:
        if not self.rows:
            return
        with connection.cursor() as cursor, cursor.cursor.copy(self.sql) as copy:
            for row in self.rows:
                copy.write_row(row)
        self.rows = []


# --- sending window --------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _zone_for_region(region: str) -> str:
    example = phonenumbers.example_number(region) if region else None
    zones = phone_timezone.time_zones_for_number(example) if example else ()
    return zones[0] if zones and zones[0] != "Etc/Unknown" else settings.TIME_ZONE


@lru_cache(maxsize=4096)
def _zone_for_prefix(phone_prefix: str) -> str:
    try:
        number = phonenumbers.parse(phone_prefix)
    except phonenumbers.NumberParseException:
        return settings.TIME_ZONE
    return _zone_for_region(phonenumbers.region_code_for_number(number) or "")


def recipient_zone(phone: str, country: str = "") -> zoneinfo.ZoneInfo:
    """The recipient's time zone: their country when we know it, else their phone's country."""
    name = _zone_for_region(country.upper()) if country else _zone_for_prefix(phone)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def next_opening(campaign: Campaign, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """None when `now` is inside the campaign's window in `zone`, else when the window next opens."""
    if campaign.window_start is None or campaign.window_end is None:
        return None
    days = set(campaign.window_days or range(7))
    local = now.astimezone(zone)
    if local.weekday() in days and campaign.window_start <= local.time() < campaign.window_end:
        return None
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        opening = dt.datetime.combine(day, campaign.window_start, tzinfo=zone)
        if opening > local:
            return opening.astimezone(dt.UTC)
    return None


# --- the runner ------------------------------------------------------------------------------


@dataclass
class RunReport:
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    deferred: int = 0
    status: str = ""
    again_in: float | None = None  # seconds until the runner should be called again
    detail: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "unknown": self.unknown, "deferred": self.deferred,
                "status": self.status, "again_in": self.again_in, "detail": self.detail}  # fmt: skip


def acquire_lease(campaign_id: int, token: str) -> bool:
    """Take (or renew) the one-runner lease; False when another live runner holds it."""
    now = timezone.now()
    return bool(
        Campaign.objects.filter(pk=campaign_id)
        .filter(Q(runner_until__isnull=True) | Q(runner_until__lt=now) | Q(runner_token=token))
        .update(runner_token=token, runner_until=now + dt.timedelta(seconds=LEASE_SECONDS))
    )


def release_lease(campaign_id: int, token: str) -> None:
    Campaign.objects.filter(pk=campaign_id, runner_token=token).update(runner_token="", runner_until=None)


class Pacer:
    """Keeps a runner at `rate` messages per second (the campaign's rate, ≤ the provider's limit).

    The schedule is absolute: each call is due `n / rate` after the previous one was due, not
    after it finished, so the time a call and its recording take is inside the budget rather
    than added to it. A call that overruns its slot is made up by the next ones going sooner,
    up to `catch_up` seconds of lost time (so a stall does not turn into a burst); the
    provider's own limit is still enforced by its client's rate limiter.
    """

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep, catch_up: float = 1.0):
        self.interval = 1.0 / max(rate, 0.001)
        self.clock, self.sleep = clock, sleep
        self.catch_up = catch_up
        self.next_at = clock()

    def wait_for(self, n: int) -> None:
        now = self.clock()
        if self.next_at > now:
            self.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now - self.catch_up) + n * self.interval


def _recent_outcomes(campaign: Campaign) -> list[bool]:
    """The last `failure_window` outcomes since the campaign last (re)started, oldest first (True: failed).

    A resume starts a fresh window: staff resumed on purpose, so the failures that paused it
    do not pause it again on the first message.
    """
    since = (
        campaign.transitions.filter(to_status=Campaign.Status.SENDING).order_by("-at").values_list("at", flat=True)
        .first()
    )  # fmt: skip
    statuses = list(
        Message.objects.filter(campaign=campaign, dispatched_at__gte=since or campaign.created_at)
        .exclude(status=Message.Status.QUEUED)
        .order_by("-id")
        .values_list("status", flat=True)[: max(1, campaign.failure_window)]
    )
    return [s == Message.Status.FAILED for s in reversed(statuses)]


def _too_many_failures(campaign: Campaign, recent: deque) -> bool:
    """Auto-pause (with the reason in words) when failures over the last N messages pass the threshold."""
    if len(recent) < recent.maxlen:
        return False
    failed = sum(recent)
    if failed * 100 <= campaign.failure_threshold_percent * len(recent):
        return False
    lifecycle.pause_campaign(
        campaign,
        reason=_("Paused automatically: %(failed)s of the last %(n)s messages failed "
                 "(more than %(pct)s%%). Check the failures below, then resume.")
        % {"failed": failed, "n": len(recent), "pct": campaign.failure_threshold_percent},
    )  # fmt: skip
    return True


def run_campaign(campaign_id: int, *, token: str | None = None, max_seconds: float = RUN_SLICE_SECONDS,
                 sleep=time.sleep, crash_after: int | None = None) -> RunReport:  # fmt: skip
    """Send a campaign's queued messages until done, paused, out of its window or out of time.

    `crash_after` (tests and the benchmark only) raises after that many dispatch rounds, as a
    worker killed mid-run would stop.
    """
    report = RunReport()
    token = token or uuid.uuid4().hex
    campaign = Campaign.objects.select_related("account").get(pk=campaign_id)
    if campaign.status != Campaign.Status.SENDING:
        report.status = campaign.status
        return report
    if not acquire_lease(campaign_id, token):
        report.status, report.detail = campaign.status, "another runner holds the lease"
        return report
    try:
        return _run(campaign, token, report, max_seconds=max_seconds, sleep=sleep, crash_after=crash_after)
    finally:
        release_lease(campaign_id, token)


def _run(campaign, token, report, *, max_seconds, sleep, crash_after) -> RunReport:
    if campaign.execution == Campaign.Execution.PROVIDER:
        from .provider_run import run_provider_campaign

        return run_provider_campaign(campaign, report)
    materialize_recipients(campaign)
    # Rows a dead runner claimed but never recorded: look them up, never send them again.
    resolve_stale_dispatches(older_than=dt.timedelta(0), campaign=campaign)
    from .rules import has_personal_text, provider_max_rate

    rate = min(
        campaign.rate_per_second, provider_max_rate(campaign.account, batched=not has_personal_text(campaign))
    )
    pacer = Pacer(rate, sleep=sleep)
    batch_limit = max(1, campaign.account.provider_class.batch_send_limit)
    chunk = max(1, min(batch_limit if not has_personal_text(campaign) else 1, int(rate * 5) or 1))
    fetch_size = max(chunk, min(500, int(rate * 5)))
    started = time.monotonic()
    rounds = 0
    # The last N outcomes (True: failed), seeded from the rows so a resumed run remembers them.
    recent = deque(_recent_outcomes(campaign), maxlen=max(1, campaign.failure_window))
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    countries = {}
    while True:
        campaign.refresh_from_db(fields=["status", "status_reason"])
        if campaign.status != Campaign.Status.SENDING:
            report.status = campaign.status
            return report
        if not acquire_lease(campaign.pk, token):
            report.status, report.detail = campaign.status, "lease lost"
            return report
        now = timezone.now()
        due = list(
            Message.objects.filter(
                campaign=campaign, status=Message.Status.QUEUED, dispatched_at__isnull=True
            )
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .select_related("account")
            .order_by("id")[:fetch_size]
        )
        if not due:
            queued = Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED)
            waiting = (
                queued.filter(not_before__isnull=False).order_by("not_before")
                .values_list("not_before", flat=True).first()
            )  # fmt: skip
            if not queued.exists():
                lifecycle.complete_campaign(campaign)
                report.status = Campaign.Status.COMPLETED
                return report
            report.status = campaign.status
            report.again_in = max(1.0, (waiting - now).total_seconds()) if waiting else 5.0
            report.detail = "waiting for the sending window"
            return report
        sendable = _apply_window(campaign, due, now, zones, countries, report)
        for start in range(0, len(sendable), chunk):
            part = sendable[start : start + chunk]
            pacer.wait_for(len(part))
            outcome = dispatch(part)
            report.sent += outcome.sent
            report.failed += outcome.failed
            report.unknown += outcome.unknown
            rounds += 1
            if crash_after is not None and rounds >= crash_after:
                raise RuntimeError("simulated worker crash")
            if outcome.auth_failed:
                lifecycle.pause_campaign(campaign, reason=_("The provider refused the account's credentials; "
                                                            "fix them and resume."))  # fmt: skip
                report.status = Campaign.Status.PAUSED
                return report
            if outcome.requeued:
                report.again_in = 5.0
            recent.extend([True] * outcome.failed + [False] * (outcome.sent + outcome.unknown))
            if _too_many_failures(campaign, recent):
                report.status = Campaign.Status.PAUSED
                return report
        if time.monotonic() - started > max_seconds:
            report.status, report.again_in = campaign.status, 0.0
            return report


def _apply_window(campaign, due, now, zones, countries, report) -> list[Message]:
    if campaign.window_start is None:
        return due
    missing = [m.contact_id for m in due if m.contact_id and m.contact_id not in countries]
    if missing:
        from contacts.models import Contact

        countries.update(Contact.all_objects.filter(pk__in=missing).values_list("pk", "country"))
    sendable, later = [], {}
    for m in due:
        country = countries.get(m.contact_id, "") or ""
        key = country or m.phone[:6]
        zone = zones.get(key) or zones.setdefault(key, recipient_zone(m.phone, country))
        opening = next_opening(campaign, zone, now)
        if opening is None:
            sendable.append(m)
        else:
            later.setdefault(opening, []).append(m.pk)
    for opening, ids in later.items():
        Message.objects.filter(pk__in=ids).update(not_before=opening)
        report.deferred += len(ids)
    return sendable

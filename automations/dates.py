"""Date triggers ("birthday at 9:00", "3 days before the contract ends"), evaluated by celery beat.

- `refresh_contact_dates()` keeps the ContactDate index (contact, key, date, month-day, time
  zone) current from the contacts changed since its last refresh — the contacts' updated_at
  index finds them — so evaluation never scans every contact.
- `evaluate_date_triggers(now)` asks, per date automation and per time zone in use, "whose
  date falls on today, local time, and is `at` past?" through the (key, month_day) index for
  yearly triggers and (key, value) for one-off ones. Runs are keyed by the local day, so the
  beat can run every few minutes (and twice through a repeated DST hour) and act once a day.

Local time decides: a contact's time zone is the one of their phone number's region when that
region has a single zone, else the company's (AUTOMATIONS_TIME_ZONE or TIME_ZONE). A wall-clock
`at` that does not exist on a spring-forward day fires at the first beat after it (03:00);
29 February fires on 28 February in other years.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

import phonenumbers
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from phonenumbers import timezone as pn_timezone

from contacts.models import Contact, CustomField

from .actions import company_zone
from .engine import create_runs, new_run
from .models import Automation, ContactDate, DrainState

REFRESH_BATCH = 5000


@lru_cache(maxsize=4096)
def _zone_for_prefix(phone_prefix: str) -> str:
    try:
        zones = [z for z in pn_timezone.time_zones_for_number(phonenumbers.parse(phone_prefix, None))
                 if z != "Etc/Unknown"]  # fmt: skip
    except phonenumbers.NumberParseException:
        return ""
    return zones[0] if len(set(zones)) == 1 else ""


def contact_zone(phone: str) -> str:
    """The time zone of the number's area when it has exactly one (e.g. +39 → Europe/Rome), else ""."""
    if not phone or not phone.startswith("+"):
        return ""
    # Zones are decided by the leading digits; caching on them keeps a 100,000-contact refresh fast.
    return _zone_for_prefix(phone[:8].ljust(12, "0") if len(phone) < 12 else phone[:12])


def month_day(value: dt.date) -> int:
    return value.month * 100 + value.day


def _date_keys() -> list[str]:
    return [
        "birth_date",
        *CustomField.objects.filter(type=CustomField.Type.DATE).values_list("key", flat=True),
    ]


def index_contacts(contacts) -> int:
    """(Re)write the ContactDate rows of `contacts` (Contact rows with phone, country, birth_date, fields)."""
    keys = _date_keys()
    company = str(company_zone())
    rows, ids = [], []
    for contact in contacts:
        ids.append(contact.pk)
        zone = contact_zone(contact.phone) or company
        for key in keys:
            raw = contact.birth_date if key == "birth_date" else (contact.fields or {}).get(key)
            if isinstance(raw, str):
                try:
                    raw = dt.date.fromisoformat(raw[:10])
                except ValueError:
                    raw = None
            if isinstance(raw, dt.date):
                rows.append(
                    ContactDate(
                        contact_id=contact.pk, key=key, value=raw, month_day=month_day(raw), time_zone=zone
                    )
                )
    with transaction.atomic():
        ContactDate.objects.filter(contact_id__in=ids).delete()
        ContactDate.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def refresh_contact_dates(*, full: bool = False) -> int:
    """Index the contacts changed since the last refresh (all of them with full=True)."""
    state, _ = DrainState.objects.get_or_create(name="dates")
    started = timezone.now()
    qs = Contact.objects.only("pk", "phone", "country", "birth_date", "fields", "updated_at").order_by(
        "updated_at", "pk"
    )
    if state.last_dates_refresh and not full:
        qs = qs.filter(updated_at__gte=state.last_dates_refresh - dt.timedelta(seconds=5))
    written, last_pk = 0, 0
    base = qs
    while True:
        batch = list(base.filter(pk__gt=last_pk).order_by("pk")[:REFRESH_BATCH])
        if not batch:
            break
        written += index_contacts(batch)
        last_pk = batch[-1].pk
    # Soft-deleted contacts leave the index.
    ContactDate.objects.filter(contact__deleted_at__isnull=False).delete()
    state.last_dates_refresh = started
    state.save(update_fields=["last_dates_refresh"])
    return written


def due_dates(trigger: dict, local_today: dt.date) -> tuple[list[int], list[dt.date]]:
    """Month-days (yearly) or dates (one-off) that fire on `local_today` for the trigger's offset."""
    source = local_today - dt.timedelta(days=trigger.get("offset_days") or 0)
    if not trigger.get("yearly", True):
        return [], [source]
    days = [month_day(source)]
    leap = source.year % 4 == 0 and (source.year % 100 != 0 or source.year % 400 == 0)
    if source.month == 2 and source.day == 28 and not leap:
        days.append(229)  # born on 29 February: celebrated on the 28th in other years
    return days, []


def evaluate_date_triggers(now: dt.datetime | None = None) -> int:
    """Create today's runs of every switched-on date automation; returns how many were created."""
    now = now or timezone.now()
    created = 0
    automations = list(Automation.objects.filter(enabled=True, trigger_type="date_field"))
    if not automations:
        return 0
    zones = list(ContactDate.objects.values_list("time_zone", flat=True).distinct())
    for automation in automations:
        trigger = automation.trigger
        at = dt.time.fromisoformat(trigger.get("at") or "09:00")
        for zone_name in zones:
            local = now.astimezone(zoneinfo.ZoneInfo(zone_name))
            if local.time().replace(tzinfo=None) < at:
                continue
            fire_at = dt.datetime.combine(local.date(), at, tzinfo=local.tzinfo)
            if automation.enabled_at and fire_at < automation.enabled_at:
                continue  # switched on after today's moment: never acts on the past
            days, dates = due_dates(trigger, local.date())
            q = Q(month_day__in=days) if days else Q(value__in=dates)
            contact_ids = list(
                ContactDate.objects.filter(q, key=trigger["field"], time_zone=zone_name).values_list(
                    "contact_id", flat=True
                )
            )
            key = f"date:{local.date().isoformat()}"
            for start in range(0, len(contact_ids), 2000):
                runs = [new_run(automation, cid, key, {"event": "date", "field": trigger["field"],
                                                          "day": local.date().isoformat()}, now=now)
                        for cid in contact_ids[start : start + 2000]]  # fmt: skip
                with transaction.atomic():
                    created += len(create_runs(automation, runs))
    return created

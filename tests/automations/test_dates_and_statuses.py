"""Date triggers (DST, 29 February, offsets, time zones) and message-status triggers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from automations.dates import contact_zone, due_dates, evaluate_date_triggers, refresh_contact_dates
from automations.engine import run_due
from automations.models import AutomationRun
from contacts.events import record_events
from tests.factories import ContactFactory, CustomFieldFactory, TagFactory

from .helpers import automation, drain

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _birthday_automation(at="09:00", **trigger):
    TagFactory(name="auguri")
    auto = automation("Birthday", trigger={"type": "date_field", "field": "birth_date", "at": at, **trigger},
                      actions=[{"type": "add_tag", "tag": "auguri"}])  # fmt: skip
    # Switched on long before the days the tests look at.
    type(auto).objects.filter(pk=auto.pk).update(enabled_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    auto.refresh_from_db()
    return auto


@override_settings(AUTOMATIONS_TIME_ZONE="Europe/Rome")
def test_birthday_fires_once_on_the_day_at_local_time():
    auto = _birthday_automation()
    anna = ContactFactory(birth_date=dt.date(1990, 6, 15))
    ContactFactory(birth_date=dt.date(1990, 6, 16))
    refresh_contact_dates()
    assert evaluate_date_triggers(dt.datetime(2027, 6, 15, 6, 59, tzinfo=UTC)) == 0  # 08:59 in Rome
    assert evaluate_date_triggers(dt.datetime(2027, 6, 15, 7, 0, tzinfo=UTC)) == 1  # 09:00 in Rome
    assert evaluate_date_triggers(dt.datetime(2027, 6, 15, 15, 0, tzinfo=UTC)) == 0  # once a day
    AutomationRun.objects.update(due_at=dt.datetime(2020, 1, 1, tzinfo=UTC))  # the clock reaches 2027
    run_due()
    assert list(AutomationRun.objects.filter(automation=auto).values_list("contact_id", "key", "status")) == [
        (anna.pk, "date:2027-06-15", "succeeded")
    ]
    assert evaluate_date_triggers(dt.datetime(2028, 6, 15, 8, 0, tzinfo=UTC)) == 1  # every year


@override_settings(AUTOMATIONS_TIME_ZONE="Europe/Rome")
def test_birthday_across_daylight_saving_changes():
    _birthday_automation(at="02:30")
    spring = ContactFactory(birth_date=dt.date(1980, 3, 28))  # 2027-03-28: 02:00 → 03:00 in Rome
    autumn = ContactFactory(birth_date=dt.date(1980, 10, 31))  # 2027-10-31: 03:00 → 02:00
    refresh_contact_dates()
    # 02:30 never exists on the spring day: the first beat after it (03:00 CEST = 01:00 UTC) fires.
    assert evaluate_date_triggers(dt.datetime(2027, 3, 28, 0, 55, tzinfo=UTC)) == 0  # 01:55 CET
    assert evaluate_date_triggers(dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC)) == 1  # 03:00 CEST
    # 02:30 happens twice on the autumn day: it still fires once.
    assert evaluate_date_triggers(dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC)) == 1  # 02:30 CEST
    assert evaluate_date_triggers(dt.datetime(2027, 10, 31, 1, 30, tzinfo=UTC)) == 0  # 02:30 CET
    assert set(AutomationRun.objects.values_list("contact_id", flat=True)) == {spring.pk, autumn.pk}


@override_settings(AUTOMATIONS_TIME_ZONE="Europe/Rome")
def test_29_february_birthdays_fire_on_28_february_in_other_years():
    _birthday_automation()
    leapling = ContactFactory(birth_date=dt.date(2000, 2, 29))
    born_28 = ContactFactory(birth_date=dt.date(2001, 2, 28))
    refresh_contact_dates()
    assert evaluate_date_triggers(dt.datetime(2027, 2, 28, 10, 0, tzinfo=UTC)) == 2
    assert evaluate_date_triggers(dt.datetime(2027, 3, 1, 10, 0, tzinfo=UTC)) == 0
    assert evaluate_date_triggers(dt.datetime(2028, 2, 28, 10, 0, tzinfo=UTC)) == 1  # leap year: only born_28
    assert evaluate_date_triggers(dt.datetime(2028, 2, 29, 10, 0, tzinfo=UTC)) == 1
    keys = sorted(AutomationRun.objects.values_list("contact_id", "key"))
    assert keys == sorted([(leapling.pk, "date:2027-02-28"), (born_28.pk, "date:2027-02-28"),
                           (born_28.pk, "date:2028-02-28"), (leapling.pk, "date:2028-02-29")])  # fmt: skip


@override_settings(AUTOMATIONS_TIME_ZONE="Europe/Rome")
def test_custom_date_field_days_before_one_off_and_the_contacts_own_time_zone():
    CustomFieldFactory(key="contract_end", type="date")
    TagFactory(name="remind")
    auto = automation("Renewal", trigger={"type": "date_field", "field": "contract_end", "offset_days": -3,
                                          "at": "10:00", "yearly": False}, actions=[{"type": "add_tag", "tag": "remind"}])  # fmt: skip
    type(auto).objects.filter(pk=auto.pk).update(enabled_at=dt.datetime(2020, 1, 1, tzinfo=UTC))
    rome = ContactFactory(fields={"contract_end": "2027-05-10"})
    ny = ContactFactory(phone="+12125550123", fields={"contract_end": "2027-05-10"})
    assert contact_zone("+12125550123") == "America/New_York"
    refresh_contact_dates()
    # 2027-05-07 10:00 Rome = 08:00 UTC; 10:00 New York = 14:00 UTC.
    assert evaluate_date_triggers(dt.datetime(2027, 5, 7, 8, 0, tzinfo=UTC)) == 1
    assert evaluate_date_triggers(dt.datetime(2027, 5, 7, 13, 59, tzinfo=UTC)) == 0
    assert evaluate_date_triggers(dt.datetime(2027, 5, 7, 14, 0, tzinfo=UTC)) == 1
    assert evaluate_date_triggers(dt.datetime(2028, 5, 7, 14, 0, tzinfo=UTC)) == 0  # one-off
    assert AutomationRun.objects.filter(contact=rome).count() == 1
    assert AutomationRun.objects.filter(contact=ny).count() == 1


def test_date_index_follows_changed_contacts_only():
    anna = ContactFactory(birth_date=dt.date(1990, 1, 2))
    assert refresh_contact_dates() == 1
    anna.birth_date = dt.date(1991, 7, 8)
    anna.save()
    refresh_contact_dates()
    from automations.models import ContactDate

    assert list(ContactDate.objects.values_list("month_day", flat=True)) == [708]
    assert due_dates({"offset_days": 1}, dt.date(2027, 7, 9)) == ([708], [])


# --- message statuses -----------------------------------------------------------------------------


def _status(contact, message_id, status, campaign=None):
    record_events("message_status", [contact.pk], dedupe_key=f"message_status:{message_id}:{status}",
                  data={"message_id": message_id, "status": status, "campaign_id": campaign})  # fmt: skip


def test_message_status_reached_fires_once_per_message():
    TagFactory(name="reader")
    auto = automation(
        trigger={"type": "message_status", "status": "delivered"},
        actions=[{"type": "add_tag", "tag": "reader"}],
    )
    anna = ContactFactory()
    _status(anna, 1, "sent")
    _status(anna, 1, "delivered")
    _status(anna, 1, "read")  # read implies delivered: still one run for message 1
    _status(anna, 2, "read")
    drain()
    assert sorted(AutomationRun.objects.filter(automation=auto).values_list("key", flat=True)) == [
        "msg:1:delivered", "msg:2:delivered"]  # fmt: skip


def test_not_read_within_24_hours_acts_only_for_unread_messages():
    TagFactory(name="sms-fallback")
    auto = automation("Not read", trigger={"type": "message_status", "status": "read", "within_hours": 24},
                      actions=[{"type": "add_tag", "tag": "sms-fallback"}])  # fmt: skip
    reader, ignorer = ContactFactory(), ContactFactory()
    _status(reader, 10, "sent")
    _status(ignorer, 11, "sent")
    _status(ignorer, 11, "delivered")  # a second status of the same message: still one watch
    drain()
    runs = AutomationRun.objects.filter(automation=auto)
    assert runs.count() == 2 and set(runs.values_list("status", flat=True)) == {"pending"}
    _status(reader, 10, "read")
    drain()
    runs.update(due_at=dt.datetime(2020, 1, 1, tzinfo=UTC))  # 24 hours later
    run_due()
    by_contact = {r.contact_id: r for r in runs}
    assert by_contact[reader.pk].status == "skipped" and "in time" in by_contact[reader.pk].error
    assert by_contact[ignorer.pk].status == "succeeded"
    assert list(ignorer.tags.values_list("name", flat=True)) == ["sms-fallback"]

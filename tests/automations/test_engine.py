"""Triggers, conditions, idempotency, delays and retries through the real engine."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automations.engine import LEASE, claim_due, drain_events, run_due
from automations.models import AutomationRun, AutomationStep
from contacts import services as contacts
from contacts.events import record_events
from contacts.models import Contact, Tag
from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory, TagFactory

from .helpers import automation, drain

pytestmark = pytest.mark.django_db


def _tags(contact):
    return set(contact.tags.values_list("name", flat=True))


def test_list_added_runs_actions_once_per_event():
    vip, welcomed = ContactListFactory(name="VIP"), TagFactory(name="welcomed")
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "add_tag", "tag": "welcomed"}])  # fmt: skip
    anna = ContactFactory()
    contacts.add_to_list(vip, [anna.pk])
    assert drain()["runs"] == 1
    run = AutomationRun.objects.get(automation=auto)
    assert (run.status, run.contact_id, run.key.startswith("e:")) == ("succeeded", anna.pk, True)
    assert list(run.steps.values_list("action", "status")) == [("add_tag", "succeeded")]
    assert welcomed.name in _tags(anna)
    # The same event again, a second drain, or adding an existing member: no new run.
    contacts.add_to_list(vip, [anna.pk])
    assert drain()["runs"] == 0
    assert AutomationRun.objects.filter(automation=auto).count() == 1
    # Removed and added again is a new event: a new run.
    contacts.remove_from_list(vip, [anna.pk])
    contacts.add_to_list(vip, [anna.pk])
    drain()
    assert AutomationRun.objects.filter(automation=auto).count() == 2


def test_duplicate_events_with_a_dedupe_key_run_once():
    TagFactory(name="info")
    auto = automation(
        trigger={"type": "inbound_keyword", "keywords": ["INFO"]},
        actions=[{"type": "add_tag", "tag": "info"}],
    )
    anna = ContactFactory()
    for _ in range(3):  # a provider retrying its webhook
        record_events("inbound_message", [anna.pk], dedupe_key="wamid.1", data={"text": " info "})
    drain()
    assert AutomationRun.objects.filter(automation=auto, status="succeeded").count() == 1


def test_each_matching_automation_runs_once_for_the_contact():
    vip = ContactListFactory()
    TagFactory(name="a")
    TagFactory(name="b")
    first = automation(
        "first", trigger={"type": "list_added", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "a"}]
    )
    second = automation(
        "second", trigger={"type": "list_added", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "b"}]
    )
    anna = ContactFactory()
    contacts.add_to_list(vip, [anna.pk])
    drain()
    drain()
    assert AutomationRun.objects.filter(automation=first).count() == 1
    assert AutomationRun.objects.filter(automation=second).count() == 1
    assert _tags(anna) == {"a", "b"}


def test_switched_off_or_later_switched_on_never_acts_on_earlier_events():
    vip = ContactListFactory()
    TagFactory(name="t")
    auto = automation(trigger={"type": "list_added", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "t"}],
                      enabled=False)  # fmt: skip
    anna = ContactFactory()
    contacts.add_to_list(vip, [anna.pk])
    drain()
    from automations import services

    services.set_enabled(auto, True)
    drain()
    assert AutomationRun.objects.count() == 0
    assert services.dry_run(auto)["matches"] == 1
    assert services.set_enabled(auto, True, run_for_past=True) == 1
    run_due()
    assert AutomationRun.objects.get().status == "succeeded" and _tags(anna) == {"t"}
    assert services.start_for_past(auto) == 0  # "past" runs once per contact


def test_contact_created_sources_and_tag_added_and_list_removed():
    vip = ContactListFactory()
    for name in ("api-made", "tagged", "left"):
        TagFactory(name=name)
    TagFactory(name="gold")
    automation(
        "api",
        trigger={"type": "contact_created", "sources": ["api"]},
        actions=[{"type": "add_tag", "tag": "api-made"}],
    )
    automation(
        "tag", trigger={"type": "tag_added", "tag": "gold"}, actions=[{"type": "add_tag", "tag": "tagged"}]
    )
    automation(
        "rm", trigger={"type": "list_removed", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "left"}]
    )
    by_hand = contacts.create_contact({"phone": "+393331000001"})
    by_api = contacts.create_contact({"phone": "+393331000002", "lists": [vip.pk]}, source="api")
    contacts.tag_contacts(Contact.objects.filter(pk=by_hand.pk), ["gold"])
    contacts.remove_from_list(vip, [by_api.pk])
    drain()
    assert _tags(by_hand) == {"gold", "tagged"}
    assert _tags(by_api) == {"api-made", "left"}


def test_conditions_are_checked_and_recorded():
    vip, blocked_list = ContactListFactory(name="VIP"), ContactListFactory(name="Exclude")
    TagFactory(name="ok")
    TagFactory(name="lead")
    tier = CustomFieldFactory(key="tier")
    CustomFieldFactory(key="score", type="number")
    auto = automation(
        trigger={"type": "list_added", "list": vip.pk},
        conditions=[
            {"type": "not_in_list", "list": blocked_list.pk}, {"type": "has_tag", "tag": "lead"},
            {"type": "field", "field": tier.key, "op": "equals", "value": "Gold"},
            {"type": "field", "field": "score", "op": "greater", "value": 10},
            {"type": "language", "value": "it"}, {"type": "country", "value": "it"}, {"type": "not_opted_out"},
        ],
        actions=[{"type": "add_tag", "tag": "ok"}],
    )  # fmt: skip
    good = ContactFactory(language="it", country="IT", fields={"tier": "gold", "score": 12})
    low = ContactFactory(language="it", country="IT", fields={"tier": "gold", "score": 3})
    excluded = ContactFactory(language="it", country="IT", fields={"tier": "gold", "score": 50})
    contacts.tag_contacts(Contact.objects.all(), ["lead"])
    contacts.add_to_list(blocked_list, [excluded.pk])
    contacts.add_to_list(vip, [good.pk, low.pk, excluded.pk])
    drain()
    runs = {r.contact_id: r for r in AutomationRun.objects.filter(automation=auto)}
    assert runs[good.pk].status == "succeeded" and all(c["ok"] for c in runs[good.pk].conditions_checked)
    assert runs[low.pk].status == "skipped" and "score" in runs[low.pk].error
    assert (runs[excluded.pk].status == "skipped" and "Exclude" in runs[excluded.pk].error) or str(
        blocked_list.pk
    ) in runs[excluded.pk].error
    assert "ok" in _tags(good) and "ok" not in _tags(low)


def test_delay_is_persisted_and_survives_a_worker_restart():
    vip = ContactListFactory()
    TagFactory(name="now")
    TagFactory(name="later")
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "add_tag", "tag": "now"}, {"type": "add_tag", "tag": "later", "delay_seconds": 3600}])  # fmt: skip
    anna = ContactFactory()
    contacts.add_to_list(vip, [anna.pk])
    drain()
    run = AutomationRun.objects.get(automation=auto)
    assert (run.status, run.next_step) == ("pending", 1)
    assert run.due_at > timezone.now() + dt.timedelta(minutes=59)
    assert _tags(anna) == {"now"}
    # A new worker process only has the database: make the hour pass and run the beat's job.
    AutomationRun.objects.filter(pk=run.pk).update(due_at=timezone.now() - dt.timedelta(seconds=1))
    assert run_due() == {"succeeded": 1}
    assert _tags(anna) == {"now", "later"}
    # A run a dead worker had claimed is taken up again once its lease ends.
    contacts.remove_from_list(vip, [anna.pk])
    contacts.add_to_list(vip, [anna.pk])
    drain_events(execute=False)
    claimed = claim_due()
    assert [r.status for r in claimed] == ["running"] and claim_due() == []
    AutomationRun.objects.filter(pk=claimed[0].pk).update(due_at=timezone.now() - dt.timedelta(seconds=1))
    assert dt.timedelta(minutes=1) < LEASE
    assert run_due()["pending"] == 1  # first step done again after the crash, the delayed one waits


def test_failing_action_retries_within_bounds_then_fails_and_stops_the_chain(monkeypatch):
    vip = ContactListFactory()
    TagFactory(name="never")
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "set_field", "field": "city", "value": "Roma"}, {"type": "add_tag", "tag": "never"}])  # fmt: skip
    from automations import actions

    def broken(*args, **kwargs):
        raise RuntimeError("database of cities unavailable")

    monkeypatch.setitem(actions.HANDLERS, "set_field", broken)
    anna = ContactFactory()
    contacts.add_to_list(vip, [anna.pk])
    drain()
    for _ in range(5):
        AutomationRun.objects.filter(status="pending").update(due_at=timezone.now() - dt.timedelta(seconds=1))
        run_due()
    run = AutomationRun.objects.get(automation=auto)
    assert run.status == "failed" and "after 3 attempts" in run.error and "cities unavailable" in run.error
    assert list(run.steps.values_list("status", flat=True)) == ["retrying", "retrying", "failed"]
    assert not Tag.objects.get(name="never").contacts.exists()


def test_set_field_on_custom_and_attribute_fields():
    vip = ContactListFactory()
    CustomFieldFactory(key="tier")
    automation(trigger={"type": "list_added", "list": vip.pk},
               actions=[{"type": "set_field", "field": "tier", "value": "vip"}, {"type": "set_field", "field": "city", "value": "Roma"}])  # fmt: skip
    anna = ContactFactory(fields={"other": 1})
    contacts.add_to_list(vip, [anna.pk])
    drain()
    anna.refresh_from_db()
    assert anna.fields == {"other": 1, "tier": "vip"} and anna.city == "Roma"


def test_list_actions_chain_into_other_automations():
    leads, info_tag = ContactListFactory(name="Leads"), TagFactory(name="info")
    TagFactory(name="lead-welcomed")
    automation("keyword", trigger={"type": "inbound_keyword", "keywords": ["info"], "match": "contains"},
               actions=[{"type": "add_tag", "tag": info_tag.name}, {"type": "add_to_list", "list": leads.pk}])  # fmt: skip
    automation(
        "leads",
        trigger={"type": "list_added", "list": leads.pk},
        actions=[{"type": "add_tag", "tag": "lead-welcomed"}],
    )
    anna, bruno = ContactFactory(), ContactFactory()
    record_events("inbound_message", [anna.pk], dedupe_key="m1", data={"text": "Vorrei INFO sui prezzi"})
    record_events("inbound_message", [bruno.pk], dedupe_key="m2", data={"text": "ciao"})
    drain()
    drain()
    assert _tags(anna) == {"info", "lead-welcomed"} and _tags(bruno) == set()
    assert leads.memberships.filter(contact=anna).exists()


def test_notify_sends_one_email_per_batch(mailoutbox):
    vip = ContactListFactory()
    automation(
        "Notify VIP",
        trigger={"type": "list_added", "list": vip.pk},
        actions=[{"type": "notify", "emails": "boss@example.com, desk@example.com"}],
    )
    people = ContactFactory.create_batch(3)
    contacts.add_to_list(vip, [p.pk for p in people])
    drain()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["boss@example.com", "desk@example.com"]
    assert "3" in mailoutbox[0].subject and people[0].phone in mailoutbox[0].body


def test_queries_per_batch_do_not_grow_with_the_batch():
    vip = ContactListFactory()
    TagFactory(name="t")
    automation(trigger={"type": "list_added", "list": vip.pk}, conditions=[{"type": "not_opted_out"}],
               actions=[{"type": "add_tag", "tag": "t"}])  # fmt: skip

    def queries_for(n, start):
        Contact.objects.bulk_create([Contact(phone=f"+3934{start + i:08d}") for i in range(n)])
        ids = list(
            Contact.objects.filter(phone__startswith=f"+3934{start // 10**6:02d}").values_list(
                "pk", flat=True
            )
        )
        contacts.add_to_list(vip, ids)
        with CaptureQueriesContext(connection) as ctx:
            drain()
        if connection.vendor == "postgresql":
            return len(ctx.captured_queries)
        # SQLite caps parameters per statement, so Django splits bulk writes into chunks;
        # count each statement once (PostgreSQL, above, counts them exactly).
        return len(
            {q["sql"][:60] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))}
        )

    small, large = queries_for(5, 10_000_000), queries_for(400, 20_000_000)
    assert AutomationStep.objects.count() == 405
    assert large <= small + 2, (small, large)


def test_bulk_import_into_a_list_with_an_active_automation(settings, tmp_path):
    """An import adding contacts to a list raises events in bulk; each new member runs once."""
    from contacts.imports import services as imports

    settings.MEDIA_ROOT = str(tmp_path / "media")
    vip = ContactListFactory(name="VIP")
    TagFactory(name="imported-vip")
    auto = automation(
        trigger={"type": "list_added", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "imported-vip"}]
    )
    already = ContactFactory(phone="+393330000001")
    contacts.add_to_list(vip, [already.pk])
    drain()
    rows = "phone,first_name\n" + "".join(f"+39333{i:07d},N{i}\n" for i in range(1, 1201))
    path = tmp_path / "vip.csv"
    path.write_text(rows, encoding="utf-8")
    imp = imports.import_file(str(path), contact_list=vip)
    assert imp.status == "succeeded" and imp.created == 1199
    from contacts.events import ContactEvent

    assert (
        ContactEvent.objects.filter(kind="list_added", source="import").count() == 1199
    )  # the member already in is not new
    # Only a list_added automation is switched on: the import writes no contact_created events.
    assert ContactEvent.objects.filter(kind="contact_created", source="import").count() == 0
    drain()
    assert AutomationRun.objects.filter(automation=auto, status="succeeded").count() == 1200
    assert Tag.objects.get(name="imported-vip").contacts.count() == 1200
    imports.import_file(str(path), contact_list=vip)  # the same file again: nobody is new
    drain()
    assert AutomationRun.objects.filter(automation=auto).count() == 1200

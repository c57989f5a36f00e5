"""Starting Spoki automations (fake over real HTTP) and sending through the Sandbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from automations.engine import run_due
from automations.models import AutomationRun
from contacts import services as contacts
from contacts.events import record_events
from messaging.models import Message, MessageTemplate, TemplateLink
from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory
from tests.fakes.spoki import SpokiFake

from .helpers import KEY, automation, drain, pulled, sandbox_account, spoki_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def spoki(serve_fake):
    server = serve_fake(SpokiFake(api_key=KEY))
    return server.fake, spoki_account(server)


def test_pull_spoki_automations_with_fields_and_secret(spoki):
    fake, account = spoki
    welcome = fake.seed_automation("Onboarding")
    fake.seed_automation("Other")
    remote = pulled(account, welcome["id"])
    assert (remote.name, remote.is_active, remote.has_secret) == ("Onboarding", True, True)
    assert remote.trigger_id == welcome["webhook_set"][0]["uuid"]
    assert "first_name" in remote.fields
    # The secret is encrypted at rest.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM automations_providerautomation WHERE id = %s", [remote.pk])
        assert welcome["webhook_set"][0]["secret"] not in cursor.fetchone()[0]


def test_start_spoki_automation_single_then_bulk_with_variables(spoki):
    fake, account = spoki
    welcome = fake.seed_automation("Onboarding")
    remote = pulled(account, welcome["id"])
    vip = ContactListFactory(name="VIP")
    CustomFieldFactory(key="tier")
    auto = automation("VIP onboarding", trigger={"type": "list_added", "list": vip.pk}, actions=[
        {"type": "start_provider_automation", "account": account.pk, "automation": remote.pk,
         "variables": {"TIER": "{{tier}}", "GREETING": "Ciao {{first_name}}", "CITY": "{{city}}",
                       "LEVEL": "{{fields.tier}}"}},
    ])  # fmt: skip
    anna = ContactFactory(first_name="Anna", city="Bari", fields={"tier": "gold"})
    contacts.add_to_list(vip, [anna.pk])
    drain()
    run = AutomationRun.objects.get(automation=auto)
    assert run.status == "succeeded", run.error
    assert fake.automation_runs == [{"automation": welcome["id"], "contact": fake.automation_runs[0]["contact"],
                                     "metadata": {"switchboard_automation": auto.pk}}]  # fmt: skip
    single = fake.requests_to("POST", r"^/wh/ap/")
    assert [r.path for r in single] == [f"/wh/ap/{welcome['webhook_set'][0]['uuid']}/"]
    assert single[0].json["secret"] == welcome["webhook_set"][0]["secret"]
    # Any contact column a placeholder names is read (the action loads only the columns it needs).
    assert single[0].json["custom_fields"] == {"TIER": "gold", "GREETING": "Ciao Anna", "CITY": "Bari",
                                               "LEVEL": "gold"}  # fmt: skip
    assert "x-spoki-api-key" not in {k.lower() for k in single[0].headers}
    # 1,100 contacts at once: three bulk calls (500 + 500 + 100), never one per contact.
    from contacts.models import Contact

    Contact.objects.bulk_create([Contact(phone=f"+3935{i:08d}", first_name="P") for i in range(1100)])
    contacts.add_to_list(vip, Contact.objects.filter(phone__startswith="+3935"))
    drain()
    bulk = fake.requests_to("POST", r"^/wh/ap/.*/bulk/$")
    assert [len(r.json["contacts"]) for r in bulk] == [500, 500, 100]
    assert AutomationRun.objects.filter(automation=auto, status="succeeded").count() == 1101
    assert len(fake.automation_runs) == 1101


def test_opted_out_and_blocked_contacts_are_not_started(spoki):
    fake, account = spoki
    remote = pulled(account, fake.seed_automation("Onboarding")["id"])
    vip = ContactListFactory()
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "start_provider_automation", "account": account.pk, "automation": remote.pk}])  # fmt: skip
    out, blocked = ContactFactory(opted_out=True), ContactFactory(blocked=True)
    contacts.add_to_list(vip, [out.pk, blocked.pk])
    drain()
    steps = {r.contact_id: r.steps.get() for r in AutomationRun.objects.filter(automation=auto)}
    assert steps[out.pk].status == "skipped" and "opted out" in steps[out.pk].error
    assert steps[blocked.pk].status == "skipped" and "blocked" in steps[blocked.pk].error
    assert fake.automation_runs == []


def test_a_spoki_error_is_never_retried_so_nobody_starts_twice(spoki):
    fake, account = spoki
    remote = pulled(account, fake.seed_automation("Onboarding")["id"])
    vip = ContactListFactory()
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "start_provider_automation", "account": account.pk, "automation": remote.pk}])  # fmt: skip
    fake.fail_next(502)
    contacts.add_to_list(vip, [ContactFactory().pk])
    drain()
    run = AutomationRun.objects.get(automation=auto)
    assert run.status == "failed" and "not retried" in run.error and run.attempts == 1
    assert len(fake.requests_to("POST", r"^/wh/ap/")) == 1


def test_wrong_secret_fails_the_run_with_spokis_reason(spoki):
    fake, account = spoki
    remote = pulled(account, fake.seed_automation("Onboarding")["id"])
    remote.secret = "stale-secret"
    remote.save()
    vip = ContactListFactory()
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "start_provider_automation", "account": account.pk, "automation": remote.pk}])  # fmt: skip
    contacts.add_to_list(vip, [ContactFactory().pk])
    drain()
    for _ in range(3):
        AutomationRun.objects.filter(status="pending").update(due_at=timezone.now() - dt.timedelta(seconds=1))
        run_due()
    run = AutomationRun.objects.get(automation=auto)
    assert (run.status == "failed" and "403" in run.error) or "secret" in run.error.lower()
    assert fake.automation_runs == []


# --- sending --------------------------------------------------------------------------------------


@pytest.fixture
def sandbox():
    return sandbox_account()


def _approved_template(account, name="benvenuto"):
    template = MessageTemplate.objects.create(
        name=name, kind="whatsapp", language="it", body="Ciao {{first_name}}!"
    )
    TemplateLink.objects.create(template=template, account=account, status="approved", remote_id="tpl-1")
    return template


@override_settings(AUTOMATIONS_SENDING_WINDOW="")
def test_send_template_and_text_through_the_sandbox_once(sandbox):
    vip = ContactListFactory()
    template = _approved_template(sandbox)
    auto = automation(trigger={"type": "list_added", "list": vip.pk}, actions=[
        {"type": "send_template", "account": sandbox.pk, "template": template.pk},
        {"type": "send_text", "account": sandbox.pk, "channel": "sms", "text": "Benvenuta {{first_name}}"},
    ])  # fmt: skip
    anna = ContactFactory(first_name="Anna")
    contacts.add_to_list(vip, [anna.pk])
    drain()
    run = AutomationRun.objects.get(automation=auto)
    assert run.status == "succeeded", (run.error, list(run.steps.values("error")))
    messages = Message.objects.filter(contact=anna).order_by("pk")
    assert [(m.channel, m.source) for m in messages] == [("whatsapp", "automation"), ("sms", "automation")]
    assert messages[1].text == "Benvenuta Anna"
    assert {m.reference for m in messages} == {f"auto-{run.pk}-0", f"auto-{run.pk}-1"}


@override_settings(AUTOMATIONS_SENDING_WINDOW="")
def test_whatsapp_free_text_only_inside_the_24_hour_window(sandbox):
    vip = ContactListFactory()
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "send_text", "account": sandbox.pk, "channel": "whatsapp", "text": "Ciao"}])  # fmt: skip
    wrote, silent, opted = ContactFactory(), ContactFactory(), ContactFactory(opted_out=True)
    record_events("inbound_message", [wrote.pk, opted.pk], dedupe_key="in-1", data={"text": "hello"})
    contacts.add_to_list(vip, [wrote.pk, silent.pk, opted.pk])
    drain()
    steps = {r.contact_id: r.steps.get() for r in AutomationRun.objects.filter(automation=auto)}
    assert steps[wrote.pk].status == "succeeded"
    assert steps[silent.pk].status == "skipped" and "24 hours" in steps[silent.pk].error
    assert steps[opted.pk].status == "skipped" and "opted out" in steps[opted.pk].error
    assert Message.objects.filter(direction="outbound").count() == 1


@override_settings(AUTOMATIONS_SENDING_WINDOW="09:00-18:00", AUTOMATIONS_TIME_ZONE="Europe/Rome")
def test_sending_waits_for_the_sending_window(sandbox, monkeypatch):
    vip = ContactListFactory()
    auto = automation(trigger={"type": "list_added", "list": vip.pk},
                      actions=[{"type": "send_text", "account": sandbox.pk, "channel": "sms", "text": "Ciao"}])  # fmt: skip
    night = dt.datetime(2027, 1, 10, 22, 30, tzinfo=dt.UTC)  # 23:30 in Rome
    monkeypatch.setattr("automations.actions.timezone.now", lambda: night)
    contacts.add_to_list(vip, [ContactFactory().pk])
    drain()
    run = AutomationRun.objects.get(automation=auto)
    assert run.status == "pending" and run.steps.count() == 0
    assert run.due_at == dt.datetime(2027, 1, 11, 8, 0, tzinfo=dt.UTC)  # 09:00 Rome
    assert not Message.objects.exists()


def test_sync_command_pulls_automations_as_json(spoki):
    import json
    from io import StringIO

    from django.core.management import call_command

    fake, account = spoki
    fake.seed_automation("Onboarding")
    fake.seed_automation("Compleanno")
    out = StringIO()
    call_command(
        "sync", account.name, "--resource", "automations", "--direction", "pull", "--json", stdout=out
    )
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["pulled"] == 2 and summary["created"] == 2
    assert sorted(account.provider_automations.values_list("name", flat=True)) == ["Compleanno", "Onboarding"]
    out = StringIO()
    call_command(
        "sync", account.name, "--resource", "automations", "--direction", "pull", "--json", stdout=out
    )
    again = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (again["created"], again["updated"]) == (0, 0) and account.provider_automations.count() == 2

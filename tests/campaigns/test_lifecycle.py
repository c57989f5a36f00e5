"""Lifecycle transitions (who and when) and the refusals staff see on the field."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignTransition
from campaigns.services import (
    CampaignError,
    cancel_campaign,
    create_campaign,
    delete_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
    update_campaign,
)
from campaigns.services.fanout import run_campaign
from messaging.models import Message, MessageTemplate, SandboxObject, TemplateLink

from .helpers import approved_template, assert_counters_match_rows, list_of, sandbox_account, sms_campaign

pytestmark = pytest.mark.django_db


def errors_of(excinfo):
    return excinfo.value.message_dict


@pytest.fixture
def account():
    return sandbox_account()


@pytest.fixture
def people():
    return list_of(6)


def test_refusals_name_the_field(account, people):
    contact_list, _ = people
    base = {"name": "X", "account": account, "lists": [contact_list], "rate_per_second": 5}
    cases = [
        ({"channel": "sms", "text": "hi", "lists": []}, "lists"),
        ({"channel": "whatsapp"}, "template"),
        ({"channel": "sms", "text": "hi", "variables": {"v": {"field": "shoe_size"}}}, "variables"),
        (
            {"channel": "sms", "text": "hi", "scheduled_at": timezone.now() - dt.timedelta(hours=1)},
            "scheduled_at",
        ),
        ({"channel": "sms", "text": "hi", "rate_per_second": 5000}, "rate_per_second"),
        ({"channel": "sms", "text": "Ciao {{shoe_size}}"}, "text"),
    ]
    for extra, field in cases:
        with pytest.raises(CampaignError) as excinfo:
            create_campaign({**base, **extra})
        assert field in errors_of(excinfo), (extra, errors_of(excinfo))
    assert not Campaign.objects.exists()


def test_template_not_approved_is_refused_with_the_reason(account, people):
    contact_list, _ = people
    template = MessageTemplate.objects.create(name="promo", kind="whatsapp", body="Ciao")
    TemplateLink.objects.create(
        template=template, account=account, status="rejected", reason="Too promotional"
    )
    with pytest.raises(CampaignError) as excinfo:
        create_campaign(
            {
                "name": "X",
                "account": account,
                "channel": "whatsapp",
                "template": template,
                "lists": [contact_list],
            }
        )
    assert (
        "rejected" in errors_of(excinfo)["template"][0]
        and "Too promotional" in errors_of(excinfo)["template"][0]
    )


def test_channel_the_account_cannot_send_is_refused(people):
    from messaging.models import ProviderAccount

    contact_list, _ = people
    qlara = ProviderAccount.objects.create(provider="myoperator", name="MyOp")
    with pytest.raises(CampaignError) as excinfo:
        create_campaign(
            {"name": "X", "account": qlara, "channel": "rcs", "text": "hi", "lists": [contact_list]}
        )
    assert "channel" in errors_of(excinfo)


def test_full_life_is_recorded_with_who(account, people, editor):
    contact_list, _ = people
    campaign = sms_campaign(account, [contact_list])
    assert campaign.status == "draft" and campaign.execution == "switchboard"
    update_campaign(campaign, {"name": "Saldi estivi"}, by=editor)
    start_campaign(campaign, by=editor)
    assert campaign.status == "sending"
    pause_campaign(campaign, by=editor)
    assert campaign.status == "paused"
    with pytest.raises(CampaignError):
        update_campaign(campaign, {"name": "nope"})
    with pytest.raises(CampaignError):
        delete_campaign(campaign)
    resume_campaign(campaign, by=editor)
    run_campaign(campaign.pk, sleep=lambda s: None)
    campaign.refresh_from_db()
    assert campaign.status == "completed" and campaign.finished_at
    moves = list(
        CampaignTransition.objects.filter(campaign=campaign).values_list("from_status", "to_status", "by")
    )
    assert moves == [
        ("", "draft", None),
        ("draft", "sending", editor.pk),
        ("sending", "paused", editor.pk),
        ("paused", "sending", editor.pk),
        ("sending", "completed", None),
    ]
    with pytest.raises(CampaignError):
        pause_campaign(campaign)
    assert_counters_match_rows(campaign)


def test_starting_twice_sends_nothing_twice(account, people):
    contact_list, contacts = people
    campaign = sms_campaign(account, [contact_list])
    start_campaign(campaign)
    start_campaign(campaign)
    run_campaign(campaign.pk, sleep=lambda s: None)
    run_campaign(campaign.pk, sleep=lambda s: None)
    start_campaign(Campaign.objects.get(pk=campaign.pk))
    assert SandboxObject.objects.filter(kind="message").count() == len(contacts)
    assert Message.objects.filter(campaign=campaign).count() == len(contacts)


def test_scheduled_campaign_waits_for_its_time(account, people):
    contact_list, _ = people
    campaign = sms_campaign(account, [contact_list], scheduled_at=timezone.now() + dt.timedelta(hours=2))
    start_campaign(campaign)
    assert campaign.status == "scheduled"
    assert run_campaign(campaign.pk).status == "scheduled"
    assert not Message.objects.exists()


def test_cancel_holds_back_what_was_not_sent(account, people):
    contact_list, contacts = people
    campaign = sms_campaign(account, [contact_list], rate_per_second=1000)
    start_campaign(campaign)
    from campaigns.services.fanout import materialize_recipients

    materialize_recipients(campaign)
    cancel_campaign(campaign, reason="wrong text")
    assert campaign.status == "cancelled"
    totals = assert_counters_match_rows(campaign)
    assert totals["skipped"] == len(contacts) and totals["queued"] == 0
    assert SandboxObject.objects.filter(kind="message").count() == 0


def test_whatsapp_template_campaign_renders_per_contact(account, people):
    contact_list, _contacts = people
    template = approved_template(account)
    campaign = create_campaign(
        {
            "name": "W",
            "account": account,
            "channel": "whatsapp",
            "template": template,
            "lists": [contact_list],
            "rate_per_second": 100,
            "variables": {"city": {"field": "city", "fallback": "Milano"}},
        }
    )
    start_campaign(campaign)
    run_campaign(campaign.pk, sleep=lambda s: None)
    first = Message.objects.filter(campaign=campaign).order_by("id").first()
    contact = first.contact
    assert first.text == f"Ciao {contact.first_name}, sconti da Milano!"
    assert first.template_name and first.status == "sent"
    assert_counters_match_rows(campaign)

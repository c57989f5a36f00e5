"""Provider-run campaigns on Spoki (its fake over HTTP): audience synced as a Spoki list, the campaign
created from the template and scheduled, Spoki's totals pulled by the polling tick and shown beside ours."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.services import CampaignError, create_campaign, start_campaign
from campaigns.services.fanout import run_campaign
from campaigns.services.polling import poll_campaign
from campaigns.stats import campaign_stats
from messaging.models import Message, ProviderAccount, RemoteLink, TemplateLink
from tests.fakes.spoki import SpokiFake

from .helpers import approved_template, list_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def spoki(serve_fake):
    server = serve_fake(SpokiFake(api_key="k"))
    account = ProviderAccount.objects.create(
        provider="spoki", name="Spoki", base_url=server.url, credentials={"api_key": "k"}
    )
    return server, account


def _campaign(account, contact_list, template):
    return create_campaign({
        "name": "Saldi di primavera", "account": account, "channel": "whatsapp", "template": template,
        "lists": [contact_list], "rate_per_second": 5,
    })  # fmt: skip


def test_spoki_runs_the_campaign_and_we_pull_its_totals(spoki, admin_client):
    server, account = spoki
    fake = server.fake
    contact_list, contacts = list_of(6)
    template = approved_template(account)
    tid = fake.seed_template("promo", "Ciao %%FIRST_NAME%%, sconti!")
    TemplateLink.objects.filter(template=template, account=account).update(remote_id=f"{tid}|it")

    campaign = _campaign(account, contact_list, template)
    assert campaign.execution == Campaign.Execution.PROVIDER  # chosen from Spoki's capabilities
    start_campaign(campaign)
    report = run_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert report.status == "sending" and campaign.remote_id, (report.detail, campaign.status_reason)

    # The audience became a Spoki list holding exactly our six contacts (by phone), linked here.
    assert RemoteLink.objects.filter(account=account, kind="contact").count() == 6
    (remote,) = fake.campaigns.values()
    (list_id,) = remote["lists"]
    members = {fake.contacts[cid]["phone"] for cid in fake.memberships[list_id]}
    assert members == {c.phone for c in contacts}
    # Created from the template (Spoki built the automation), then scheduled to start.
    (create,) = fake.requests_to("POST", r"/api/1/campaigns/$")
    assert create.json["template"] == tid and create.json["status"] == "Draft"
    assert create.json["lists"] == [list_id]
    (schedule,) = fake.requests_to("PATCH", rf"/api/1/campaigns/{remote['id']}/$")
    assert schedule.json["status"] == "Scheduled" and remote["status"] == "Scheduled"

    run_campaign(campaign.pk)  # a second runner creates nothing twice
    assert len(fake.campaigns) == 1 and len(fake.lists) == 1
    assert RemoteLink.objects.filter(kind="contact").count() == 6
    assert not Message.objects.exists()  # Spoki sends, not us

    fake.complete_campaign(remote["id"], sent=5, read=2, failed=1)
    poll_campaign(campaign.pk)  # the minute tick's polling task
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert campaign.provider_stats["remote_status"] == "completed"
    s = campaign_stats(campaign)
    assert (s["audience"], s["sent"], s["read"], s["failed"]) == (6, 5, 2, 1)
    assert s["queued"] + s["sent"] + s["failed"] + s["unknown"] + s["skipped"] == s["audience"]

    # The campaign page shows Spoki's totals beside ours.
    page = admin_client.get(reverse("admin:campaigns_campaign_report", args=[campaign.pk]))
    assert page.status_code == 200
    assert 'id="provider-totals"' in page.content.decode()


def test_spoki_refusal_fails_the_campaign_with_spokis_own_words(spoki):
    server, account = spoki
    contact_list, _contacts = list_of(2)
    template = approved_template(account)
    # The link names a template Spoki does not have: Spoki answers its problem object (400 spoki::3004).
    TemplateLink.objects.filter(template=template, account=account).update(remote_id="987654|it")
    campaign = _campaign(account, contact_list, template)
    start_campaign(campaign)
    report = run_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == "failed" and report.status == "failed"
    assert "Invalid or no automation specified" in campaign.status_reason
    assert not server.fake.campaigns


def test_an_sms_campaign_on_spoki_is_refused_on_the_channel(spoki):
    _server, account = spoki
    contact_list, _contacts = list_of(1)
    with pytest.raises(CampaignError) as caught:
        create_campaign({"name": "SMS", "account": account, "channel": "sms", "text": "Ciao",
                         "lists": [contact_list], "rate_per_second": 5})  # fmt: skip
    assert "channel" in caught.value.message_dict

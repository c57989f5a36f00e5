"""Provider-run campaigns: Qlara (its fake over HTTP) runs the campaign; we pull and show its totals."""

import pytest

from campaigns.models import Campaign
from campaigns.services import create_campaign, start_campaign
from campaigns.services.fanout import run_campaign
from campaigns.services.polling import poll_campaign
from campaigns.stats import campaign_stats
from messaging.models import Message, ProviderAccount, RemoteLink

from .helpers import approved_template, list_of

pytestmark = pytest.mark.django_db


def test_qlara_runs_the_campaign_and_we_pull_its_totals(serve_fake):
    from tests.fakes.qlara import QlaraFake

    server = serve_fake(QlaraFake(api_key="k"))
    account = ProviderAccount.objects.create(
        provider="qlara",
        name="Qlara",
        base_url=server.url,
        credentials={"api_key": "k"},
        settings={"sender": "Negozio", "whatsapp_phone_number_id": "7001"},
    )
    contact_list, _contacts = list_of(6)
    template = approved_template(account)
    template.links.update(remote_id="whatsapp:42")  # Qlara's own template id
    campaign = create_campaign(
        {
            "name": "Saldi",
            "account": account,
            "channel": "whatsapp",
            "template": template,
            "lists": [contact_list],
            "rate_per_second": 5,
        }
    )
    assert campaign.execution == "provider"
    start_campaign(campaign)
    report = run_campaign(campaign.pk)
    campaign.refresh_from_db()
    assert report.status == "sending" and campaign.remote_id, (report.detail, campaign.status_reason)
    assert RemoteLink.objects.filter(account=account, kind="contact").count() == 6
    assert len(server.fake.campaigns) == 1
    run_campaign(campaign.pk)  # a second runner: nothing is created twice
    assert len(server.fake.campaigns) == 1 and RemoteLink.objects.filter(kind="contact").count() == 6
    assert not Message.objects.exists()  # the provider sends, not us

    server.fake.complete_campaign(int(campaign.remote_id), failed=1, read=2)
    pulled = poll_campaign(campaign.pk)
    campaign.refresh_from_db()
    s = campaign_stats(campaign)
    assert campaign.status == "completed"
    assert (s["audience"], s["failed"], s["sent"], s["read"]) == (6, 1, 5, 2), (
        pulled,
        campaign.provider_stats,
    )
    assert s["queued"] + s["sent"] + s["failed"] + s["unknown"] + s["skipped"] == s["audience"]
    assert Campaign.objects.get(pk=campaign.pk).provider_stats["remote_status"] == "completed"

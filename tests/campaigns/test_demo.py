"""The demo campaigns: the finished SMS campaign shows real-looking clicks that agree with its rows."""

import pytest
from django.db.models import Sum
from django.utils import timezone

from campaigns.demo import seed_campaigns
from campaigns.models import Campaign, TrackedLink
from campaigns.stats import campaign_stats
from messaging.models import ProviderAccount

from .helpers import assert_counters_match_rows, list_of

pytestmark = pytest.mark.django_db


def test_the_demo_sms_campaign_has_tracked_links_with_clicks():
    ProviderAccount.objects.create(provider="sandbox", name="Sandbox (demo)", settings={"seed": "demo"})
    newsletter, contacts = list_of(60)
    newsletter.name = "Newsletter"
    newsletter.save()
    assert seed_campaigns() >= 1
    campaign = Campaign.objects.get(name="Saldi di primavera")
    links = TrackedLink.objects.filter(campaign=campaign)
    assert campaign.track_clicks and links.count() == campaign.audience_count == len(contacts)
    stats = campaign_stats(campaign)
    clicked = links.filter(clicks__gt=0).count()
    assert 0 < stats["clicked"] == clicked < stats["delivered"]
    assert links.aggregate(n=Sum("clicks"))["n"] >= clicked
    now = timezone.now()
    for link in links.filter(clicks__gt=0).select_related("message"):
        # Moved back with the campaign: after the delivery, before today, the same moment on the message.
        assert link.message.delivered_at < link.first_clicked_at == link.message.clicked_at < now
    assert_counters_match_rows(campaign)
    assert seed_campaigns() == 0  # idempotent

"""python manage.py campaign_stats CAMPAIGN_ID [--json]: the same figures the API and the page show."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from campaigns import stats
from campaigns.models import Campaign


class Command(BaseCommand):
    help = "Print a campaign's statistics (the API's `stats`, the funnel and the failure reasons)."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, **options):
        campaign = Campaign.objects.filter(pk=options["campaign_id"]).first()
        if campaign is None:
            raise CommandError(_("No campaign with id %(id)s.") % {"id": options["campaign_id"]})
        figures = stats.campaign_stats(campaign)
        payload = {
            "id": campaign.pk, "name": campaign.name, "status": campaign.status,
            "stats": {**figures, "cost": str(figures["cost"])},
            "funnel": stats.funnel(campaign, figures), "failures": stats.failure_reasons(campaign),
        }  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps(payload, indent=2))
            return
        self.stdout.write(f"{campaign.name} ({campaign.get_status_display()})")
        for step in payload["funnel"]:
            self.stdout.write(f"  {step['step']:<10} {step['count']:>10,}  {step['percent']:>5}%")
        s = figures
        self.stdout.write(f"  queued {s['queued']:,} · failed {s['failed']:,} · unknown {s['unknown']:,} · "
                          f"skipped {s['skipped']:,} · cost {s['cost']} {s['currency']}")  # fmt: skip
        for failure in payload["failures"]:
            self.stdout.write(f"  failed: {failure['count']:>6,}: {failure['reason']}")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns & automations")

    def ready(self):
        from django.db.models.signals import post_migrate

        from messaging.templating.usage import register_template_users

        register_template_users(campaigns_using)
        post_migrate.connect(ensure_periodic_tasks, sender=self, dispatch_uid="campaigns-beat")


def campaigns_using(template):
    """Campaigns that use a template: scheduled/sending/paused ones block its deletion."""
    from .models import Campaign

    for campaign in Campaign.objects.filter(template=template).only("name", "status"):
        blocking = campaign.status in ("draft", "scheduled", "sending", "paused")
        yield (
            _("campaign “%(name)s” (%(status)s)")
            % {"name": campaign.name, "status": campaign.get_status_display()},
            blocking,
        )


def ensure_periodic_tasks(**kwargs):
    """post_migrate: the once-a-minute campaign tick (scheduled starts, stalled runners, polling)."""
    from config.beat import ensure_periodic_task

    ensure_periodic_task(
        "Campaign tick",
        "campaigns.tasks.tick_campaigns",
        description="Starts scheduled campaigns, restarts stalled senders and polls delivery statuses.",
        every_minutes=1,
        using=kwargs.get("using", "default"),
    )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Providers & messaging")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import services

        # The HTTP-log pruning schedule (see services.ensure_periodic_tasks for why not a migration).
        post_migrate.connect(services.ensure_periodic_tasks, sender=self, dispatch_uid="messaging-beat")
        from .webhooks.services import ensure_webhook_tasks

        post_migrate.connect(ensure_webhook_tasks, sender=self, dispatch_uid="messaging-webhooks-beat")

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationsConfig(AppConfig):
    """Automations: when something happens to a contact, act (its own app so its migrations stand alone)."""

    name = "automations"
    verbose_name = _("Automations")

    def ready(self):
        from django.db.models.signals import post_migrate

        from contacts.events import events_recorded, register_listened_kinds
        from contacts.usage import register_list_users
        from messaging.templating.usage import register_template_users

        from . import services, signals, sync  # noqa: F401  (sync registers the "automations" resource)

        events_recorded.connect(signals.kick_drain, dispatch_uid="automations-kick")
        register_listened_kinds(signals.listened_kinds)
        register_list_users(services.list_uses)
        register_template_users(services.template_uses)
        post_migrate.connect(signals.ensure_periodic_tasks, sender=self, dispatch_uid="automations-beat")

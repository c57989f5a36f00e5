from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Contacts")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import roles

        # Keep the role groups' permissions current as later migrations add models.
        post_migrate.connect(roles.sync_role_permissions, dispatch_uid="switchboard-roles")
        post_migrate.connect(ensure_periodic_tasks, sender=self, dispatch_uid="contacts-beat")


def ensure_periodic_tasks(**kwargs):
    """post_migrate: imports whose worker vanished are marked failed (and resumable) every 5 minutes."""
    from config.beat import ensure_periodic_task

    ensure_periodic_task(
        "Fail stale imports",
        "contacts.tasks.fail_stale_imports",
        description="Marks imports whose worker stopped as failed, so staff can resume them.",
        every_minutes=5,
        using=kwargs.get("using", "default"),
    )

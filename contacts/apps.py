from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import roles

        # Keep the role groups' permissions current as later migrations add models.
        post_migrate.connect(roles.sync_role_permissions, dispatch_uid="switchboard-roles")

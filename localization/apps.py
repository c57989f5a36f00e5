from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from . import model_names

# Before any model class exists (app modules load before models): names Django derives become lazy.
model_names.connect()


class LocalizationConfig(AppConfig):
    name = "localization"
    verbose_name = _("Language")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import background, timezones
        from .services import load_into_session

        user_logged_in.connect(load_into_session, dispatch_uid="localization-user-language")
        user_logged_in.connect(timezones.load_into_session, dispatch_uid="localization-user-time-zone")
        background.connect()

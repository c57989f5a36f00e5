"""The language and time zone each staff member chose in the user menu, remembered across browsers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserLanguage(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="language_choice",
        verbose_name=_("user"),
    )  # fmt: skip
    language = models.CharField(_("language"), max_length=10, help_text=_("One of the codes in LANGUAGES."))
    # Empty: settings.TIME_ZONE. Dates in the admin are shown and read in this zone.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, help_text=_("e.g. Europe/Rome"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("language choice")
        verbose_name_plural = _("language choices")

    def __str__(self):
        return f"{self.user} → {self.language}"

"""Sender: one thing an account can send from, pulled from its provider or typed by staff."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Sender(models.Model):
    """An SMS originator, a WhatsApp number or an RCS agent of one provider account.

    `address` is what a send names (OutboundMessage.sender: the originator text, the phone
    number id, the agent id); `label` is what staff read. Pulled senders follow the provider
    (a sender it no longer lists is switched off, never deleted: campaigns name it); manual
    ones are the staff's, for providers whose API does not list them.
    """

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        RCS = "rcs", _("RCS")
        VOICE = "voice", _("Voice (text read aloud)")

    class Source(models.TextChoices):
        PULLED = "pulled", _("Pulled from the provider")
        MANUAL = "manual", _("Typed by staff")

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="senders",
        verbose_name=_("provider account"),
    )  # fmt: skip
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    address = models.CharField(
        _("sender"), max_length=100,
        help_text=_("What the provider is given: the SMS sender name or number, the WhatsApp phone number id, "
                    "the RCS agent id."),
    )  # fmt: skip
    label = models.CharField(_("name shown"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL,
                              editable=False)  # fmt: skip
    provider_status = models.CharField(
        _("status at the provider"), max_length=100, blank=True, editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["account", "channel", "label", "address"]
        verbose_name = _("sender")
        verbose_name_plural = _("senders")
        constraints = [
            models.UniqueConstraint(fields=["account", "channel", "address"], name="sender_unique_address"),
        ]

    def __str__(self):
        if self.label and self.label != self.address:
            return f"{self.label} ({self.address})"
        return self.address

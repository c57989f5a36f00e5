"""Message templates and their status on each provider account.

Imported at the end of messaging/models.py, so these are models of the `messaging` app.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .variables import variables_of


class MessageTemplate(models.Model):
    """One template as staff write it: named variables (`{{first_name}}`) with a sample each.

    Provider syntaxes (Meta's `{{1}}`, Qlara's `{name}`, Spoki's `%%CODE%%`) never appear
    here: each provider package maps to and from them (Provider.template_syntax).
    """

    class Kind(models.TextChoices):
        WHATSAPP = "whatsapp", _("WhatsApp")
        RCS = "rcs", _("RCS")
        SMS = "sms", _("SMS")

    class Category(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        UTILITY = "utility", _("Utility")
        AUTHENTICATION = "authentication", _("Authentication")

    class RcsType(models.TextChoices):
        TEXT = "text", _("Text")
        CARD = "card", _("Rich card")
        CAROUSEL = "carousel", _("Carousel")

    name = models.CharField(
        _("name"), max_length=512,
        help_text=_("Lowercase letters, digits and underscores, e.g. promo_natale."),
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WHATSAPP)
    language = models.CharField(_("language"), max_length=15, default="it", help_text=_("e.g. it, en, en_US"))
    category = models.CharField(_("category"), max_length=20, choices=Category.choices, blank=True)
    # {"type": "none"|"text"|"image"|"video"|"document", "text": "…", "url": "https://…"}
    header = models.JSONField(_("header"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    footer = models.CharField(_("footer"), max_length=60, blank=True)
    # [{"type": "quick_reply"|"url"|"phone_number"|"copy_code", "text": …, "url"/"phone_number"/"example": …}]
    # For RCS these are the message's suggestions ({"type": "reply"|"url"|"dial"|"location"|"calendar"|…}).
    buttons = models.JSONField(_("buttons"), default=list, blank=True)
    # RCS: text, one rich card or a carousel; WhatsApp: carousel cards where the provider has them.
    rcs_type = models.CharField(_("RCS type"), max_length=10, choices=RcsType.choices, blank=True)
    card_orientation = models.CharField(
        _("card orientation"), max_length=10, blank=True,
        choices=[("vertical", _("Vertical")), ("horizontal", _("Horizontal"))],
    )  # fmt: skip
    # [{"title": …, "description": …, "media_url": …, "suggestions": [...]}]
    cards = models.JSONField(_("cards"), default=list, blank=True)
    sms_fallback = models.TextField(
        _("SMS fallback"), blank=True, help_text=_("Sent by SMS where RCS is not available.")
    )
    # {"first_name": "Maria", "city": "Roma"}: WhatsApp requires an example for every variable.
    samples = models.JSONField(_("sample values"), default=dict, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="messagetemplate_name_language_unique")
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"

    @property
    def variables(self) -> list[str]:
        """Named variables in order of first appearance (header, body, buttons, cards, fallback)."""
        return variables_of(self)

    @property
    def header_type(self) -> str:
        return str((self.header or {}).get("type") or "none") if isinstance(self.header, dict) else "none"

    def clean(self):
        """Every rule of validation.py (the form, the API and submit all come through here)."""
        from .validation import template_errors

        errors = template_errors(self)
        same = MessageTemplate.objects.filter(name=self.name, language=self.language).exclude(pk=self.pk)
        if self.name and same.exists():
            errors.setdefault("name", []).append(
                _("A template called %(name)s already exists in %(language)s.")
                % {"name": self.name, "language": self.language}
            )
        if errors:
            raise ValidationError(errors)


class TemplateLink(models.Model):
    """A template's twin on one provider account: its id there and its review status."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        PAUSED = "paused", _("Paused")
        DISABLED = "disabled", _("Disabled")

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="links")
    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="template_links"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    reason = models.TextField(
        _("reason"), blank=True, help_text=_("The provider's own words, e.g. why it was rejected.")
    )
    remote_id = models.CharField(_("remote id"), max_length=200, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Variable names in the order the provider numbers them ({{1}} = names[0]); kept so a pull
    # of a positional template gives back our names and a second pull changes nothing.
    variable_order = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["account__name"]
        verbose_name = _("template status on an account")
        verbose_name_plural = _("template statuses")
        constraints = [
            models.UniqueConstraint(fields=["template", "account"], name="templatelink_unique"),
        ]
        indexes = [models.Index(fields=["account", "remote_id"], name="templatelink_remote_idx")]

    def __str__(self):
        return f"{self.template} on {self.account}: {self.status}"

    def set_status(self, status: str, reason: str = "", *, now=None) -> list[str]:
        """Change status/reason in memory; returns the changed field names (for update_fields)."""
        changed = []
        if status and status != self.status:
            self.status = status
            self.status_changed_at = now or timezone.now()
            changed += ["status", "status_changed_at"]
        if reason != self.reason:
            self.reason = reason
            changed.append("reason")
        return changed

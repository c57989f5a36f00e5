"""Campaigns: who gets what, through which account, when; and the record of every transition.

The rules (audience, lifecycle, fan-out) live in campaigns/services/; the counters live in
messaging.MessageStat, moved by the status service.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        RCS = "rcs", _("RCS")
        VOICE = "voice", _("Voice (text read aloud)")

    class Execution(models.TextChoices):
        SWITCHBOARD = "switchboard", _("Sent by Switchboard, one message per recipient")
        PROVIDER = "provider", _("Run by the provider")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.PROTECT, related_name="campaigns",
        verbose_name=_("provider account"),
    )  # fmt: skip
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.SMS)
    fallback_channels = models.JSONField(
        _("fallback channels"), default=list, blank=True,
        help_text=_("Where the provider offers it: channels to try next, in order (e.g. rcs, sms)."),
    )  # fmt: skip
    sender = models.CharField(_("sender"), max_length=100, blank=True)
    template = models.ForeignKey(
        "messaging.MessageTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns",
        verbose_name=_("template"),
    )  # fmt: skip
    text = models.TextField(_("text"), blank=True, help_text=_("SMS without a template: {{first_name}} etc."))
    variables = models.JSONField(_("variables"), default=dict, blank=True)
    lists = models.ManyToManyField(
        "contacts.ContactList", related_name="campaigns", blank=True, verbose_name=_("lists")
    )
    exclude_lists = models.ManyToManyField(
        "contacts.ContactList", related_name="excluded_from_campaigns", blank=True,
        verbose_name=_("exclusion lists"),
    )  # fmt: skip
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    rate_per_second = models.PositiveIntegerField(_("messages per second"), default=10)
    window_start = models.TimeField(_("send from"), null=True, blank=True)
    window_end = models.TimeField(_("send until"), null=True, blank=True)
    window_days = models.JSONField(
        _("sending days"), default=list, blank=True, help_text=_("0 = Monday … 6 = Sunday; empty: every day.")
    )
    apply_frequency_cap = models.BooleanField(_("respect the frequency cap"), default=True)
    track_clicks = models.BooleanField(_("track link clicks"), default=False)
    failure_threshold_percent = models.PositiveSmallIntegerField(
        _("pause when failures pass (%)"), default=20
    )
    failure_window = models.PositiveIntegerField(_("over the last N messages"), default=100)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False)
    status_reason = models.TextField(blank=True, editable=False)
    execution = models.CharField(
        max_length=12, choices=Execution.choices, default=Execution.SWITCHBOARD, editable=False
    )
    remote_id = models.CharField(max_length=200, blank=True, editable=False)
    provider_stats = models.JSONField(default=dict, blank=True, editable=False)
    provider_stats_at = models.DateTimeField(null=True, blank=True, editable=False)
    audience_count = models.PositiveIntegerField(default=0, editable=False)
    excluded_counts = models.JSONField(default=dict, blank=True, editable=False)

    # One runner at a time: a lease taken by a conditional UPDATE, renewed every batch.
    runner_token = models.CharField(max_length=64, blank=True, editable=False)
    runner_until = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        editable=False,
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [("run_campaign", _("Can start, pause, resume and cancel campaigns"))]

    def __str__(self):
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.SENDING)


class CampaignTransition(models.Model):
    """Who moved a campaign from one status to another, when, and why."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=10)
    to_status = models.CharField(max_length=10)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("campaign transition")

    def __str__(self):
        return f"{self.from_label or '—'} → {self.to_label}"

    @staticmethod
    def _label(status: str) -> str:
        """A status in the staff's words (the stored value when it is not one of today's statuses)."""
        return str(dict(Campaign.Status.choices).get(status, status)) if status else ""

    @property
    def from_label(self) -> str:
        return self._label(self.from_status)

    @property
    def to_label(self) -> str:
        return self._label(self.to_status)


class TrackedLink(models.Model):
    """One link of one recipient's message, replaced by `SWITCHBOARD_PUBLIC_URL/r/<code>` (click tracking).

    Written in bulk when a campaign's messages are written (campaigns.services.links); a visit
    to /r/<code> adds to `clicks` and, the first time for that message, marks the recipient as
    clicked (Message.clicked_at and the `clicked` counter) — campaigns.services.links.record_click.
    """

    code = models.CharField(max_length=16, unique=True)
    message = models.ForeignKey("messaging.Message", on_delete=models.CASCADE, related_name="tracked_links")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tracked_links")
    url = models.TextField(_("link"))
    clicks = models.PositiveIntegerField(_("clicks"), default=0)
    first_clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")

    def __str__(self):
        return f"/r/{self.code} → {self.url}"

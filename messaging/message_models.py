"""Messages (outbound and inbound) and the bucketed counters every statistics page reads.

`Message` is one message to or from one phone on one provider account. Outbound rows are
written *before* the provider is called, carrying our idempotency key (`reference`), so a
worker that dies between the call and the record leaves a row that says "a call may have
left" (`dispatched_at` set, status still queued) instead of nothing. Statuses only move
forward (messaging.providers.base.STATUS_RANK); every update, applied or not, is kept in
`status_history`.

`MessageStat` holds signed deltas per (campaign, account, channel, hour, metric, reason):
the status service adds them in the same transaction that changes a message, so the sum
over a campaign's rows *is* its funnel at every moment, and pages never scan messages.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Message(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound", _("Outbound")
        INBOUND = "inbound", _("Inbound")

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("message status", "Queued")
        SENT = "sent", pgettext_lazy("message status", "Sent")
        DELIVERED = "delivered", pgettext_lazy("message status", "Delivered")
        READ = "read", pgettext_lazy("message status", "Read")
        FAILED = "failed", pgettext_lazy("message status", "Failed")
        UNKNOWN = "unknown", pgettext_lazy("message status", "Outcome unknown")
        SKIPPED = "skipped", pgettext_lazy("message status", "Held back")
        RECEIVED = "received", pgettext_lazy("message status", "Received")

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.PROTECT, related_name="messages"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    phone = models.CharField(max_length=20, help_text=_("E.164 of the recipient (or sender, inbound)."))
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    channel = models.CharField(max_length=16)
    sender = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    template_name = models.CharField(max_length=200, blank=True)
    template_language = models.CharField(max_length=20, blank=True)
    variables = models.JSONField(default=dict, blank=True)  # in the provider's order/keys (list or dict)
    # Other OutboundMessage fields a template needs (buttons, media_url, fallback channels).
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Marketing messages count against the shared frequency cap.
    is_marketing = models.BooleanField(default=False)
    source = models.CharField(max_length=20, blank=True, help_text=_("campaign, automation, test, api"))

    provider_message_id = models.CharField(max_length=200, blank=True)
    # Our idempotency key: unique, sent to the provider where it accepts one. Inbound rows have none.
    reference = models.CharField(max_length=64, null=True, blank=True, unique=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    # Not before this moment (sending window of the recipient's time zone).
    not_before = models.DateTimeField(null=True, blank=True)
    # Set and committed just before the provider call: "a request may have left".
    dispatched_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=5, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    status_history = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["account", "provider_message_id", "phone"], name="message_provider_id_idx"),
            models.Index(fields=["contact", "-created_at"], name="message_contact_idx"),
            models.Index(fields=["campaign", "status", "id"], name="message_campaign_status_idx"),
            models.Index(fields=["created_at"], name="message_created_idx"),
        ]

    def __str__(self):
        arrow = "→" if self.direction == self.Direction.OUTBOUND else "←"
        return f"{arrow} {self.phone} ({self.get_status_display()})"

    @property
    def error(self) -> str:
        """The failure in words (the provider's message, its code in brackets)."""
        if not (self.error_code or self.error_message):
            return ""
        if self.error_message and self.error_code:
            return f"{self.error_message} ({self.error_code})"
        return self.error_message or self.error_code


class MessageStat(models.Model):
    """Signed count (and cost) deltas for one hour, one metric. Sum them; never scan messages.

    `campaign_id` is a plain integer (0: not a campaign message) rather than a foreign key so
    one unique key covers every row and the upsert `count = count + excluded.count` works the
    same on SQLite and PostgreSQL (a nullable key is never equal to itself in a unique index).
    """

    campaign_id = models.PositiveIntegerField(default=0)
    account_id = models.PositiveIntegerField(default=0)
    channel = models.CharField(max_length=16, blank=True)
    hour = models.DateTimeField()
    metric = models.CharField(max_length=16)
    reason = models.CharField(max_length=200, blank=True)
    count = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=5, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign_id", "account_id", "channel", "hour", "metric", "reason"],
                name="messagestat_bucket_unique",
            )
        ]
        indexes = [models.Index(fields=["hour", "metric"], name="messagestat_hour_idx")]
        verbose_name = _("message statistic")

    def __str__(self):
        return f"{self.metric} {self.hour:%Y-%m-%d %H}h: {self.count}"


def hour_of(moment: dt.datetime | None) -> dt.datetime:
    """The UTC hour bucket a moment falls in."""
    moment = moment or timezone.now()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)

"""WebhookEvent: every request a provider made to /hooks/<token>/, stored before anything else happens."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.Model):
    """One received request, raw (secrets removed), with what processing made of it.

    Rows are written by raw SQL in receive.py (one INSERT on the hot path); keep the columns
    and that statement in step. The unique index over (account, dedupe_key) among originals is
    what makes a provider's retry a counted duplicate instead of a second effect.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received (waiting)")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        IGNORED = "ignored", _("Ignored (unknown type)")
        DUPLICATE = "duplicate", _("Duplicate")

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="webhook_events",
        verbose_name=_("account"), db_index=False,  # webhookevent_account_idx leads with it
    )  # fmt: skip
    provider = models.CharField(_("provider"), max_length=32)
    event_type = models.CharField(_("event type"), max_length=100, blank=True)
    event_id = models.CharField(_("provider event id"), max_length=200, blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, blank=True)
    # True for the first accepted copy of an event; duplicates, refused and malformed requests are
    # kept too but never hold the key, so a forgery cannot block the real event.
    is_original = models.BooleanField(default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    http_status = models.PositiveSmallIntegerField(_("answered"), default=200)
    method = models.CharField(_("method"), max_length=8, default="POST")
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.TextField(_("body"), blank=True)
    error = models.TextField(_("error"), blank=True)
    outcome = models.JSONField(_("outcome"), default=dict, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "dedupe_key"], condition=Q(is_original=True), name="webhookevent_dedupe"
            ),
        ]
        indexes = [
            # the backlog, per account (drainers own one account at a time): a few thousand rows at most
            models.Index(
                fields=["account", "id"], condition=Q(status="received"), name="webhookevent_backlog"
            ),
            models.Index(fields=["account", "-received_at"], name="webhookevent_account_idx"),
            # The statuses staff look for; partial, so the hot INSERT (status received) skips it.
            models.Index(
                fields=["status", "-received_at"],
                condition=Q(status__in=["failed", "ignored"]),
                name="webhookevent_status_idx",
            ),
        ]

    def __str__(self):
        return f"{self.provider} {self.event_type or '—'} #{self.pk}"

    @property
    def refused(self) -> bool:
        """A request that failed a check or could not be read: it is never applied."""
        return self.http_status >= 400

    @property
    def retryable(self) -> bool:
        return not self.refused and self.status in (
            self.Status.FAILED,
            self.Status.PROCESSED,
            self.Status.IGNORED,
        )

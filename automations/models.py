"""Automations (trigger → conditions → actions), their runs per contact, and pulled provider automations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from messaging.crypto import EncryptedTextField


class Automation(models.Model):
    """One automation. trigger/conditions/actions are JSON validated by automations.schema.

    The JSON shape is the public API shape (issue 12's Interfaces), so the admin form, the API
    and the engine share one definition and one validator.
    """

    class TriggerType(models.TextChoices):
        CONTACT_CREATED = "contact_created", _("Contact created")
        LIST_ADDED = "list_added", _("Added to a list")
        LIST_REMOVED = "list_removed", _("Removed from a list")
        TAG_ADDED = "tag_added", _("Tag added")
        INBOUND_KEYWORD = "inbound_keyword", _("Message received with a keyword")
        DATE_FIELD = "date_field", _("A date (birthday, anniversary…)")
        MESSAGE_STATUS = "message_status", _("A message reached (or did not reach) a status")

    name = models.CharField(_("name"), max_length=150)
    enabled = models.BooleanField(_("switched on"), default=False)
    trigger = models.JSONField(_("trigger"), default=dict)
    trigger_type = models.CharField(
        _("trigger type"), max_length=32, choices=TriggerType.choices, editable=False
    )
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    actions = models.JSONField(_("actions"), default=list)
    enabled_at = models.DateTimeField(_("switched on at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("automation")
        verbose_name_plural = _("automations")
        indexes = [
            models.Index(fields=["trigger_type"], condition=Q(enabled=True), name="automation_enabled_idx")
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.trigger_type = (self.trigger or {}).get("type", "")
        super().save(*args, **kwargs)

    def get_admin_url(self) -> str:
        return reverse("admin:automations_automation_change", args=[self.pk])


class AutomationRun(models.Model):
    """One contact going through one automation because of one trigger event (never twice)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="automation_runs")
    event = models.ForeignKey(
        "contacts.ContactEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # automation x contact x key is unique: the key names the trigger event ("e:123",
    # "list_added:<dedupe key>", "date:2027-02-28", "past", "missed:<message>:read").
    key = models.CharField(_("idempotency key"), max_length=200)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    trigger_data = models.JSONField(_("trigger"), default=dict, blank=True)
    conditions_checked = models.JSONField(_("conditions checked"), default=list, blank=True)
    next_step = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(_("next step due"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("automation run")
        verbose_name_plural = _("automation runs")
        constraints = [
            models.UniqueConstraint(fields=["automation", "contact", "key"], name="automationrun_once"),
        ]
        indexes = [
            # The due-steps beat: WHERE status IN (pending, running) AND due_at <= now.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["pending", "running"]),
                name="automationrun_due_idx",
            ),
            models.Index(fields=["contact", "-created_at"], name="automationrun_contact_idx"),
            models.Index(fields=["automation", "-id"], name="automationrun_automation_idx"),
        ]

    def __str__(self):
        return f"{self.automation_id} · {self.contact_id} · {self.status}"


class AutomationStep(models.Model):
    """The outcome of one action of one run."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")
        RETRYING = "retrying", _("Will retry")
        SKIPPED = "skipped", _("Skipped")

    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveSmallIntegerField()
    action = models.CharField(_("action"), max_length=32)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    error = models.TextField(_("error"), blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["run_id", "id"]
        verbose_name = _("automation step")
        verbose_name_plural = _("automation steps")

    def __str__(self):
        return f"{self.action}: {self.status}"


class ContactDate(models.Model):
    """Index of contacts' dates by month-day, so date triggers never scan every contact.

    Kept by automations.dates.refresh_contact_dates from contacts changed since the last
    refresh (the contacts' updated_at index), not by the contact services.
    """

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)  # "birth_date" or a custom date field's key
    value = models.DateField()
    month_day = models.PositiveSmallIntegerField()  # 229 for 29 February
    time_zone = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "key"], name="contactdate_unique")]
        indexes = [models.Index(fields=["key", "month_day"], name="contactdate_md_idx"),
                   models.Index(fields=["key", "value"], name="contactdate_value_idx")]  # fmt: skip

    def __str__(self):
        return f"{self.contact_id} {self.key} {self.value}"


class ProviderAutomation(models.Model):
    """An automation that lives at a provider (Spoki), pulled so staff can pick and start it."""

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="provider_automations"
    )
    remote_id = models.CharField(_("remote id"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active at the provider"), default=True)
    fields = models.JSONField(_("fields it uses"), default=list, blank=True)
    trigger_id = models.CharField(max_length=64, blank=True, editable=False)
    secret = EncryptedTextField(blank=True, editable=False)
    pulled_at = models.DateTimeField(_("pulled at"), default=timezone.now)

    class Meta:
        ordering = ["account", "name"]
        verbose_name = _("provider automation")
        verbose_name_plural = _("provider automations")
        constraints = [
            models.UniqueConstraint(fields=["account", "remote_id"], name="providerautomation_unique")
        ]

    def __str__(self):
        return f"{self.name} ({self.account})"

    @property
    def has_secret(self) -> bool:
        return bool(self.trigger_id and self.secret)


class DrainState(models.Model):
    """Singleton bookkeeping of the event consumer (last drain, for the admin and health checks)."""

    name = models.CharField(max_length=32, unique=True)
    last_drain_at = models.DateTimeField(null=True, blank=True)
    last_dates_refresh = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name

"""Sync state: links between local records and their remote twins, runs, held conflicts.

Imported at the end of messaging/models.py, so these are models of the
`messaging` app. Nothing here talks to a provider; see messaging/sync/engine.py.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class RemoteLink(models.Model):
    """A local contact or list and its twin on one provider account.

    `fingerprint` is a hash of the local state at the last sync and
    `remote_fingerprint` the hash of the remote state we saw or sent then; comparing
    each side with its own fingerprint tells which side changed since (three-way
    sync without keeping copies of every record). `synced_key` is the natural key
    at the last sync (E.164 phone, list name) so a changed phone is noticed.
    """

    class Kind(models.TextChoices):
        CONTACT = "contact", _("Contact")
        LIST = "list", _("List")
        TEMPLATE = "template", _("Template")

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="remote_links"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # SET_NULL, not CASCADE: a link whose local record was deleted is a tombstone that tells
    # the next push to delete the twin (or, where the provider cannot, stops the next pull
    # from bringing the record back).
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="remote_links"
    )
    contact_list = models.ForeignKey(
        "contacts.ContactList", null=True, blank=True, on_delete=models.SET_NULL, related_name="remote_links"
    )
    template = models.ForeignKey(
        "messaging.MessageTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="remote_links",
    )
    # The local record let go of this twin on purpose (e.g. a new phone on a provider where a
    # phone cannot change): leave the remote alone and do not import it again.
    detached = models.BooleanField(default=False)
    remote_id = models.CharField(max_length=200)
    remote_version = models.CharField(max_length=100, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    fingerprint = models.CharField(max_length=40, blank=True)
    remote_fingerprint = models.CharField(max_length=40, blank=True)
    synced_key = models.CharField(max_length=200, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # The run whose full remote scan last saw this record: what a finished scan did not
    # see is gone remotely.
    last_seen_run = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "remote_id"], name="remotelink_remote_unique"),
            models.UniqueConstraint(
                fields=["account", "contact"],
                condition=Q(contact__isnull=False),
                name="remotelink_contact_unique",
            ),
            models.UniqueConstraint(
                fields=["account", "contact_list"],
                condition=Q(contact_list__isnull=False),
                name="remotelink_list_unique",
            ),
            models.UniqueConstraint(
                fields=["account", "template"],
                condition=Q(template__isnull=False),
                name="remotelink_template_unique",
            ),
        ]
        indexes = [models.Index(fields=["account", "kind", "last_seen_run"], name="remotelink_seen_idx")]

    def __str__(self):
        return f"{self.kind} {self.local_id} ↔ {self.account_id}:{self.remote_id}"

    @property
    def local_id(self):
        if self.kind == self.Kind.TEMPLATE:
            return self.template_id
        return self.contact_id if self.kind == self.Kind.CONTACT else self.contact_list_id


class SyncMembership(models.Model):
    """A list membership as it stood on the provider after the last sync (the merge base)."""

    list_link = models.ForeignKey(RemoteLink, on_delete=models.CASCADE, related_name="synced_members")
    contact_remote_id = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["list_link", "contact_remote_id"], name="syncmembership_unique")
        ]

    def __str__(self):
        return f"{self.contact_remote_id} in {self.list_link_id}"


class SyncRun(models.Model):
    """One sync of one account: what it did, in numbers, and what went wrong per record."""

    class Resource(models.TextChoices):
        ALL = "all", _("Contacts and lists")
        CONTACTS = "contacts", _("Contacts")
        LISTS = "lists", _("Lists")
        # Resources with their own module in messaging/sync/ (see resources.py). "all" stays
        # contacts + lists; the others run on their own (and on the account's schedule).
        TEMPLATES = "templates", _("Templates")
        CAMPAIGNS = "campaigns", _("Campaigns")
        AUTOMATIONS = "automations", _("Automations")
        SENDERS = "senders", _("Senders")

    class Direction(models.TextChoices):
        BOTH = "both", _("Both ways")
        PULL = "pull", _("Pull (provider → Switchboard)")
        PUSH = "push", _("Push (Switchboard → provider)")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        BUTTON = "button", _("Sync now button")
        API = "api", _("API")
        CLI = "cli", _("Command line")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Finished with problems")
        FAILED = "failed", _("Failed")

    COUNTS = (
        "pulled",
        "created",
        "updated",
        "unchanged",
        "pushed",
        "deleted",
        "unlinked",
        "conflicts",
        "errors",
    )

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="sync_runs"
    )
    resource = models.CharField(max_length=20, choices=Resource.choices, default=Resource.ALL)
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.BOTH)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    pulled = models.PositiveIntegerField(default=0, help_text=_("Remote records read"))
    created = models.PositiveIntegerField(default=0, help_text=_("Local records created"))
    updated = models.PositiveIntegerField(default=0, help_text=_("Local records changed from the provider"))
    unchanged = models.PositiveIntegerField(default=0)
    pushed = models.PositiveIntegerField(default=0, help_text=_("Records created or changed at the provider"))
    deleted = models.PositiveIntegerField(default=0, help_text=_("Records deleted (here or there)"))
    unlinked = models.PositiveIntegerField(default=0, help_text=_("Links dropped because the twin is gone"))
    conflicts = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    # Where to resume: {"phase": "...", "cursor": ...}; empty once finished.
    cursor = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(
        default=0, help_text=_("How many times this run was started or resumed")
    )
    error = models.TextField(blank=True, help_text=_("Why the run stopped, when it failed"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("sync run")
        indexes = [models.Index(fields=["account", "resource", "-created_at"], name="syncrun_account_idx")]

    def __str__(self):
        # No account name: runs are readable by Viewers, accounts by Managers only (issue 8).
        return gettext("Sync #%(id)s (%(resource)s)") % {"id": self.pk, "resource": self.get_resource_display().lower()}

    @property
    def correlation(self) -> str:
        return f"syncrun:{self.pk}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.PARTIAL, self.Status.FAILED)

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def summary(self) -> dict:
        return {
            "id": self.pk,
            "account": self.account.name,
            "resource": self.resource,
            "direction": self.direction,
            "status": self.status,
            **self.counts(),
            "error": self.error,
        }

    def get_admin_url(self) -> str:
        return reverse("admin:messaging_syncrun_change", args=[self.pk])


class SyncError(models.Model):
    """A problem with one record (the run went on), or a note staff should read."""

    class Level(models.TextChoices):
        ERROR = "error", _("Error")
        NOTE = "note", _("Note")

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="problems")
    level = models.CharField(max_length=5, choices=Level.choices, default=Level.ERROR)
    kind = models.CharField(max_length=10, blank=True)  # contact | list | membership
    remote_id = models.CharField(max_length=200, blank=True)
    local_id = models.PositiveBigIntegerField(null=True, blank=True)
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.message[:100]


class SyncConflict(models.Model):
    """Both sides changed one record since the last sync and the account holds such cases for review."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for a decision")
        KEPT_OURS = "kept_ours", _("Kept Switchboard's version")
        KEPT_THEIRS = "kept_theirs", _("Kept the provider's version")

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="sync_conflicts"
    )
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="held_conflicts"
    )
    link = models.ForeignKey(
        RemoteLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="conflicts"
    )
    kind = models.CharField(max_length=10, choices=RemoteLink.Kind.choices)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="sync_conflicts"
    )
    contact_list = models.ForeignKey(
        "contacts.ContactList", null=True, blank=True, on_delete=models.CASCADE, related_name="sync_conflicts"
    )
    remote_id = models.CharField(max_length=200)
    local_snapshot = models.JSONField(default=dict)
    remote_snapshot = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "remote_id"],
                condition=Q(status="open"),
                name="syncconflict_open_unique",
            )
        ]

    def __str__(self):
        return gettext("Conflict on %(kind)s %(id)s (%(status)s)") % {
            "kind": self.get_kind_display().lower() if hasattr(self, "get_kind_display") else self.kind,
            "id": self.remote_id, "status": self.get_status_display().lower(),
        }

    def differences(self) -> list[tuple[str, object, object]]:
        """(field, ours, theirs) for every field whose values differ, for the side-by-side screen."""
        keys = sorted(set(self.local_snapshot) | set(self.remote_snapshot))
        return [
            (k, self.local_snapshot.get(k), self.remote_snapshot.get(k))
            for k in keys
            if self.local_snapshot.get(k) != self.remote_snapshot.get(k)
        ]


class SyncLock(models.Model):
    """A lease: one sync per account and resource at a time, across processes and machines.

    Taken with one conditional UPDATE (atomic on every database), renewed while the run
    works, and released at the end; a crashed worker's lease simply expires.
    """

    account = models.ForeignKey("messaging.ProviderAccount", on_delete=models.CASCADE, related_name="+")
    resource = models.CharField(max_length=20)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "resource"], name="synclock_unique")]

    def __str__(self):
        return f"lock {self.account_id}:{self.resource} held by {self.holder or 'nobody'}"


# --- keep each account's schedule in step with its settings --------------------------------------


def _schedule_on_save(sender, instance, update_fields=None, **kwargs):
    from .services import schedule_account_sync

    if update_fields is not None and not {"sync_interval_minutes", "is_active"} & set(update_fields):
        return  # a health or balance update: the schedule cannot have changed

    schedule_account_sync(instance)


def _unschedule_on_delete(sender, instance, **kwargs):
    from .services import unschedule_account_sync

    unschedule_account_sync(instance)


# Lazy sender strings: ProviderAccount is defined in the module that imports this one.
models.signals.post_save.connect(
    _schedule_on_save, sender="messaging.ProviderAccount", dispatch_uid="sync_schedule_on_save"
)
models.signals.post_delete.connect(
    _unschedule_on_delete, sender="messaging.ProviderAccount", dispatch_uid="sync_unschedule_on_delete"
)

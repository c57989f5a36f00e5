"""ContactImport and ContactExport: one row per file staff import or export, with progress.

Registered with the contacts app by one import line at the end of contacts/models.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ContactImport(models.Model):
    class Kind(models.TextChoices):
        CSV = "csv", _("CSV / text")
        XLSX = "xlsx", _("Excel (.xlsx)")
        VCARD = "vcard", _("vCard (.vcf)")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        MAPPING = "mapping", _("Columns mapped")
        PREVIEWED = "previewed", _("Previewed")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Finished")
        FAILED = "failed", _("Failed")

    class UpdateMode(models.TextChoices):
        FILL = "fill", _("Fill empty fields of matched contacts")
        OVERWRITE = "overwrite", _("Overwrite matched contacts with the file's values")
        SKIP = "skip", _("Leave matched contacts as they are")

    file = models.FileField(upload_to="imports/%Y/%m/", max_length=255)
    original_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    size = models.BigIntegerField(default=0)

    # What the person chose.
    contact_list = models.ForeignKey(
        "contacts.ContactList", null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )
    new_list_name = models.CharField(max_length=150, blank=True)
    tags = models.JSONField(default=list, blank=True)
    country = models.CharField(max_length=2, blank=True)
    sheet = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=list, blank=True, help_text=_("Target per column ('' = ignored)"))
    phone_order = models.JSONField(default=list, blank=True, help_text=_("Phone column indexes, first wins"))
    update_mode = models.CharField(max_length=10, choices=UpdateMode.choices, default=UpdateMode.FILL)
    detected = models.JSONField(default=dict, blank=True)
    preview = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED, db_index=True)
    total_rows = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(
        default=0, help_text=_("Rows merged into an earlier row with the same phone")
    )
    rejected = models.PositiveIntegerField(default=0)
    warned = models.PositiveIntegerField(
        default=0, help_text="Imported rows with an optional value left out (see the warnings report)"
    )
    # Progress: position/size are bytes (rows for Excel); rate is rows per second.
    position = models.BigIntegerField(default=0)
    rate = models.FloatField(default=0)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Resume point: rows fully committed, and the rejected-rows file length at that moment.
    cursor = models.PositiveIntegerField(default=0)
    rejected_offset = models.BigIntegerField(default=0)
    rejected_file = models.FileField(upload_to="imports/rejected/%Y/%m/", blank=True, max_length=255)
    warnings_offset = models.BigIntegerField(default=0)
    warnings_file = models.FileField(upload_to="imports/warnings/%Y/%m/", blank=True, max_length=255)
    warning_examples = models.JSONField(default=list, blank=True, help_text="The first warnings")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("contact import")

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("admin:contacts_contactimport_progress", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.size:
            return 0
        return min(99, int(self.position * 100 / self.size))


class ContactExport(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", _("CSV (Excel)")
        XLSX = "xlsx", _("Excel (.xlsx)")
        VCF = "vcf", _("vCard 3.0")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Ready")
        FAILED = "failed", _("Failed")

    format = models.CharField(max_length=4, choices=Format.choices, default=Format.CSV)
    filters = models.JSONField(
        default=dict, blank=True, help_text=_("ids / list_id / tag / search / opted_out: which contacts")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("contact export")

    def __str__(self):
        return gettext("Export #%(id)s (%(format)s, %(status)s)") % {
            "id": self.pk, "format": self.get_format_display(), "status": self.get_status_display()
        }

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

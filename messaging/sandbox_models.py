"""The sandbox provider's "remote" state, kept in the database.

The sandbox pretends to be a provider's server. Its state must outlive a
process (the web process creates a contact, the Celery worker pulls it), so
it lives in one small table instead of memory: one row per remote object,
per ProviderAccount. Nothing but messaging.providers.sandbox reads it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SandboxObject(models.Model):
    """One object on the sandbox "server": a contact, list, membership, template, campaign, …"""

    account = models.ForeignKey(
        "messaging.ProviderAccount", on_delete=models.CASCADE, related_name="sandbox_objects"
    )
    kind = models.CharField(max_length=20)
    remote_id = models.CharField(max_length=64)
    # Membership rows and per-campaign rows point at their parent's remote id.
    parent = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("sandbox object")
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "remote_id"], name="sandbox_unique_remote_id")
        ]
        indexes = [models.Index(fields=["account", "kind", "parent", "id"], name="sandbox_kind_idx")]

    def __str__(self):
        return f"{self.kind} {self.remote_id}"

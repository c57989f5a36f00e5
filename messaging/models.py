"""Provider accounts and the log of every exchange with them."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .crypto import EncryptedJSONField, EncryptedTextField
from .providers.registry import get_provider_class, provider_choices
from .webhooks.tokens import new_webhook_token, webhook_url_for


class ProviderAccount(models.Model):
    """One account at one provider. Several accounts of the same provider are allowed."""

    class ConflictPolicy(models.TextChoices):
        PROVIDER_WINS = "provider_wins", _("Provider wins")
        LOCAL_WINS = "local_wins", _("Switchboard wins")
        HOLD = "hold", _("Hold for review")

    class DeletePolicy(models.TextChoices):
        UNLINK = "unlink", _("Unlink only (keep the contact here)")
        DELETE = "delete", _("Delete here too")

    provider = models.CharField(max_length=32, choices=provider_choices)
    name = models.CharField(
        max_length=100, unique=True, help_text=_("A name staff recognise, e.g. 'Spoki Italy'.")
    )
    base_url = models.URLField(
        blank=True,
        help_text=_("Leave empty for the provider's own address. Tests and staging point it elsewhere."),
    )
    credentials = EncryptedJSONField(blank=True, editable=False)
    settings = models.JSONField(
        default=dict, blank=True, help_text=_("Non-secret ids: sender, phone number id, …")
    )
    webhook_secret = EncryptedTextField(blank=True, editable=False)
    # /hooks/<webhook_token>/ (issue 11): 256 random bits; rotating it retires the old URL at once.
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token, editable=False)
    # What registering with the provider left behind (subscription ids, the URL); never secrets.
    webhook_registration = models.JSONField(default=dict, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    conflict_policy = models.CharField(
        max_length=20, choices=ConflictPolicy.choices, default=ConflictPolicy.HOLD
    )
    delete_policy = models.CharField(max_length=10, choices=DeletePolicy.choices, default=DeletePolicy.UNLINK)
    sync_interval_minutes = models.PositiveIntegerField(default=60, help_text=_("0 turns scheduled sync off."))

    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    balance_text = models.CharField(max_length=200, blank=True, editable=False)
    balance_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    UNHEALTHY_AFTER = 3

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def provider_class(self):
        return get_provider_class(self.provider)

    def get_provider(self):
        """A provider instance speaking for this account (SecretUnreadable if its secrets are unreadable)."""
        from .crypto import SecretUnreadable

        if self.secrets_unreadable:
            raise SecretUnreadable(
                "The stored credentials cannot be decrypted with the configured FIELD_ENCRYPTION_KEY."
            )
        return self.provider_class(self)

    @property
    def secrets_unreadable(self) -> bool:
        """True when the credentials or webhook secret were encrypted with a key no longer configured."""
        from .crypto import is_unreadable

        return is_unreadable(self.credentials) or is_unreadable(self.webhook_secret)

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures < self.UNHEALTHY_AFTER

    @property
    def effective_base_url(self) -> str:
        return self.base_url or self.provider_class.default_base_url

    @property
    def webhook_url(self) -> str:
        """The full URL this account's provider must call (SWITCHBOARD_PUBLIC_URL + /hooks/<token>/)."""
        return webhook_url_for(self.webhook_token)

    def credential_keys(self) -> list[str]:
        """Which secrets are set (names only: values are never shown again)."""
        return sorted(k for k, v in (self.credentials or {}).items() if v)


class HttpLog(models.Model):
    """One HTTP exchange with a provider (RapidPro's HTTPLog), secrets redacted, bodies trimmed."""

    account = models.ForeignKey(
        ProviderAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="http_logs"
    )
    provider = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    host = models.CharField(max_length=200)
    path = models.CharField(max_length=500)
    query = models.JSONField(default=dict, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    correlation = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("HTTP log entry")
        verbose_name_plural = _("HTTP log")
        indexes = [models.Index(fields=["account", "-created_at"], name="httplog_account_idx")]

    def __str__(self):
        return f"{self.method} {self.path} → {self.status or gettext('no answer')}"

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400

    @classmethod
    def record(cls, *, account, provider, method, url, params, status, duration_ms, request_body,
               response_body, request_id, error, correlation) -> HttpLog:  # fmt: skip
        parts = urlsplit(url)
        return cls.objects.create(
            account=account if getattr(account, "pk", None) else None,
            provider=provider,
            method=method,
            host=parts.netloc[:200],
            path=parts.path[:500],
            query=params or {},
            status=status,
            duration_ms=duration_ms,
            request_body=request_body,
            response_body=response_body,
            request_id=request_id[:200],
            error=error,
            correlation=correlation[:64],
        )

    @classmethod
    def prune(cls, days: int | None = None) -> int:
        days = settings.HTTP_LOG_RETENTION_DAYS if days is None else days
        deleted, _ = cls.objects.filter(created_at__lt=timezone.now() - dt.timedelta(days=days)).delete()
        return deleted


# The sandbox provider's remote state (its own module so the lead's models stay readable).
from .message_models import Message, MessageStat  # noqa: E402, F401
from .sandbox_models import SandboxObject  # noqa: E402, F401
from .senders.models import Sender  # noqa: E402, F401
from .sync.models import RemoteLink, SyncConflict, SyncError, SyncLock, SyncMembership, SyncRun  # noqa: E402, F401
from .templating.models import MessageTemplate, TemplateLink  # noqa: E402, F401
from .webhooks.models import WebhookEvent  # noqa: E402, F401

"""Provider-account operations: create, update, set credentials, test the connection, prune the log.

The admin, the API, management commands and Celery tasks all call these; none of
them carries a rule of its own. Credentials are validated against the provider
class's `credential_fields` and are never logged: log lines name keys, not values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from config.beat import ensure_periodic_task
from localization.formatting import format_money

from .crypto import SecretUnreadable
from .models import HttpLog, ProviderAccount
from .providers.base import AccountInfo, Provider
from .providers.errors import AuthError, NotSupported, ProviderError, RateLimited, Rejected, Unavailable
from .providers.http import correlate
from .providers.registry import get_provider_class, get_registry

logger = logging.getLogger("switchboard.messaging")

CHECK_RETRIES = 1
CHECK_MAX_BACKOFF = 1.0
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "INR": "₹"}

# Fields of ProviderAccount that staff may set directly (the rest go through their own rules).
PLAIN_FIELDS = ("name", "base_url", "is_active", "conflict_policy", "delete_policy", "sync_interval_minutes")


# --- provider lookup and validation ----------------------------------------------------------

MAX_SECRET_LENGTH = 4096


def _has_control_chars(text: str) -> bool:
    return any(ord(ch) < 32 or 127 <= ord(ch) < 160 or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def redact_secrets(text: str, account: ProviderAccount | None) -> str:
    """`text` with each of the account's stored secrets (credentials, webhook secret) replaced by [redacted]."""
    if not text or account is None:
        return text or ""
    secrets = [str(v) for v in (account.credentials or {}).values() if v not in (None, "")]
    if account.webhook_secret:
        secrets.append(str(account.webhook_secret))
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def clean_base_url(value: str) -> str:
    """An http(s) address without user:password@ (secrets belong in the encrypted credentials)."""
    from urllib.parse import urlsplit

    value = (value or "").strip()
    if not value:
        return ""
    if _has_control_chars(value):
        raise ValidationError({"base_url": [_("The address contains a control character.")]})
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 — raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError({"base_url": [_("This is not a valid web address.")]}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"base_url": [_("Use an http:// or https:// address.")]})
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValidationError(
            {
                "base_url": [
                    _(
                        "Do not put a user name or password in the address: enter them as credentials, "
                        "where they are stored encrypted."
                    )
                ]
            }
        )
    return value



def resolve_provider(slug: str) -> type[Provider]:
    """The provider class for `slug`, or a ValidationError naming the installed ones."""
    try:
        return get_provider_class(slug)
    except ImproperlyConfigured:
        allowed = ", ".join(sorted(get_registry()))
        raise ValidationError(
            {"provider": [_("Unknown provider %(slug)r. Choose one of: %(allowed)s.") % {"slug": slug, "allowed": allowed}]},
            code="unknown_provider",
        ) from None


def clean_credentials(
    provider_class: type[Provider], given: dict[str, Any] | None, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Merge `given` over `existing` (blank keeps the stored value) and check them.

    Unknown keys and missing required keys are ValidationErrors that name them. A
    provider with alternative credential sets (say, an API key or a user and password)
    may define a `validate_credentials(credentials)` classmethod raising ValueError.
    """
    fields = {f.key: f for f in provider_class.credential_fields}
    given = dict(given or {})
    unknown = sorted(k for k in given if k not in fields)
    if unknown:
        allowed = ", ".join(fields) or _("none")
        raise ValidationError(
            {
                "credentials": [
                    _("Unknown credential %(keys)s for %(provider)s. Allowed: %(allowed)s.")
                    % {"keys": ", ".join(unknown), "provider": provider_class.display_name, "allowed": allowed}
                ]
            }
        )
    merged = {k: v for k, v in (existing or {}).items() if k in fields and v not in (None, "")}
    problems = []
    for key, value in given.items():
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue  # blank means "keep what is stored" (forms never show secrets back)
        if not isinstance(value, str | int) or isinstance(value, bool):
            problems.append(_("%(key)s must be text.") % {"key": key})
            continue
        value = str(value).strip()
        if _has_control_chars(value):
            # A newline in a key would reach an HTTP header, and the error would quote it.
            problems.append(
                _("%(key)s contains a line break or another control character; paste it again.") % {"key": key}
            )
            continue
        if len(value) > MAX_SECRET_LENGTH:
            problems.append(_("%(key)s is longer than %(n)d characters.") % {"key": key, "n": MAX_SECRET_LENGTH})
            continue
        merged[key] = value
    if problems:
        raise ValidationError({"credentials": problems})
    missing = [f for f in provider_class.credential_fields if f.required and not merged.get(f.key)]
    if missing:
        raise ValidationError(
            {
                "credentials": [
                    _("Missing required credential %(key)s (%(label)s).") % {"key": f.key, "label": f.label}
                    for f in missing
                ]
            }
        )
    validate = getattr(provider_class, "validate_credentials", None)
    if callable(validate):
        try:
            validate(merged)
        except ValueError as exc:
            raise ValidationError({"credentials": [str(exc)]}) from None
    return merged


def clean_settings(
    provider_class: type[Provider], given: dict[str, Any] | None, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Merge non-secret settings: a blank value removes the key; unknown keys are refused."""
    fields = {f.key: f for f in provider_class.setting_fields}
    given = dict(given or {})
    unknown = sorted(k for k in given if k not in fields)
    if unknown:
        allowed = ", ".join(fields) or _("none")
        raise ValidationError(
            {
                "settings": [
                    _("Unknown setting %(keys)s for %(provider)s. Allowed: %(allowed)s.")
                    % {"keys": ", ".join(unknown), "provider": provider_class.display_name, "allowed": allowed}
                ]
            }
        )
    merged = dict(existing or {})
    problems = []
    for key, value in given.items():
        if value is None or (isinstance(value, str) and value.strip() == ""):
            merged.pop(key, None)
        elif isinstance(value, str) and (_has_control_chars(value.strip()) or len(value) > MAX_SECRET_LENGTH):
            problems.append(_("%(key)s contains a control character or is too long.") % {"key": key})
        elif not isinstance(value, str | int | float | bool):
            problems.append(_("%(key)s must be a text, a number or yes/no.") % {"key": key})
        else:
            merged[key] = value.strip() if isinstance(value, str) else value
    if problems:
        raise ValidationError({"settings": problems})
    missing = [f for f in provider_class.setting_fields if f.required and not merged.get(f.key)]
    if missing:
        raise ValidationError(
            {
                "settings": [
                    _("Missing required setting %(key)s (%(label)s).") % {"key": f.key, "label": f.label}
                    for f in missing
                ]
            }
        )
    return merged


# --- accounts -------------------------------------------------------------------------------


def create_account(
    *,
    provider: str,
    name: str,
    base_url: str = "",
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    webhook_secret: str = "",
    **options: Any,
) -> ProviderAccount:
    """Create an account after checking its provider, credentials and settings.

    Raises ValidationError (by field) for an unknown provider, a missing or unknown
    credential or setting, or a name already in use. Nothing is saved on error.
    """
    provider_class = resolve_provider(provider)
    account = ProviderAccount(
        provider=provider,
        name=(name or "").strip(),
        base_url=clean_base_url(base_url),
        credentials=clean_credentials(provider_class, credentials),
        settings=clean_settings(provider_class, settings),
        webhook_secret=(webhook_secret or "").strip(),
    )
    if _has_control_chars(account.webhook_secret):
        raise ValidationError({"webhook_secret": [_("The secret contains a control character.")]})
    for key, value in options.items():
        if key not in PLAIN_FIELDS:
            raise TypeError(f"create_account() got an unexpected field {key!r}")
        setattr(account, key, value)
    account.full_clean(exclude=["credentials", "webhook_secret"])
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        raise ValidationError({"name": [_("An account with this name already exists.")]}) from None
    logger.info("provider account %s created (%s), credentials set: %s", account.pk, provider,
                ", ".join(account.credential_keys()) or "none")  # fmt: skip
    return account


def update_account(
    account: ProviderAccount,
    *,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    webhook_secret: str | None = None,
    **changes: Any,
) -> ProviderAccount:
    """Change an account. Credentials and settings merge (blank credentials keep the stored ones).

    The provider itself cannot change: an account's remote ids belong to one provider.
    """
    if "provider" in changes and changes.pop("provider") != account.provider:
        raise ValidationError({"provider": [_("The provider of an existing account cannot change.")]})
    update_fields = []
    for key, value in changes.items():
        if key not in PLAIN_FIELDS:
            raise TypeError(f"update_account() got an unexpected field {key!r}")
        if key == "base_url":
            value = clean_base_url(value)
        setattr(account, key, value.strip() if isinstance(value, str) else value)
        update_fields.append(key)
    provider_class = resolve_provider(account.provider)
    if credentials is not None:
        account.credentials = clean_credentials(provider_class, credentials, account.credentials)
        update_fields.append("credentials")
    if settings is not None:
        account.settings = clean_settings(provider_class, settings, account.settings)
        update_fields.append("settings")
    if webhook_secret:  # blank keeps the stored secret
        if _has_control_chars(webhook_secret.strip()):
            raise ValidationError({"webhook_secret": [_("The secret contains a control character.")]})
        account.webhook_secret = webhook_secret.strip()
        update_fields.append("webhook_secret")
    if not update_fields:
        return account
    account.full_clean(exclude=["credentials", "webhook_secret"])
    try:
        with transaction.atomic():
            account.save(update_fields=[*update_fields, "updated_at"])
    except IntegrityError:
        raise ValidationError({"name": [_("An account with this name already exists.")]}) from None
    logger.info("provider account %s updated: %s", account.pk, ", ".join(sorted(set(update_fields))))
    return account


def set_credentials(
    account: ProviderAccount, credentials: dict[str, Any], *, replace: bool = False
) -> ProviderAccount:
    """Store new credentials, encrypted. Blank values keep the stored ones unless `replace`.

    Values are never logged, only which keys are set.
    """
    provider_class = resolve_provider(account.provider)
    existing = None if replace else account.credentials
    account.credentials = clean_credentials(provider_class, credentials, existing)
    account.save(update_fields=["credentials", "updated_at"])
    logger.info("provider account %s credentials set: %s", account.pk, ", ".join(account.credential_keys()))
    return account


def delete_account(account: ProviderAccount) -> None:
    """Delete an account with its HTTP log and sandbox state (remote data at the provider stays)."""
    pk = account.pk
    account.delete()
    logger.info("provider account %s deleted", pk)


# --- connection tests and health ----------------------------------------------------------------


@dataclass
class ConnectionCheck(AccountInfo):
    """AccountInfo plus a machine-readable status for the API and the command."""

    status: str = (
        "connected"  # connected | auth_failed | unreachable | rate_limited | rejected | not_supported | error
    )
    http_status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "detail": self.detail,
            "http_status": self.http_status,
            "balance": format_balance(self.balance, self.currency, self.subscription) or None,
            "balance_amount": str(self.balance) if self.balance is not None else None,
            "currency": self.currency or None,
        }


def format_balance(balance: Decimal | None, currency: str = "", subscription: str = "") -> str:
    """€150.50, 150.50 CHF, or the subscription's words."""
    parts = []
    if balance is not None:
        symbol = CURRENCY_SYMBOLS.get((currency or "").upper())
        parts.append(format_money(balance, currency) if symbol else f"{balance:,.2f} {currency}".strip())
    if subscription:
        parts.append(subscription)
    return " · ".join(parts)


def _provider_words(exc: ProviderError) -> str:
    """The provider's own message, without the sentence our HTTP layer wrapped around it."""
    message = exc.message
    if "): " in message:
        message = message.split("): ", 1)[1]
    if exc.request_id:
        message = _("%(message)s (request id %(id)s)") % {"message": message, "id": exc.request_id}
    return message


def describe_failure(exc: Exception, account: ProviderAccount) -> ConnectionCheck:
    """Turn a failed connection test into words staff understand."""
    if isinstance(exc, NotSupported):
        return ConnectionCheck(
            ok=False, detail=_("Not supported: %(message)s") % {"message": exc.message}, status="not_supported"
        )
    if isinstance(exc, SecretUnreadable):
        return ConnectionCheck(
            ok=False, detail=_("%(error)s Enter the credentials again.") % {"error": exc}, status="auth_failed"
        )
    if isinstance(exc, AuthError):
        keys = {f.key for f in account.provider_class.credential_fields}
        key = "api_key" in account.credentials or keys == {"api_key"}
        if exc.status != 403:
            sentence = _("The API key was refused (%(status)s): %(message)s") if key else _(
                "The credentials were refused (%(status)s): %(message)s"
            )
        else:
            sentence = _("The API key was denied access (%(status)s): %(message)s") if key else _(
                "The credentials were denied access (%(status)s): %(message)s"
            )
        return ConnectionCheck(
            ok=False, detail=sentence % {"status": exc.status, "message": _provider_words(exc)},
            status="auth_failed", http_status=exc.status,
        )  # fmt: skip
    if isinstance(exc, Unavailable):
        if exc.status is None:
            reason = exc.message.split("unreachable: ", 1)[-1]
            return ConnectionCheck(
                ok=False, detail=_("Provider unreachable: %(reason)s") % {"reason": reason}, status="unreachable"
            )
        return ConnectionCheck(
            ok=False, detail=_("Provider error (%(status)s): %(message)s") % {"status": exc.status, "message": _provider_words(exc)},
            status="unreachable", http_status=exc.status,
        )  # fmt: skip
    if isinstance(exc, RateLimited):
        return ConnectionCheck(
            ok=False, detail=_("Rate limited (%(status)s): %(message)s") % {"status": exc.status, "message": _provider_words(exc)},
            status="rate_limited", http_status=exc.status,
        )  # fmt: skip
    if isinstance(exc, Rejected):
        return ConnectionCheck(
            ok=False,
            detail=_("The provider refused the request (%(status)s): %(message)s")
            % {"status": exc.status, "message": _provider_words(exc)},
            status="rejected", http_status=exc.status,
        )  # fmt: skip
    return ConnectionCheck(
        ok=False, detail=redact_secrets(_("The connection test failed: %(error)s") % {"error": exc}, account), status="error",
        http_status=getattr(exc, "status", None),
    )  # fmt: skip


def test_connection(account: ProviderAccount) -> ConnectionCheck:
    """Call the provider's cheapest authenticated endpoint; record health and balance on the account.

    Every HTTP log row it writes carries the correlation "check:<account id>". A failure
    increments consecutive_failures atomically (two workers checking at once both count);
    "Not supported" says nothing about health and leaves it alone.
    """
    now = timezone.now()
    with correlate(f"check:{account.pk}"):
        try:
            provider = account.get_provider()
            # Staff are waiting for an answer: one quick retry, never a minute of back-off.
            provider.http.max_retries = CHECK_RETRIES
            provider.http.max_backoff = CHECK_MAX_BACKOFF
            provider.http.backoff = min(provider.http.backoff, CHECK_MAX_BACKOFF)
            info = provider.check_connection()
        except (ProviderError, SecretUnreadable) as exc:
            result = describe_failure(exc, account)
        except ImproperlyConfigured as exc:  # the provider was removed from SWITCHBOARD_PROVIDERS
            result = ConnectionCheck(ok=False, detail=str(exc), status="error")
        else:
            result = ConnectionCheck(
                ok=info.ok, detail=info.detail, balance=info.balance, currency=info.currency,
                subscription=info.subscription, raw=info.raw, status="connected" if info.ok else "error",
            )  # fmt: skip

    if result.status == "not_supported":
        return result
    if result.ok:
        account.last_success_at = now
        account.consecutive_failures = 0
        fields = ["last_success_at", "consecutive_failures"]
        balance_text = format_balance(result.balance, result.currency, result.subscription)
        if balance_text:
            account.balance_text = balance_text[:200]
            account.balance_checked_at = now
            fields += ["balance_text", "balance_checked_at"]
        account.save(update_fields=fields)
    else:
        account.last_error_at = now
        account.last_error = result.detail
        account.consecutive_failures = F("consecutive_failures") + 1
        account.save(update_fields=["last_error_at", "last_error", "consecutive_failures"])
        account.refresh_from_db(fields=["consecutive_failures"])
    logger.info("connection test for account %s: %s", account.pk, result.status)
    return result


def health_text(account: ProviderAccount) -> str:
    """Health in words: "Healthy", "Not checked yet", "1 failure: …", "3 failures in a row: …"."""
    if account.secrets_unreadable:
        return _("Credentials need re-entering: they were saved with an encryption key this server no longer has.")
    failures = account.consecutive_failures
    if failures == 0:
        if account.last_success_at is None:
            return _("Not checked yet")
        return _("Healthy")
    if failures == 1:
        return _("1 failure: %(error)s") % {"error": account.last_error}
    return _("%(count)d failures in a row: %(error)s") % {"count": failures, "error": account.last_error}


# --- the HTTP log -------------------------------------------------------------------------------


def prune_http_log(days: int | None = None) -> int:
    """Delete HTTP log rows older than `days` (HTTP_LOG_RETENTION_DAYS by default); return how many."""
    deleted = HttpLog.prune(days)
    logger.info("pruned %d HTTP log rows", deleted)
    return deleted


# Not a pytest test, whatever its name says (tests import it).
test_connection.__test__ = False  # type: ignore[attr-defined]


# --- periodic jobs ----------------------------------------------------------------------------------

PRUNE_TASK_NAME = "Prune the HTTP log"


def ensure_periodic_tasks(**kwargs) -> None:
    """post_migrate: the nightly HTTP-log pruning job (see config.beat for why not a migration)."""
    ensure_periodic_task(
        PRUNE_TASK_NAME,
        "messaging.tasks.prune_http_log",
        description="Deletes HTTP log rows older than HTTP_LOG_RETENTION_DAYS.",
        crontab={"minute": "30", "hour": "3"},
        using=kwargs.get("using", "default"),
    )

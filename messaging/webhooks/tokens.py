"""Per-account webhook tokens: 256 random bits in the URL, rotatable, and the full URL staff paste."""

from __future__ import annotations

import secrets

from django.conf import settings

TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128


def new_webhook_token() -> str:
    """A fresh unguessable token (URL-safe base64, 43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def public_base_url() -> str:
    return str(getattr(settings, "SWITCHBOARD_PUBLIC_URL", "") or "http://127.0.0.1:8000").rstrip("/")


def webhook_path(token: str) -> str:
    return f"/hooks/{token}/"


def webhook_url_for(token: str) -> str:
    """The absolute URL a provider must call for the account holding this token."""
    return public_base_url() + webhook_path(token)

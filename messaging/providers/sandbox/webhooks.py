"""Registering with the sandbox: it "issues" a signing secret, as Spoki does, and remembers the URL."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any


class SandboxWebhooksMixin:
    """register_webhooks / rotate_webhook_secrets for SandboxProvider (no HTTP: nothing to call)."""

    def register_webhooks(self, url: str, current: Mapping[str, Any]) -> dict[str, Any]:
        """Keep the account's secret if it has one, else issue one; the sandbox signs with it."""
        secret = str(current.get("secret") or "") or "sbx_" + secrets.token_hex(16)
        return {"url": url, "secrets": secret}

    def rotate_webhook_secrets(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """A new signing secret; the old one no longer verifies."""
        state = {k: v for k, v in current.items() if k not in ("secret", "secrets")}
        return {**state, "secrets": "sbx_" + secrets.token_hex(16)}

"""Registering with the sandbox: it "issues" a signing secret, as Spoki does, and remembers the URL."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from ..base import WebhookRead


class SandboxWebhooksMixin:
    """register_webhooks / rotate_webhook_secrets for SandboxProvider (no HTTP: nothing to call)."""

    def read_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookRead:
        """{"events": [{"type": "status"|"inbound", …}]} → event type "status", "inbound" or both."""
        events = self.parse_webhook(headers, body)
        try:
            items = json.loads(body).get("events") or []
        except (ValueError, AttributeError):
            items = []
        kinds = sorted({str(i.get("type")) for i in items if isinstance(i, dict) and i.get("type")})
        return WebhookRead(event_type="+".join(kinds) or "unknown", events=list(events))

    def register_webhooks(self, url: str, current: Mapping[str, Any]) -> dict[str, Any]:
        """Keep the account's secret if it has one, else issue one; the sandbox signs with it."""
        secret = str(current.get("secret") or "") or "sbx_" + secrets.token_hex(16)
        return {"url": url, "secrets": secret}

    def rotate_webhook_secrets(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """A new signing secret; the old one no longer verifies."""
        state = {k: v for k, v in current.items() if k not in ("secret", "secrets")}
        return {**state, "secrets": "sbx_" + secrets.token_hex(16)}

"""Spoki constants and helpers shared by the provider's modules."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..base import (
    Channel,
    RateLimit,
    SendResult,
)
from ..errors import AuthError, Rejected
from ..http import HttpClient
from .mapping import (
    message_status,
    text,
)

API = "/api/1"
MAX_BULK = 500  # sync_all, lists/{id}/sync_contacts and wh/ap/{uuid}/bulk all cap at 500

# The documented per-endpoint limits ("Rate Limit: N/min" in each description).
RATE_LIMITS = (
    RateLimit(5, 60, "accounts"),
    RateLimit(60, 60, "automations"),
    RateLimit(5, 60, "campaigns"),
    RateLimit(120, 60, "contacts"),
    RateLimit(1, 60, "contacts_sync_all"),
    RateLimit(5, 60, "contact_operators"),
    RateLimit(5, 60, "custom_fields"),
    RateLimit(5, 60, "lists"),
    RateLimit(10, 60, "lists_create"),
    RateLimit(1, 60, "lists_sync"),
    RateLimit(5, 60, "reports"),
    RateLimit(10, 60, "tags"),
    RateLimit(10, 60, "templates_write"),  # list/retrieve/create have no stated limit
    RateLimit(10, 60, "media_read"),
    RateLimit(120, 60, "media_write"),
    RateLimit(120, 60, "send_text"),
    RateLimit(60, 60, "send_interactive"),  # buttons, list, template with media/carousel
    RateLimit(240, 60, "send_note"),
    RateLimit(30, 60, "webhooks"),
)


class SpokiHttpClient(HttpClient):
    """HttpClient that tells Spoki's business refusals apart from refused credentials.

    Spoki answers 403 both for a missing key and for rules such as "You can't delete a campaign
    while it's processing" (spoki::403) or a custom field used by an automation (spoki::3005).
    Only the first is an AuthError: the others are Rejected, so an account is not marked as
    having bad credentials because a campaign was busy.
    """

    def request(self, method: str, path: str, **kwargs):
        try:
            return super().request(method, path, **kwargs)
        except AuthError as exc:
            if exc.status == 403 and _is_business_refusal(exc.body):
                raise Rejected(
                    f"Spoki refused the request (403): {exc.message.split(': ', 1)[-1]}",
                    status=exc.status,
                    provider=exc.provider,
                    request_id=exc.request_id,
                    body=exc.body,
                    method=exc.method,
                    path=exc.path,
                ) from None
            raise


def _is_business_refusal(body: str) -> bool:
    try:
        payload = json.loads(body or "")
    except ValueError:
        return False
    if not isinstance(payload, dict):
        return False
    words = f"{payload.get('detail', '')} {payload.get('datail', '')} {payload.get('title', '')}".lower()
    if "credential" in words or "authoriz" in words or "api key" in words:
        return False
    return str(payload.get("code", "")).startswith("spoki::")


# --- helpers ----------------------------------------------------------------------------------------------


def unpage(body: Any) -> tuple[list, dict | None, int | None]:
    """(rows, next query, count) from a DRF envelope, a bare array, or a single object."""
    if isinstance(body, list):
        return body, None, len(body)
    if not isinstance(body, dict):
        return [], None, None
    if "results" not in body:
        return ([body] if body else []), None, None
    rows = body.get("results") or []
    next_url = body.get("next")
    next_query = None
    if next_url:
        query = parse_qs(urlsplit(str(next_url)).query, keep_blank_values=True)
        next_query = {k: v[-1] for k, v in query.items()}
    count = body.get("count")
    return rows, next_query, count if isinstance(count, int) else None


def error_text(status: int, body: Any) -> str:
    """A readable sentence from any of Spoki's error bodies."""
    if isinstance(body, str):
        # nginx answers 5xx with an HTML page: keep its words, not its tags.
        plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
        return plain[:300] or f"HTTP {status}"
    if isinstance(body, list):
        return "; ".join(str(item) for item in body[:5]) or f"HTTP {status}"
    if not isinstance(body, dict):
        return f"HTTP {status}"
    # Problem object: {"type","title","code","status","datail"} (sic) — or `detail` in newer ones.
    detail = body.get("datail", body.get("detail"))
    message = body.get("message") or body.get("error") or ""
    code = body.get("code") or body.get("error_code") or ""
    parts = []
    if message:
        parts.append(str(message))
    if isinstance(detail, str) and detail:
        parts.append(detail)
    elif isinstance(detail, (dict, list)):
        parts.append(_flatten(detail))
    if not parts and body.get("title"):
        parts.append(str(body["title"]))
    if not parts:
        # DRF field validation: {"phone": ["This field is required."]}
        parts.append(_flatten({k: v for k, v in body.items() if k not in ("status", "type")}))
    sentence = ": ".join(p for p in parts if p) or f"HTTP {status}"
    return f"{sentence} [{code}]" if code else sentence


def _flatten(value: Any, prefix: str = "") -> str:
    if isinstance(value, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}.") for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flatten(v, prefix) for v in value)
    return f"{prefix.rstrip('.')}: {value}" if prefix else str(value)


def send_result(payload: Any, status: int, to: str, reference: str) -> SendResult:
    """The send response is undocumented ("the dispatcher's response"): take whatever id it has."""
    data = payload if isinstance(payload, dict) else {}
    inner = data.get("message") if isinstance(data.get("message"), dict) else data
    remote_id = text(
        inner.get("uuid") or inner.get("message_uuid") or inner.get("id") or inner.get("message_id")
    )
    state = inner.get("send_status") or inner.get("status")
    normalised = message_status(state) if state else ("queued" if status in (200, 201, 202) else "unknown")
    if normalised == "unknown":
        normalised = "queued"
    return SendResult(
        accepted=True,
        remote_id=remote_id,
        to=to,
        channel=Channel.WHATSAPP.value,
        status=normalised,
        reference=reference,
        raw=data if data else {"body": payload},
    )


def _account_type(value: Any) -> str:
    return (
        {1: "Sandbox", 2: "Standard", 4: "Agency"}.get(value, "") if isinstance(value, int) else text(value)
    )


def _naive_iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    return str(value)

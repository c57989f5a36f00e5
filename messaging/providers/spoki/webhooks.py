"""Spoki webhook signatures (both documented versions) and parsing.

V2: header `X-Spoki-Signature: t=<unix>,v2=<hex>` where hex is
HMAC-SHA256(key=the webhook secret "whsec_…", msg=f"{t}.{raw body}"); the
docs recommend refusing a `t` more than 5 minutes away from now (replay).
V1 (deprecated, still the default of most examples): header `X-SPOKI-HASH` =
PBKDF2-HMAC-SHA256(password=raw body, salt=secret, 200,000 iterations).hex().
Both are compared in constant time here (the vendor's V1 sample uses ==).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from ..errors import WebhookRejected
from .mapping import events_from_webhook

SIGNATURE_HEADER = "X-Spoki-Signature"
V1_HASH_HEADER = "X-SPOKI-HASH"
ACCOUNT_HEADER = "X-SPOKI-ACCOUNT"
TOLERANCE_SECONDS = 300
V1_ITERATIONS = 200_000


def header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup that works on plain dicts and on Django's request.headers."""
    value = headers.get(name) if hasattr(headers, "get") else None
    if value:
        return str(value)
    lowered = name.lower()
    for key, value in headers.items():
        normalised = str(key).lower().replace("_", "-")
        if normalised in (lowered, "http-" + lowered):
            return str(value)
    return ""


def sign_v2(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The X-Spoki-Signature value Spoki would send for `body` (used by the fake and tests too)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v2={digest}"


def sign_v1(body: bytes, secret: str) -> str:
    """The deprecated X-SPOKI-HASH value."""
    return hashlib.pbkdf2_hmac("sha256", body, secret.encode(), V1_ITERATIONS).hex()


def verify(headers: Mapping[str, str], body: bytes, secret: str, *, now: float | None = None) -> None:
    """Raise WebhookRejected unless the body carries a valid V2 (or V1) signature for `secret`."""
    if not secret:
        raise WebhookRejected("No webhook secret is set for this Spoki account: refusing the request.")
    signature = header(headers, SIGNATURE_HEADER)
    if signature:
        parts = {}
        for part in signature.split(","):
            key, _, value = part.strip().partition("=")
            parts[key] = value
        t, v2 = parts.get("t", ""), parts.get("v2", "")
        if not t.isdigit() or not v2:
            raise WebhookRejected("Malformed X-Spoki-Signature header.")
        expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, v2.lower()):
            raise WebhookRejected("The X-Spoki-Signature does not match the body.")
        now = time.time() if now is None else now
        if abs(now - int(t)) > TOLERANCE_SECONDS:
            raise WebhookRejected("The X-Spoki-Signature timestamp is too old (possible replay).")
        return
    legacy = header(headers, V1_HASH_HEADER)
    if legacy:
        if not hmac.compare_digest(sign_v1(body, secret), legacy.strip().lower()):
            raise WebhookRejected("The X-SPOKI-HASH does not match the body.")
        return
    raise WebhookRejected("The request carries no Spoki signature (X-Spoki-Signature or X-SPOKI-HASH).")


def parse(body: bytes) -> list:
    """Normalised events (DeliveryUpdate / InboundMessage) from a verified body."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookRejected(f"The Spoki webhook body is not JSON: {exc}") from None
    return events_from_webhook(payload)

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

from ..base import ResourceChange, WebhookRead
from ..errors import WebhookRejected
from .mapping import contact_from_api, events_from_webhook, ident, text, unwrap_envelope

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


def verify_one(headers: Mapping[str, str], body: bytes, secret: str, *, now: float | None = None) -> None:
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


# Contact and template events change records the sync engine owns: they become ResourceChanges
# that it applies by its own rules (links, conflicts). Lists/tags/fields on a contact change the
# contact, so they ask for that contact again.
_CHANGES = {
    "contact.created": ("contacts", "created"),
    "contact.updated": ("contacts", "updated"),
    "contact.deleted": ("contacts", "deleted"),
    "contact_tag.created": ("contacts", "updated"),
    "contact_tag.deleted": ("contacts", "updated"),
    "contact_list.created": ("contacts", "updated"),
    "contact_list.deleted": ("contacts", "updated"),
    "contact_field.created_or_updated": ("contacts", "updated"),
    "contact_field.deleted": ("contacts", "updated"),
    "template.created": ("templates", "created"),
    "template.updated": ("templates", "updated"),
    "template.deleted": ("templates", "deleted"),
}


def read(body: bytes) -> WebhookRead:
    """Event type, event_uuid, message events and record changes of one verified body."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookRejected(f"The Spoki webhook body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("The Spoki webhook body is not a JSON object.")
    event, data, envelope = unwrap_envelope(payload)
    changes = []
    if event in _CHANGES:
        resource, action = _CHANGES[event]
        record = None
        if event.startswith("contact."):
            remote_id = ident(data.get("id"))
            if action != "deleted" and data.get("phone"):
                record = contact_from_api(data)
        elif event.startswith("template."):
            remote_id = ident(data.get("id"))
        else:
            contact = data.get("contact") if isinstance(data.get("contact"), dict) else {}
            remote_id = ident(contact.get("id") or data.get("contact_id"))
        changes.append(ResourceChange(resource, action, remote_id, record, raw=payload))
    return WebhookRead(
        event_type=event or "unknown",
        event_id=text(envelope.get("event_uuid")),
        events=events_from_webhook(payload),
        changes=changes,
    )


def candidate_secrets(secret: str, body: bytes) -> list[str]:
    """The secrets that may have signed `body`: Spoki gives each subscription (event type) its own.

    The account's webhook secret is either one secret, several (one a line, while rotating), or
    the JSON map {event: secret} that registration stores.
    """
    secret = (secret or "").strip()
    if secret.startswith("{"):
        try:
            by_event = json.loads(secret)
        except ValueError:
            return [secret]
        try:
            event = unwrap_envelope(json.loads(body))[0]
        except ValueError:
            event = ""
        if event in by_event:
            return [str(by_event[event])]
        return [str(v) for v in by_event.values() if v]
    return [line.strip() for line in secret.splitlines() if line.strip()]


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float | None = None) -> None:
    """Accept the request when one of the account's secrets signed it (see candidate_secrets)."""
    secrets = candidate_secrets(secret, body)
    if not secrets:
        raise WebhookRejected("No webhook secret is set for this Spoki account: refusing the request.")
    failures = []
    for candidate in secrets:
        try:
            verify_one(headers, body, candidate, now=now)
            return
        except WebhookRejected as exc:
            failures.append(exc)
    # A signature that matched but is stale says more than the mismatches of the other secrets.
    stale = [exc for exc in failures if "too old" in str(exc)]
    raise (stale or failures)[0]

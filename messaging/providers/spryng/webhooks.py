"""Spryng callbacks: SMS/RCS delivery reports (GET with query parameters) and inbound SMS (MO, POST form).

Spryng signs nothing and sends no auth header. The portal only lets us choose
the callback URL, so the secret travels in it: `?token=<webhook secret>` (a
header or Basic auth from a proxy in front is accepted too). A request without
the right token is refused, and so is every request when no secret is set.

The DLR is a GET, so its fields are in the query string. The webhook view may
hand us the raw query string as `body`, or pass the request's META as
`headers` (which holds QUERY_STRING); both are read.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
from collections.abc import Mapping
from urllib.parse import parse_qs

from ..base import DeliveryUpdate, InboundMessage, MessageStatus, WebhookRead
from ..errors import WebhookRejected
from .mapping import parse_dt, plus

# DLR STATUS: 10 delivered, 20 not delivered. REASONCODE explains a failure.
_DLR_STATUS = {"10": MessageStatus.DELIVERED, "20": MessageStatus.FAILED}
REASONS = {
    "0": "",
    "20": "Recipient unreachable",
    "21": "Recipient number incorrect",
    "22": "Delivery failure",
    "31": "Recipient blacklisted (replied STOP)",
    "32": "Originator not registered for this country",
}
TOKEN_PARAMS = ("token", "secret")


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    meta = "http_" + lowered.replace("-", "_")
    for key, value in headers.items():
        if key.lower() in (lowered, meta):
            return str(value)
    return ""


def params(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """Every parameter of the callback, from the query string and/or a form or JSON body (upper-cased keys)."""
    found: dict[str, str] = {}
    query = _header(headers, "QUERY_STRING")
    text = body.decode("utf-8", "replace").strip() if body else ""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise WebhookRejected("Spryng callback: the body is not valid JSON.") from None
        found.update({str(k).upper(): str(v) for k, v in data.items()} if isinstance(data, dict) else {})
        text = ""
    for source in (query, text.lstrip("?")):
        for key, values in parse_qs(source, keep_blank_values=True).items():
            found[key.upper()] = values[-1]
    return found


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    if not secret:
        raise WebhookRejected("No webhook secret is set for this Spryng account; refusing the callback.")
    candidates = [params(headers, body).get(p.upper(), "") for p in TOKEN_PARAMS]
    candidates.append(_header(headers, "X-Webhook-Token"))
    authorization = _header(headers, "Authorization")
    if authorization.lower().startswith("basic "):
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            candidates.append(base64.b64decode(authorization[6:].strip()).decode().partition(":")[2])
    ok = False
    for candidate in candidates:  # compare every candidate, in constant time each
        ok |= bool(candidate) and hmac.compare_digest(candidate.encode(), secret.encode())
    if not ok:
        raise WebhookRejected("Spryng callback: missing or wrong token.")


def parse(headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
    data = params(headers, body)
    if data.get("ID") and data.get("STATUS"):
        status = _DLR_STATUS.get(data["STATUS"], MessageStatus.UNKNOWN)
        reason = data.get("REASONCODE", "")
        recipient = plus(data.get("RECIPIENT"))
        return [
            DeliveryUpdate(
                remote_message_id=data["ID"],
                status=status.value,
                occurred_at=parse_dt(data.get("OPERATOR_STATUS_AT")) or parse_dt(data.get("RESULTDATE")),
                reference=data.get("REFERENCE", ""),
                to=recipient,
                channel="sms",
                error_code="" if reason in ("", "0") else reason,
                error_message=REASONS.get(reason, f"Reason code {reason}" if reason else ""),
                # one message id covers up to 50 recipients: the recipient and status make it unique
                event_id=f"{data['ID']}:{recipient}:{data['STATUS']}",
                raw=data,
            )
        ]
    if data.get("MSISDN"):
        text = " ".join(p for p in (data.get("KEYWORD", ""), data.get("PARM", "")) if p)
        return [
            InboundMessage(
                remote_id=f"{data['MSISDN']}:{data.get('TIMESTAMP', '')}:{data.get('SHORTCODE', '')}",
                from_phone=plus(data["MSISDN"]),
                to=data.get("SHORTCODE", ""),
                channel="sms",
                text=text,
                received_at=parse_dt(data.get("TIMESTAMP")),
                raw=data,
            )
        ]
    return []


def read(headers: Mapping[str, str], body: bytes) -> WebhookRead:
    """A delivery report ("dlr"), an inbound SMS ("mo") or neither."""
    events = parse(headers, body)
    kind = "unknown"
    if events:
        kind = "dlr" if isinstance(events[0], DeliveryUpdate) else "mo"
    return WebhookRead(event_type=kind, event_id=events[0].event_id if kind == "dlr" else "", events=events)


def is_event(headers: Mapping[str, str], body: bytes) -> bool:
    """A GET without DLR fields is the portal's reachability check, not a report."""
    data = params(headers, body)
    return bool(data.get("ID") or data.get("MSISDN"))

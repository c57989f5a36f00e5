"""Qlara delivery-status webhooks: authenticity check and payload parsing.

Qlara signs nothing: its callbacks carry no signature, shared secret or auth
header, and the account has one callback URL. So, like anymail for ESPs that
do not sign, we put the account's webhook secret into the callback URL as
HTTP Basic credentials (`https://qlara:SECRET@host/...`, see
QlaraProvider.callback_url). Every callback then arrives with
`Authorization: Basic base64("qlara:SECRET")`, which we compare in constant
time. A missing secret refuses the request.

Payloads (MD "Webhook Payloads"): SMS DELIVERY (statusCode, statusDescription,
price, numPart/totalParts, timestamp, no destination); RCS and WhatsApp
DELIVERY / READ (description, eventDate) and INBOUND (source, destination,
receivedDate, messageType, text, mediaKey). A body may hold one event or an
array of them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ..base import DeliveryUpdate, InboundMessage, MessageStatus, WebhookRead
from ..errors import WebhookRejected
from .mapping import CURRENCY, first, message_status, text, to_datetime, to_decimal

BASIC_USER = "qlara"


def header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
        return ""
    return value


def verify(headers: Mapping[str, str], secret: str) -> None:
    """Raise WebhookRejected unless the request carries our secret as its Basic password."""
    if not secret:
        raise WebhookRejected("No webhook secret is set for this Qlara account; the request was refused.")
    authorization = header(headers, "Authorization")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRejected("The Qlara webhook carried no credentials (Basic auth in the callback URL).")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise WebhookRejected("The Qlara webhook credentials are not valid Basic auth.") from None
    _user, _, password = decoded.partition(":")
    if not hmac.compare_digest(password.encode(), secret.encode()):
        raise WebhookRejected("The Qlara webhook secret does not match.")


def basic_header(secret: str, user: str = BASIC_USER) -> str:
    """The Authorization header Qlara sends when the callback URL holds these credentials."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def parse(body: bytes) -> list[DeliveryUpdate | InboundMessage]:
    """Every event in the body, normalised; event types we do not know are skipped."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        raise WebhookRejected("The Qlara webhook body is not JSON.") from None
    events = payload if isinstance(payload, list) else [payload]
    out: list[DeliveryUpdate | InboundMessage] = []
    for event in events:
        if isinstance(event, dict):
            parsed = parse_event(event)
            if parsed is not None:
                out.append(parsed)
    return out


def parse_event(event: Mapping[str, Any]) -> DeliveryUpdate | InboundMessage | None:
    kind = text(event.get("eventType")).upper()
    channel = text(event.get("channel")).lower()
    if kind == "INBOUND":
        return InboundMessage(
            remote_id=text(event.get("messageId")),
            from_phone=text(event.get("source")),
            to=text(event.get("destination")),
            channel=channel,
            text=text(event.get("text")),
            # mediaKey is not a URL: QlaraProvider.media_url(key) trades it for a signed one.
            media_url="",
            received_at=to_datetime(first(event.get("receivedDate"), event.get("eventDate"))),
            raw=dict(event),
        )
    if kind == "READ":
        status = MessageStatus.READ.value
    elif kind in ("DELIVERY", "") and (
        "statusCode" in event or "status" in event or "deliveryStatus" in event
    ):
        status = message_status(
            first(event.get("statusCode"), event.get("deliveryStatus"), event.get("status"))
        )
    else:
        return None
    description = text(first(event.get("description"), event.get("statusDescription")))
    price = to_decimal(event.get("price"))
    return DeliveryUpdate(
        remote_message_id=text(event.get("messageId")),
        status=status,
        occurred_at=to_datetime(first(event.get("eventDate"), event.get("timestamp"))),
        to=text(event.get("destination")),
        channel=channel,
        error_code=text(event.get("statusCode")) if status == MessageStatus.FAILED else "",
        error_message=description if status == MessageStatus.FAILED else "",
        price=price,
        currency=CURRENCY if price is not None else "",
        raw=dict(event),
    )


def read(body: bytes) -> WebhookRead:
    """The callback's event types (DELIVERY, READ, INBOUND; "+"-joined for a batch) and its events."""
    events = parse(body)
    payload = json.loads(body or b"null")
    items = payload if isinstance(payload, list) else [payload]
    kinds = sorted({text(i.get("eventType")).upper() or "DELIVERY" for i in items if isinstance(i, dict)})
    return WebhookRead(event_type="+".join(kinds) or "unknown", events=events)

"""MyOperator webhooks: authenticity check and parsing into DeliveryUpdate / InboundMessage.

MyOperator signs nothing. The panel lets the account add a static header
(`X-Webhook-Token: <secret>` by default), an API-key header, or Basic auth;
whichever is configured, we compare it with the account's webhook secret in
constant time and refuse when no secret is set.

Two payload formats are documented and an account receives one or the other
depending on its panel configuration:
- the new envelope `{event_id, event_type: "message.sent", channel, payload: <message>}`;
- the legacy one `{type: "message", event: "sent", data: <message>}`, where
  `data.status` lags behind (a "delivered" event still says "sent"): trust `event`.
Bodies are JSON by default, or a form post (a `myoperator=<json>` field, or the
envelope's keys with `payload` serialised as JSON).
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
from .mapping import join_phone, parse_dt, plus

DEFAULT_SECRET_HEADERS = ("X-Webhook-Token", "X-API-Key", "X-Api-Key")

_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "queued": MessageStatus.QUEUED,
    "pending": MessageStatus.QUEUED,
}


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered or key.lower() == "http_" + lowered.replace("-", "_"):
            return str(value)
    return ""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def verify(headers: Mapping[str, str], body: bytes, secret: str, header_name: str = "") -> None:
    """Accept the request only when a configured auth header carries the secret."""
    if not secret:
        raise WebhookRejected("No webhook secret is set for this MyOperator account; refusing the request.")
    names = (header_name,) if header_name else DEFAULT_SECRET_HEADERS
    for name in names:
        value = _header(headers, name)
        if value and _same(value, secret):
            return
    authorization = _header(headers, "Authorization")
    if authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        _, _, password = decoded.partition(":")
        # The secret may be stored as the password alone or as "user:password".
        if decoded and (_same(decoded, secret) | _same(password, secret)):
            return
    elif authorization.lower().startswith("bearer ") and _same(authorization[7:].strip(), secret):
        return
    raise WebhookRejected("MyOperator webhook: missing or wrong secret header.")


def load_body(headers: Mapping[str, str], body: bytes) -> dict:
    """The webhook body as a dict, whether it came as JSON or as a form post."""
    text = body.decode("utf-8", "replace").strip() if body else ""
    if not text:
        raise WebhookRejected("MyOperator webhook: empty body.")
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            raise WebhookRejected("MyOperator webhook: the body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise WebhookRejected("MyOperator webhook: expected a JSON object.")
        return data
    form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "myoperator" in form:  # the deprecated form variant: one field holding the JSON
        try:
            return json.loads(form["myoperator"])
        except ValueError:
            raise WebhookRejected("MyOperator webhook: the myoperator field is not JSON.") from None
    for key in ("payload", "data"):  # nested objects "serialised appropriately": JSON strings
        if isinstance(form.get(key), str) and form[key].startswith("{"):
            with contextlib.suppress(ValueError):
                form[key] = json.loads(form[key])
    if not form:
        raise WebhookRejected("MyOperator webhook: unreadable body.")
    return form


def parse(headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
    data = load_body(headers, body)
    if "event_type" in data:  # the new envelope
        event = str(data.get("event_type") or "")
        message = data.get("payload") if isinstance(data.get("payload"), dict) else {}
        if not event.startswith("message.") or not message:
            return []  # calls, conversations, dispositions: not messaging events we track
        kind = event.split(".", 1)[1]
        customer = plus(data.get("customer_identifier"))
        return _message_event(kind, message, data, customer, str(data.get("event_id") or ""))
    if data.get("type") == "message" and isinstance(data.get("data"), dict):  # the legacy format
        event = str(data.get("event") or "")
        kind = event.split(".", 1)[1] if event.startswith("message.") else event
        return _message_event(kind, data["data"], data, "", "")
    return []  # deprecated call webhooks (_ai, _cr…) and anything else


def _message_event(kind: str, message: dict, envelope: dict, customer: str, event_id: str):
    conversation = message.get("conversation") if isinstance(message.get("conversation"), dict) else {}
    if not customer:
        customer = join_phone(conversation.get("customer_country_code"), conversation.get("customer_contact"))
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    sender = str(message.get("phone_number_id") or envelope.get("system_identifier") or "")
    if kind == "received" or message.get("action") == "incoming":
        content = message.get("data") if isinstance(message.get("data"), dict) else {}
        context = content.get("context") if isinstance(content.get("context"), dict) else {}
        text = context.get("body") or context.get("caption") or context.get("text") or ""
        if isinstance(text, dict):
            text = text.get("context") or text.get("text") or ""
        return [
            InboundMessage(
                remote_id=str(message.get("id") or metadata.get("waba_msg_id") or ""),
                from_phone=customer,
                to=sender,
                channel="whatsapp",
                text=str(text),
                media_url=str(context.get("link") or context.get("media_url") or ""),
                received_at=parse_dt(message.get("created")) or parse_dt(envelope.get("timestamp")),
                raw=envelope,
            )
        ]
    status = _STATUS.get(kind)
    if status is None:
        return []  # link_tracking: a click, not a delivery state
    occurred = None
    for item in message.get("events") or []:
        if isinstance(item, dict) and item.get("name") == kind:
            occurred = parse_dt(item.get("timestamp"))
    errors = metadata.get("errors") if isinstance(metadata.get("errors"), dict) else {}
    error_code, error_message = "", ""
    if errors:
        error_code, error_message = next(iter(errors.items()))
        error_code = str(error_code).removeprefix("WABA_")  # legacy format prefixes Meta's code
    return [
        DeliveryUpdate(
            remote_message_id=str(message.get("id") or ""),
            status=status.value,
            occurred_at=occurred or parse_dt(envelope.get("timestamp")) or parse_dt(message.get("modified")),
            reference=str(metadata.get("myop_ref_id") or ""),
            to=customer,
            channel="whatsapp",
            error_code=str(error_code),
            error_message=str(error_message),
            event_id=event_id,
            raw=envelope,
        )
    ]


def read(headers: Mapping[str, str], body: bytes) -> WebhookRead:
    """Event type (`message.delivered`, legacy `message` events as `message.<event>`), event id, events."""
    data = load_body(headers, body)
    if "event_type" in data:
        event_type = str(data.get("event_type") or "")
    elif data.get("type") == "message":
        event = str(data.get("event") or "")
        event_type = event if event.startswith("message.") else f"message.{event}"
    else:
        event_type = str(data.get("type") or data.get("event") or "unknown")
    return WebhookRead(event_type=event_type or "unknown", event_id=str(data.get("event_id") or ""),
                       events=parse(headers, body))  # fmt: skip

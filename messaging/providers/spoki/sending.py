"""Spoki sending, message status and webhooks (mixed into SpokiProvider)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..base import (
    Channel,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    SendResult,
    WebhookRead,
)
from . import registration, webhooks
from .common import (
    send_result,
    unpage,
)
from .mapping import (
    phone,
)


class SpokiSendingMixin:
    """Spoki sending, message status and webhooks (mixed into SpokiProvider)."""

    # -- sending ----------------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """WhatsApp only: a template when template_name is set, else buttons/list/text."""
        if message.channel != Channel.WHATSAPP.value:
            raise self.unsupported(f"sending {message.channel} messages")
        if message.template_name:
            return self.send_template(
                message.to, message.template_name, language=message.template_language,
                variables=message.variables, header_media_url=message.media_url,
                buttons=message.buttons, reference=message.reference, channel_id=message.sender,
            )  # fmt: skip
        if message.buttons and any("sections" in b or "rows" in b for b in message.buttons):
            section = message.buttons[0]
            return self.send_list(
                message.to, message.text, title=section.get("title", ""),
                sections=section.get("sections") or [section], reference=message.reference,
                channel_id=message.sender,
            )  # fmt: skip
        if message.buttons:
            return self.send_buttons(
                message.to,
                message.text,
                message.buttons,
                reference=message.reference,
                channel_id=message.sender,
            )
        return self.send_text(
            message.to, message.text, reference=message.reference, channel_id=message.sender
        )

    def _send(self, body: dict, *, bucket: str, reference: str, channel_id: str = "") -> SendResult:
        channel = channel_id if str(channel_id).isdigit() else self.settings.get("channel_id")
        if channel:
            body["channel_id"] = int(channel)
        if reference:
            # metadata is echoed back in message webhooks: that is how updates find our row.
            body["metadata"] = {**body.get("metadata", {}), "reference": reference}
        # Never retried on a 5xx or read timeout: the message may already have gone out.
        response = self.http.request(
            "POST", self._path("messages", "send"), json_body=body, bucket=bucket, idempotent=False
        )
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {"text": response.text[:500]}
        return send_result(payload, response.status_code, body.get("phone", ""), reference)

    def send_text(self, to: str, text_: str, *, reference: str = "", channel_id: str = "") -> SendResult:
        """A free-form text (only inside WhatsApp's 24 h window, 120/min)."""
        body = {"type": "Message", "content_type": "Text", "phone": phone(to), "text": text_}
        return self._send(body, bucket="send_text", reference=reference, channel_id=channel_id)

    def add_note(self, to: str, text_: str, *, reference: str = "") -> SendResult:
        """An internal note in the contact's chat (not sent to them; 240/min)."""
        body = {"type": "Note", "content_type": "Text", "phone": phone(to), "text": text_}
        return self._send(body, bucket="send_note", reference=reference)

    def send_buttons(
        self, to: str, text_: str, buttons: list[dict], *, header: str = "", footer: str = "",
        reference: str = "", channel_id: str = "",
    ) -> SendResult:  # fmt: skip
        """Interactive quick-reply buttons; each button's payload comes back on the reply."""
        body: dict[str, Any] = {
            "type": "Message", "content_type": "Interactive", "phone": phone(to), "text": text_,
            "buttons": [
                {"button_type": b.get("type") or b.get("button_type") or "quick_reply", "text": b.get("text", ""),
                 "order": b.get("order", i), "payload": b.get("payload", "")}
                for i, b in enumerate(buttons)
            ],
        }  # fmt: skip
        if header:
            body["header"] = {"format": "text", "text": header}
        if footer:
            body["footer"] = {"text": footer}
        return self._send(body, bucket="send_interactive", reference=reference, channel_id=channel_id)

    def send_list(
        self, to: str, text_: str, *, title: str, sections: list[dict], header: str = "", footer: str = "",
        reference: str = "", channel_id: str = "",
    ) -> SendResult:  # fmt: skip
        """A list message: sections of rows ({title, description, payload})."""
        body: dict[str, Any] = {
            "type": "Message", "content_type": "List", "phone": phone(to), "text": text_,
            "list": {"title": title, "sections": [
                {"title": s.get("title", ""), "rows": list(s.get("rows") or [])} for s in sections
            ]},
        }  # fmt: skip
        if header:
            body["header"] = {"format": "text", "text": header}
        if footer:
            body["footer"] = {"text": footer}
        return self._send(body, bucket="send_interactive", reference=reference, channel_id=channel_id)

    def send_template(
        self, to: str, template: str, *, language: str = "", variables: list | dict | None = None,
        header_media_url: str = "", header_media_set: list[dict] | None = None,
        buttons: list[dict] | None = None, email: str = "", reference: str = "", channel_id: str = "",
    ) -> SendResult:  # fmt: skip
        """A template by id or name: custom_fields fill its %%CODE%% placeholders; media header or carousel."""
        template_id = self._template_id(template)
        body: dict[str, Any] = {"type": "Template", "phone": phone(to), "template": int(template_id)}
        language = language or self.settings.get("template_language", "")
        if language:
            body["language"] = language
        if email:
            body["email"] = email
        if isinstance(variables, dict) and variables:
            body["custom_fields"] = {str(k): str(v) for k, v in variables.items()}
        elif variables:
            # Positional values follow the order of the template's placeholders.
            codes = self.get_template(template_id).variables
            body["custom_fields"] = {code: str(value) for code, value in zip(codes, variables, strict=False)}
        if header_media_url:
            body["header_media"] = {"url": header_media_url, "filename": header_media_url.rsplit("/", 1)[-1]}
        if header_media_set:
            body["header_media_set"] = [dict(item) for item in header_media_set]
        if buttons:
            body["buttons"] = [
                {"order": b.get("order", i), "payload": b.get("payload", "")} for i, b in enumerate(buttons)
            ]
        media = header_media_url or header_media_set
        return self._send(
            body, bucket="send_interactive" if media else "send_template", reference=reference,
            channel_id=channel_id,
        )  # fmt: skip

    # -- webhooks ----------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """X-Spoki-Signature (V2 HMAC-SHA256 with a 5-minute window) or X-SPOKI-HASH (V1 PBKDF2)."""
        webhooks.verify(headers, body, secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
        """message.outbound → DeliveryUpdate, message.inbound → InboundMessage; others ignored."""
        return webhooks.parse(body)

    def read_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookRead:
        """The envelope's event and event_uuid, message events, and contact/template changes."""
        return webhooks.read(body)

    def register_webhooks(self, url: str, current: Mapping[str, Any]) -> dict[str, Any]:
        """One V2 subscription per event we handle, pointed at `url`; keeps each one's secret."""
        return registration.register(self, url, current)

    def rotate_webhook_secrets(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """rotate_secret on each of our subscriptions (the old secrets die at once)."""
        return registration.rotate(self, current)

    def iter_webhook_subscriptions(self) -> list[dict]:
        """The account's external webhooks (a bare array), each with its event and secret."""
        rows, _, _ = unpage(self.http.get(self._path("external-webhooks"), bucket="webhooks"))
        return rows

    def subscribe_webhook(self, event: str, url: str) -> dict:
        """Create a V2 webhook for one event; the response carries the signing secret."""
        body = {"event": event, "version": 2, "url": url, "is_active": True}
        return self.http.post(self._path("external-webhooks"), json_body=body, bucket="webhooks")

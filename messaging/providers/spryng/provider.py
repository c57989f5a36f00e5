"""The Spryng provider: SMS (≤ 50 recipients a call), balance, voice, and WhatsApp through Meta's proxy.

Host `https://rest.spryngsms.com` (inferred from the examples' `links.self`),
every path under `/v1`, `Authorization: Bearer <key>`, 1,200 requests/minute
per key. Spryng has no contacts, lists or campaigns API; WhatsApp templates and
sends are Meta's Graph API passed through under `/v1/whatsapp/{version}/…`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext as _

from localization.formatting import format_number

from ..base import (
    AccountInfo,
    Capabilities,
    Channel,
    ConfigField,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    Page,
    Provider,
    RateLimit,
    RemoteTemplate,
    SendResult,
    TemplateStatus,
    WebhookRead,
    caps,
)
from ..errors import NotFound, Rejected
from ..http import iter_pages, load_cursor
from . import templating, webhooks
from .mapping import (
    decimal,
    error_message,
    laravel_page,
    meta_page,
    msisdn,
    parse_dt,
    plus,
    recipient_status,
    sms_results,
    template_components,
    template_from_api,
    whatsapp_result,
)

API = "/v1"
MAX_RECIPIENTS = 50  # per create-message call
DEFAULT_GRAPH_VERSION = "v18.0"


class SpryngProvider(Provider):
    """Spryng: SMS, voice and WhatsApp sends; WhatsApp templates; balance; DLR/MO callbacks."""

    slug = "spryng"
    display_name = "Spryng"
    default_base_url = "https://rest.spryngsms.com"
    capabilities = Capabilities(
        resources=caps(templates=["pull", "push", "delete"], senders=["pull"]),
        send=frozenset({Channel.SMS, Channel.WHATSAPP, Channel.VOICE}),
        webhooks=True,
        balance=True,
    )
    credential_fields = (
        ConfigField("api_key", gettext_lazy("REST API key"), help=gettext_lazy("Spryng portal > Profile > Security."), secret=True),
    )
    setting_fields = (
        ConfigField("originator", gettext_lazy("SMS sender"), required=False, help=gettext_lazy("Up to 11 letters or 14 digits.")),
        ConfigField("route", gettext_lazy("Route"), required=False, help=gettext_lazy('"business" unless Spryng gave you a route id.')),
        ConfigField("waba_id", gettext_lazy("WhatsApp Business account id"), required=False),
        ConfigField("phone_number_id", gettext_lazy("WhatsApp phone number id"), required=False),
        ConfigField(
            "graph_version", gettext_lazy("Graph API version"), required=False, help=format_lazy(gettext_lazy("Default {version}."), version=DEFAULT_GRAPH_VERSION)
        ),
    )
    contact_fields = frozenset()  # no contacts API: recipients are bare numbers
    rate_limits = (RateLimit(1200, 60.0),)
    bulk_limit = MAX_RECIPIENTS
    batch_send_limit = MAX_RECIPIENTS
    page_size = 100  # the hard maximum of `limit`

    # -- plumbing --------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """The REST API key as a bearer token."""
        return {"Authorization": f"Bearer {self.credentials.get('api_key', '')}"}

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> tuple[str, str]:
        """`{"error": "..."}` (401/404), `{"message", "errors"}` (403/422/429) or Meta's `{"error": {...}}`."""
        message = error_message(body) if body not in (None, "") else ""
        request_id = ""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            request_id = str(body["error"].get("fbtrace_id") or "")
        return (message or f"HTTP {status}"), request_id or str(headers.get("X-Request-Id") or "")

    def _wa(self, *parts: str) -> str:
        version = str(self.settings.get("graph_version") or DEFAULT_GRAPH_VERSION)
        return "/".join([f"{API}/whatsapp/{version}", *parts])

    def _setting(self, key: str, what: str) -> str:
        value = str(self.settings.get(key) or "")
        if not value:
            raise Rejected(f"Set the {what} in this Spryng account's settings first.", provider=self.slug)
        return value

    def iter_senders(self):
        """WhatsApp numbers of the WABA, where one is set (see spryng/senders.py)."""
        from .senders import iter_senders

        yield from iter_senders(self)

    # -- account ---------------------------------------------------------------------------

    def get_balance(self) -> AccountInfo:
        """GET /v1/balance → {"amount": 10.5} (credits)."""
        body = self.http.get(f"{API}/balance")
        amount = decimal(body.get("amount")) if isinstance(body, dict) else None
        text = gettext("%(amount)s credits") % {"amount": format_number(amount, 2)} if amount is not None else gettext("unknown")
        return AccountInfo(
            ok=True, detail=gettext("Credit %(amount)s") % {"amount": text}, balance=amount, currency="credits", raw=body or {}
        )

    def check_connection(self) -> AccountInfo:
        """The balance is the cheapest authenticated call."""
        info = self.get_balance()
        info.detail = (
            gettext("Connected — credit %(amount)s") % {"amount": format_number(info.balance, 2)}
            if info.balance is not None
            else gettext("Connected")
        )
        return info

    # -- SMS -------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """One message on SMS, WhatsApp (template or text) or voice. Never retried after it may have gone out."""
        if message.channel == Channel.SMS:
            return self.send_sms(
                [message.to], message.text, reference=message.reference, sender=message.sender
            )[0]
        if message.channel == Channel.WHATSAPP:
            return self._send_whatsapp(message)
        if message.channel == Channel.VOICE:
            return self.send_voice(message.to, message.text, reference=message.reference)
        raise self.unsupported(f"sending {message.channel} messages")

    def send_sms(
        self,
        recipients: list[str],
        text: str,
        *,
        reference: str = "",
        sender: str = "",
        route: str = "",
        encoding: str = "auto",
        scheduled_at: dt.datetime | None = None,
    ) -> list[SendResult]:
        """POST /v1/messages in calls of ≤ 50 recipients, each carrying our reference; one result per recipient.

        A call the vendor refuses (422) yields not-accepted results with its reason for that
        call's recipients; the other calls still go. Auth errors and outages raise.
        """
        results: list[SendResult] = []
        for start in range(0, len(recipients), MAX_RECIPIENTS):
            chunk = recipients[start : start + MAX_RECIPIENTS]
            payload: dict[str, Any] = {
                "body": text,
                "originator": sender or self._setting("originator", "SMS sender"),
                "recipients": [msisdn(r) for r in chunk],
                "route": route or str(self.settings.get("route") or "business"),
                "encoding": encoding,
            }
            if reference:
                payload["reference"] = reference
            if scheduled_at is not None:
                payload["scheduled_at"] = scheduled_at.isoformat(timespec="seconds")
            try:
                body = self.http.post(f"{API}/messages", json_body=payload)
            except Rejected as exc:
                if isinstance(exc, NotFound):
                    raise
                results.extend(
                    SendResult(
                        accepted=False, to=plus(r), channel="sms", status="failed", reference=reference,
                        error=exc.message, raw={"body": exc.body},
                    )
                    for r in chunk
                )  # fmt: skip
                continue
            results.extend(sms_results(body, chunk, reference))
        return results

    def cancel_message(self, remote_id: str) -> None:
        """POST /v1/messages/{id}/cancel (scheduled messages only); answers an empty text/html 200."""
        self.http.request("POST", f"{API}/messages/{remote_id}/cancel", idempotent=True)

    def get_message(self, remote_id: str) -> dict:
        """GET /v1/messages/{id} with its recipients (status per recipient)."""
        return self.http.get(f"{API}/messages/{remote_id}", params={"with[]": ["recipients"]}) or {}

    def message_statuses(self, remote_id: str) -> list[DeliveryUpdate]:
        """Poll one message: a DeliveryUpdate per recipient (the message itself has no status)."""
        return list(_recipient_updates(self.get_message(remote_id)))

    def fetch_delivery_updates(self, remote_ids: list[str], channel: str = "") -> list[DeliveryUpdate]:
        """Polling for the status service: one call per message id (an id covers up to 50 recipients)."""
        return [u for rid in dict.fromkeys(remote_ids) for u in self.message_statuses(rid)]

    def lookup_message(self, reference: str, to: str = "") -> DeliveryUpdate | None:
        """Find a send we are unsure about by our reference (filters[reference]); None: Spryng never got it."""
        digits = "".join(ch for ch in to if ch.isdigit())
        for page in self.iter_message_pages(reference=reference):
            for row in page.items:
                for update in _recipient_updates(row):
                    if not digits or "".join(ch for ch in update.to if ch.isdigit()) == digits:
                        return update
        return None

    def send_batch(self, messages: list[OutboundMessage]) -> list[SendResult]:
        """One POST /v1/messages for ≤ 50 recipients of the same SMS text; the call carries the first reference."""
        first = messages[0]
        if first.channel != Channel.SMS or any(
            m.text != first.text or m.sender != first.sender for m in messages
        ):
            raise self.unsupported("batch sends other than one SMS text to many recipients")
        return self.send_sms(
            [m.to for m in messages], first.text, reference=first.reference, sender=first.sender
        )

    def iter_message_pages(self, cursor: str | None = None, **filters: str) -> Iterator[Page[dict]]:
        """GET /v1/messages (7 days kept), newest first; filters: originator, recipient_number, reference,
        created_from/until, scheduled_from/until, status. Each row keeps Spryng's shape plus recipients."""
        size = self.page_size

        def fetch(page):
            params: dict[str, Any] = {f"filters[{k}]": v for k, v in filters.items() if v}
            params.update({"limit": size, "page": page, "sort": "!created_at", "with[]": ["recipients"]})
            rows, has_next = laravel_page(self.http.get(f"{API}/messages", params=params))
            return rows, (page + 1 if has_next else None)

        return iter_pages(
            fetch, start=int(load_cursor(cursor, 1) or 1), page_size=size, key=lambda r: r.get("id")
        )

    def iter_delivery_updates(self, **filters: str) -> Iterator[DeliveryUpdate]:
        """Every recipient status in the retention window, for polling when callbacks are not set up."""
        for page in self.iter_message_pages(**filters):
            for row in page.items:
                yield from _recipient_updates(row)

    # -- voice -------------------------------------------------------------------------------

    def send_voice(
        self, to: str, text: str, *, reference: str = "", locale: str = "nl-NL", repeat: int = 1
    ) -> SendResult:
        """POST /v1/voice/messages: text-to-speech to exactly one recipient."""
        payload = {"body": text, "recipients": [msisdn(to)], "voice_locale": locale, "repeat": repeat}
        if reference:
            payload["reference"] = reference
        return self._voice("messages", payload, to, reference)

    def send_voice_otp(
        self, to: str, text: str, code: str, *, reference: str = "", locale: str = "nl-NL", repeat: int = 2
    ) -> SendResult:
        """POST /v1/voice/otp: the text, then the code spoken digit by digit."""
        payload = {
            "body": text, "otp_code": str(code), "recipients": [msisdn(to)], "voice_locale": locale,
            "repeat": repeat,
        }  # fmt: skip
        if reference:
            payload["reference"] = reference
        return self._voice("otp", payload, to, reference)

    def _voice(self, kind: str, payload: dict, to: str, reference: str) -> SendResult:
        try:
            body = self.http.post(f"{API}/voice/{kind}", json_body=payload)
        except Rejected as exc:
            if isinstance(exc, NotFound):
                raise
            return SendResult(
                accepted=False, to=plus(to), channel="voice", status="failed", error=exc.message
            )
        body = body if isinstance(body, dict) else {}
        return SendResult(
            accepted=bool(body.get("id")), remote_id=str(body.get("id") or ""), to=plus(to), channel="voice",
            reference=str(body.get("reference") or reference), price=decimal(body.get("credits")),
            currency="credits", raw=body,
        )  # fmt: skip

    def get_voice_message(self, remote_id: str) -> dict:
        """GET /v1/voice/messages/{id}."""
        return self.http.get(f"{API}/voice/messages/{remote_id}", params={"with[]": ["recipients"]}) or {}

    # -- subaccounts and analytics ---------------------------------------------------------------

    def subaccount_stats(self, year: int | None = None) -> list[dict]:
        """GET /v1/subaccounts/stats: per subaccount, messages and credits per month of `year`."""
        params = {"filters[year]": year} if year else None
        body = self.http.get(f"{API}/subaccounts/stats", params=params) or {}
        out = []
        for row in body.get("subaccounts") or []:
            months = row.get("results") or {}
            out.append(
                {
                    "id": str(row.get("id")),  # an int here, a string everywhere else
                    "username": row.get("username", ""),
                    "months": {
                        month: {
                            "messages": int(v.get("total_messages") or 0),
                            "credits": decimal(v.get("total_credits")),
                        }
                        for month, v in months.items()
                        if isinstance(v, dict)
                    },
                }
            )
        return out

    def conversation_analytics(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        granularity: str = "DAILY",
        phone_numbers: list[str] | None = None,
        dimensions: tuple[str, ...] = ("conversation_type", "conversation_direction", "phone"),
    ) -> list[dict]:
        """WhatsApp conversation analytics for the WABA: one dict per data point (bucket by dimensions)."""
        waba_id = self._setting("waba_id", "WhatsApp Business account id")
        fields = (
            f"conversation_analytics.start({int(start.timestamp())}).end({int(end.timestamp())})"
            f".granularity({granularity}).phone_numbers({_json_list(phone_numbers or [])})"
            f".dimensions({_json_list(list(dimensions))})"
        )
        body = self.http.get(self._wa(waba_id), params={"fields": fields}) or {}
        points = []
        for block in (body.get("conversation_analytics") or {}).get("data") or []:
            for point in block.get("data_points") or []:
                points.append(
                    {
                        "start": parse_dt(point.get("start")),
                        "end": parse_dt(point.get("end")),
                        "conversations": int(point.get("conversation") or 0),
                        "phone_number": plus(point.get("phone_number")),
                        "type": str(point.get("conversation_type") or ""),  # FREE_ENTRY_POINT in answers
                        "direction": str(point.get("conversation_direction") or "").lower(),
                        "cost": decimal(point.get("cost")),
                    }
                )
        return points

    # -- WhatsApp templates (Meta proxy) ---------------------------------------------------------------

    template_kinds = templating.TEMPLATE_KINDS
    template_syntax = templating.template_syntax

    def iter_template_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteTemplate]]:
        """GET …/{waba_id}/message_templates, paged with Meta's `after` cursor."""
        waba_id = self._setting("waba_id", "WhatsApp Business account id")

        def fetch(after):
            params = {"limit": self.page_size, **({"after": after} if after else {})}
            rows, next_after = meta_page(self.http.get(self._wa(waba_id, "message_templates"), params=params))
            return [template_from_api(r) for r in rows], next_after

        return iter_pages(fetch, start=load_cursor(cursor, None), key=lambda t: t.remote_id)

    def iter_templates(self) -> Iterator[RemoteTemplate]:
        """Every WhatsApp template of the WABA (every language is its own template)."""
        for page in self.iter_template_pages():
            yield from page.items

    def get_template(self, remote_id: str) -> RemoteTemplate:
        """By Meta's numeric id or by name (Meta keys templates by name per WABA)."""
        for template in self.iter_templates():
            if remote_id in (template.remote_id, template.name):
                return template
        raise NotFound(f"Spryng/Meta has no template {remote_id!r}.", status=404, provider=self.slug)

    def create_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """POST …/{waba_id}/message_templates; Meta answers {id, status: PENDING, category}."""
        waba_id = self._setting("waba_id", "WhatsApp Business account id")
        components = template_components(template)
        payload = {
            "name": template.name,
            "language": template.language or "en_US",  # the docs say language_code; the body uses language
            "category": (template.category or "MARKETING").upper(),
            "components": components,
        }
        body = self.http.post(self._wa(waba_id, "message_templates"), json_body=payload) or {}
        status = str(body.get("status") or "PENDING").upper()
        return dataclasses.replace(
            template,
            remote_id=str(body.get("id") or ""),
            status=template_from_api({"status": status}).status,
            category=str(body.get("category") or payload["category"]),
            components=components,
            raw=body,
        )

    def update_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """POST …/{template_id} {components}: replaces the whole content, so every component is sent."""
        components = template_components(template)
        self.http.post(self._wa(template.remote_id), json_body={"components": components}, idempotent=True)
        return dataclasses.replace(template, components=components, status=TemplateStatus.PENDING.value)

    def delete_template(self, remote_id: str) -> None:
        """DELETE …/{waba_id}/message_templates?name=… (Meta deletes by name, every language at once)."""
        name = remote_id
        if remote_id.isdigit():  # an id: find its name first
            name = self.get_template(remote_id).name
        waba_id = self._setting("waba_id", "WhatsApp Business account id")
        self.http.delete(self._wa(waba_id, "message_templates"), params={"name": name})

    def iter_whatsapp_numbers(self) -> Iterator[dict]:
        """GET …/{waba_id}/phone_numbers: id (the phone_number_id to send from), display number, quality."""
        waba_id = self._setting("waba_id", "WhatsApp Business account id")
        fields = "code_verification_status,display_phone_number,certificate,name_status,new_certificate,new_name_status"
        body = self.http.get(self._wa(waba_id, "phone_numbers"), params={"fields": fields}) or {}
        yield from (row for row in body.get("data") or [] if isinstance(row, dict))

    def upload_whatsapp_media(self, content: bytes, filename: str, mime: str) -> str:
        """POST …/{phone_number_id}/media (multipart); returns Meta's media id for template headers."""
        phone_number_id = self._setting("phone_number_id", "WhatsApp phone number id")
        body = self.http.post(
            self._wa(phone_number_id, "media"),
            files={"file": (filename, content, mime)},
            data={"messaging_product": "whatsapp", "type": mime},
        )
        return str((body or {}).get("id") or "")

    # -- WhatsApp sends ----------------------------------------------------------------------------

    def _send_whatsapp(self, message: OutboundMessage) -> SendResult:
        phone_number_id = message.sender or self._setting("phone_number_id", "WhatsApp phone number id")
        to = msisdn(message.to)
        if message.template_name:
            components = []
            values = (
                list(message.variables.values()) if isinstance(message.variables, dict) else message.variables
            )
            if values:  # Meta's placeholders are positional
                components.append(
                    {"type": "body", "parameters": [{"type": "text", "text": str(v)} for v in values]}
                )
            if message.media_url:
                components.append(
                    {
                        "type": "header",
                        "parameters": [{"type": "image", "image": {"link": message.media_url}}],
                    }
                )
            payload = {
                "messaging_product": "whatsapp", "to": to, "type": "template",
                "template": {
                    "name": message.template_name,
                    "language": {"code": message.template_language or "en_US", "policy": "deterministic"},
                    "components": components,
                },
            }  # fmt: skip
        else:  # free-form: not in Spryng's docs, passed through to Meta in Meta's format
            payload = {
                "messaging_product": "whatsapp",
                "to": to,
                "type": "text",
                "text": {"body": message.text},
            }
        if message.reference:
            payload["biz_opaque_callback_data"] = message.reference  # Meta's field for our own id
        try:
            body = self.http.post(self._wa(phone_number_id, "messages"), json_body=payload)
        except Rejected as exc:
            if isinstance(exc, NotFound):
                raise
            return SendResult(
                accepted=False, to=message.to, channel="whatsapp", status="failed",
                reference=message.reference, error=exc.message, raw={"body": exc.body},
            )  # fmt: skip
        return whatsapp_result(body, message.to, message.reference)

    # -- callbacks ---------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Spryng signs nothing: the callback URL must carry ?token=<secret> (or a header/Basic auth)."""
        webhooks.verify(headers, body, secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
        """A DLR (ID, RECIPIENT, STATUS 10/20, REASONCODE…) or an inbound SMS (MSISDN, KEYWORD, PARM…)."""
        return webhooks.parse(headers, body)

    # The URL authenticates; with a webhook secret, the URL must also carry ?token=<secret>.
    webhook_secret_required = False
    webhook_methods = ("GET", "POST")  # delivery reports are GETs with query parameters

    def read_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookRead:
        """A delivery report ("dlr") or an inbound SMS ("mo")."""
        return webhooks.read(headers, body)

    def is_webhook_event(self, headers: Mapping[str, str], body: bytes) -> bool:
        """A GET without report fields is the portal's reachability check."""
        return webhooks.is_event(headers, body)

    def webhook_instructions(self, url: str) -> list[str]:
        """Where to paste the URL in Spryng's portal."""
        return [
            _("In the Spryng portal open Settings → Webhooks (delivery reports) and paste the URL."),
            _("URL: %(url)s — Spryng calls it with GET and the report in the query string.") % {"url": url},
            _("If this account has a webhook secret, add ?token=<the secret> at the end of the URL."),
            _("For inbound SMS (MO) set the same URL on your keyword or number."),
            _("Send a test SMS to a number you own: its report appears below within seconds."),
        ]


def _recipient_updates(row: dict) -> Iterator[DeliveryUpdate]:
    for recipient in row.get("recipients") or []:
        if not isinstance(recipient, dict):
            continue
        yield DeliveryUpdate(
            remote_message_id=str(row.get("id") or ""),
            status=recipient_status(recipient.get("status")),
            occurred_at=parse_dt(recipient.get("sent_at")) or parse_dt(row.get("updated_at")),
            reference=str(row.get("reference") or ""),
            to=plus(recipient.get("number")),
            channel="sms",
            raw=row,
        )


def _json_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"

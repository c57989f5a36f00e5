"""The MyOperator provider: WhatsApp Business (templates, campaigns, sends) and contacts.

Host `https://publicapi.myoperator.co`, no path prefix. Every request carries
`Authorization: Bearer <api key>` and `X-MYOP-COMPANY-ID`; campaign endpoints
also need `X-WABA-PHONENUMBER-ID`. Lists page with limit/offset inside
`data={count,next,previous,results}`; the `next` links in the vendor's own
examples point at a staging host, so we rebuild the next offset ourselves
instead of following them. Contact search pages with an opaque `after` token.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import mimetypes
import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from ..base import (
    AccountInfo,
    CampaignStats,
    Capabilities,
    Channel,
    ConfigField,
    DeliveryUpdate,
    InboundMessage,
    OutboundMessage,
    Page,
    Provider,
    RateLimit,
    RemoteCampaign,
    RemoteContact,
    RemoteTemplate,
    SendResult,
    TemplateStatus,
    WebhookRead,
    caps,
)
from ..errors import NotFound, Rejected, Unavailable
from ..http import iter_pages, load_cursor
from . import templating, webhooks
from .mapping import (
    campaign_from_api,
    campaign_stats_from_api,
    contact_from_api,
    contact_to_api,
    envelope_data,
    error_message,
    page_results,
    send_result_from_api,
    split_phone,
    template_from_api,
    template_to_api,
)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

# The seed documents no rate limit for publicapi (no 429, no headers). We stay polite with an
# assumed 10 requests/second per account; the fake enforces the same so the benchmark measures it.
ASSUMED_LIMIT = RateLimit(10, 1.0)


class MyOperatorProvider(Provider):
    """MyOperator: contacts, WhatsApp templates and campaigns, WhatsApp sends, webhooks."""

    slug = "myoperator"
    display_name = "MyOperator"
    default_base_url = "https://publicapi.myoperator.co"
    capabilities = Capabilities(
        resources=caps(
            contacts=["pull", "push", "delete"],
            templates=["pull", "push", "delete"],  # create only: the API has no template update
            campaigns=["pull", "stats"],  # read-only: campaigns are created in the panel
            senders=["pull"],  # WhatsApp numbers (/chat/phonenumbers)
        ),
        send=frozenset({Channel.WHATSAPP}),
        webhooks=True,
        balance=False,  # no balance/credit endpoint is documented
    )
    credential_fields = (
        ConfigField("api_key", gettext_lazy("WhatsApp API key"), help=gettext_lazy("Panel > Manage > Whatsapp APIs."), secret=True),
        ConfigField(
            "company_id", gettext_lazy("Company id"), help=gettext_lazy("Shown on the same panel screen as the key."), secret=True
        ),
    )
    setting_fields = (
        ConfigField(
            "phone_number_id",
            gettext_lazy("WhatsApp phone number id"),
            required=False,
            help=gettext_lazy("The sender for messages and the number campaigns are read for (Meta's numeric id)."),
        ),
        ConfigField("waba_id", gettext_lazy("WABA id"), required=False, help=gettext_lazy("Needed to create templates.")),
        ConfigField(
            "webhook_header",
            gettext_lazy("Webhook auth header"),
            required=False,
            help=gettext_lazy("The header you configured in the panel to carry the webhook secret (default X-Webhook-Token)."),
        ),
    )
    contact_fields = frozenset({"phone", "first_name", "last_name", "email", "custom_fields", "opted_out"})
    rate_limits = (ASSUMED_LIMIT,)
    bulk_limit = 1  # no batch endpoint: one contact per call
    # Its contacts are updated "by phone"; the number itself cannot be changed once created.
    contact_phone_immutable = True
    page_size = 100  # the documented maximum for contacts

    # -- plumbing --------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Bearer API key plus the company id header on every request."""
        return {
            "Authorization": f"Bearer {self.credentials.get('api_key', '')}",
            "X-MYOP-COMPANY-ID": str(self.credentials.get("company_id", "")),
        }

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> tuple[str, str]:
        """MyOperator's `{status, code, message, errors|error}` body, or its plain-text 500."""
        trace = ""
        for key in ("X-MYOP-TRACE-ID", "x-amzn-RequestId", "X-Amzn-RequestId"):
            if headers.get(key):
                trace = str(headers[key])
                break
        message = error_message(body) if body not in (None, "") else ""
        return (message or f"HTTP {status}"), trace

    def _phone_number_header(self) -> dict[str, str]:
        number = str(self.settings.get("phone_number_id") or "")
        if not number:
            raise Rejected(
                "Set the WhatsApp phone number id in this account's settings to read MyOperator campaigns.",
                provider=self.slug,
            )
        return {"X-WABA-PHONENUMBER-ID": number}

    def _pages(
        self,
        path: str,
        mapper,
        cursor: str | None,
        params: dict | None = None,
        headers=None,
        *,
        max_limit=None,
    ):
        """limit/offset paging over a list envelope; the cursor is the next offset.

        Only contacts document their maximum `limit` (100). Elsewhere the server may cap the page
        below what we ask, so a shorter page is not taken as the end there: `next: null`, an
        empty page or a repeated page is.
        """
        size = self.page_size

        def fetch(offset):
            query = {**(params or {}), "limit": size, "offset": offset}
            body = self.http.get(path, params=query, headers=headers)
            rows, has_next = page_results(body)
            items = [mapper(row) for row in rows if isinstance(row, dict)]
            return items, (offset + len(rows) if has_next else None)

        return iter_pages(
            fetch,
            start=int(load_cursor(cursor, 0) or 0),
            page_size=max_limit,
            key=lambda item: getattr(item, "remote_id", None) or repr(item),
        )

    # -- account ---------------------------------------------------------------------------

    def check_connection(self) -> AccountInfo:
        """List one WhatsApp number: cheap, and proves both the key and the company id."""
        body = self.http.get("/chat/phonenumbers", params={"limit": 1, "offset": 0})
        data = envelope_data(body)
        count = data.get("count") if isinstance(data, dict) else None
        rows, _ = page_results(body)
        if isinstance(count, int):
            detail = ngettext(
                "Connected — %(count)d WhatsApp number", "Connected — %(count)d WhatsApp numbers", count
            ) % {"count": count}
        else:
            detail = gettext("Connected")
        if rows:
            first = rows[0]
            detail += f" (first: +{first.get('country_code', '')}{first.get('phone_number', '')}, "
            detail += f"{first.get('phone_number_status') or first.get('status') or 'unknown'})"
        return AccountInfo(ok=True, detail=detail, raw=body if isinstance(body, dict) else {})

    def iter_phone_numbers(
        self, *, waba_id: str = "", expand: str = "waba_account,settings"
    ) -> Iterator[dict]:
        """Every WhatsApp number on the account as MyOperator returns it (id, phone_number_id, status…)."""
        params = {"expand": expand} if expand else {}
        if waba_id:
            params["waba_id"] = waba_id
        for page in self._pages("/chat/phonenumbers", dict, None, params):
            yield from page.items

    def iter_senders(self):
        """The account's WhatsApp numbers (see myoperator/senders.py)."""
        from .senders import iter_senders

        yield from iter_senders(self)

    # -- contacts ---------------------------------------------------------------------------

    def iter_contact_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteContact]]:
        """GET /contacts with limit/offset (≤ 100), custom fields included."""
        return self._pages(
            "/contacts", contact_from_api, cursor, {"include": "custom_fields"}, max_limit=self.page_size
        )

    def iter_contact_search_pages(
        self, conditions: Mapping[str, Any], cursor: str | None = None
    ) -> Iterator[Page[RemoteContact]]:
        """POST /contacts {"and": conditions}, paged forward with each page's last `pagination_token`."""

        def fetch(token):
            params = {"after": token} if token else None
            # A search changes nothing, so it is safe to retry despite being a POST.
            body = self.http.post(
                "/contacts", params=params, json_body={"and": dict(conditions)}, idempotent=True
            )
            data = envelope_data(body)
            rows = (data.get("results") if isinstance(data, dict) else data) or []
            rows = [r for r in rows if isinstance(r, dict)]
            next_token = rows[-1].get("pagination_token") if rows else None
            return [contact_from_api(r) for r in rows], next_token or None

        # The search page size is undocumented, so only an empty/repeated page or no token ends it.
        return iter_pages(fetch, start=load_cursor(cursor, None), key=lambda c: c.remote_id)

    def iter_contact_pages_modified_since(
        self, since: dt.date | dt.datetime, cursor: str | None = None
    ) -> Iterator[Page[RemoteContact]]:
        """Incremental pull: contacts modified on or after `since` (day granularity, so overlap)."""
        day = since.date() if isinstance(since, dt.datetime) else since
        return self.iter_contact_search_pages({"modified__gte": day.isoformat()}, cursor)

    def get_contact(self, remote_id: str) -> RemoteContact:
        """GET /contacts/{id} with its custom fields."""
        body = self.http.get(f"/contacts/{remote_id}", params={"include": "custom_fields"})
        return contact_from_api(envelope_data(body) or {})

    def find_contact_by_phone(self, phone: str) -> RemoteContact | None:
        """GET /contacts?country_code=&phone_number= (the number with its country code, as documented)."""
        cc, national = split_phone(phone)
        body = self.http.get("/contacts", params={"country_code": cc, "phone_number": f"{cc}{national}"})
        rows, _ = page_results(body)
        return contact_from_api(rows[0]) if rows else None

    def create_contact(self, contact: RemoteContact) -> RemoteContact:
        """POST /contacts; not retried on a 5xx so a contact is never created twice."""
        body = self.http.post("/contacts", json_body=contact_to_api(contact, creating=True))
        return contact_from_api(envelope_data(body) or {})

    def update_contact(self, contact: RemoteContact) -> RemoteContact:
        """PATCH /contacts/{id} (or by phone when there is no id yet); the phone itself never changes."""
        if not contact.remote_id:
            return self.update_contact_by_phone(contact.phone, contact)
        body = self.http.patch(
            f"/contacts/{contact.remote_id}",
            json_body=contact_to_api(contact, creating=False),
            idempotent=True,
        )
        return contact_from_api(envelope_data(body) or {})

    def update_contact_by_phone(self, phone: str, contact: RemoteContact) -> RemoteContact:
        """PATCH /contacts/{country code + number}."""
        cc, national = split_phone(phone)
        body = self.http.patch(
            f"/contacts/{cc}{national}", json_body=contact_to_api(contact, creating=False), idempotent=True
        )
        return contact_from_api(envelope_data(body) or {})

    def delete_contacts(self, remote_ids: list[str]) -> None:
        """DELETE /contacts/{id}, one by one; one already gone counts as deleted."""
        for remote_id in remote_ids:
            try:
                self.http.delete(f"/contacts/{remote_id}")
            except NotFound:
                continue

    # -- templates ---------------------------------------------------------------------------

    template_kinds = templating.TEMPLATE_KINDS
    template_syntax = templating.template_syntax
    can_update_templates = False  # no update endpoint: an edit is delete + create, after a confirmation

    def iter_template_pages(
        self, cursor: str | None = None, **filters: str
    ) -> Iterator[Page[RemoteTemplate]]:
        """GET /chat/templates, filters: waba_id, waba_template_status, category (CSV), name."""
        params = {k: v for k, v in filters.items() if v}
        return self._pages("/chat/templates", template_from_api, cursor, params)

    def iter_templates(self) -> Iterator[RemoteTemplate]:
        """Every template on the account (all WABAs)."""
        for page in self.iter_template_pages():
            yield from page.items

    def get_template(self, remote_id: str) -> RemoteTemplate:
        """By MyOperator's UUID, or by name when given a name."""
        if not _UUID.match(remote_id or ""):
            return self.get_template_by_name(remote_id)
        body = self.http.get(f"/chat/templates/{remote_id}")
        return template_from_api(envelope_data(body) or {})

    def get_template_by_name(self, name: str, language: str = "") -> RemoteTemplate:
        """GET /chat/templates?name=…; NotFound when none (or none in `language`) matches."""
        body = self.http.get("/chat/templates", params={"name": name})
        rows, _ = page_results(body)
        for row in rows:
            if row.get("name") == name and (not language or row.get("language") == language):
                return template_from_api(row)
        raise NotFound(f"MyOperator has no template named {name!r}.", status=404, provider=self.slug)

    def create_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """POST /chat/templates: MyOperator submits it to Meta; it comes back pending approval."""
        waba_id = str(self.settings.get("waba_id") or "")
        if not waba_id:
            raise Rejected(
                "Set the WABA id in this account's settings to create templates.", provider=self.slug
            )
        payload = template_to_api(template, waba_id)
        body = self.http.post("/chat/templates", json_body=payload)
        data = envelope_data(body) or {}
        return dataclasses.replace(
            template,
            remote_id=str(data.get("id") or ""),
            status=TemplateStatus.PENDING.value,
            components=payload["components"],
            raw=body if isinstance(body, dict) else {},
        )

    def update_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """MyOperator documents no template update (only create and delete)."""
        raise self.unsupported("editing templates (delete it and create a new one)")

    def delete_template(self, remote_id: str) -> None:
        """DELETE /chat/templates/{id}."""
        self.http.delete(f"/chat/templates/{remote_id}")

    # -- campaigns ---------------------------------------------------------------------------

    def iter_campaign_pages(
        self, cursor: str | None = None, **filters: str
    ) -> Iterator[Page[RemoteCampaign]]:
        """GET /chat/campaigns; filters: search, status, ordering, created_at_after/before."""
        params = {k: v for k, v in filters.items() if v}
        return self._pages("/chat/campaigns", campaign_from_api, cursor, params, self._phone_number_header())

    def iter_campaigns(self) -> Iterator[RemoteCampaign]:
        """Every campaign of the configured WhatsApp number."""
        for page in self.iter_campaign_pages():
            yield from page.items

    def get_campaign(self, remote_id: str) -> RemoteCampaign:
        """GET /chat/campaigns/{id} (the plural path every example uses)."""
        return campaign_from_api(self._campaign_detail(remote_id))

    def get_campaign_stats(self, remote_id: str) -> CampaignStats:
        """The detail's stats (total/sent/delivered/read/failed/replied) and link clicks."""
        return campaign_stats_from_api(self._campaign_detail(remote_id))

    def _campaign_detail(self, remote_id: str) -> dict:
        body = self.http.get(f"/chat/campaigns/{remote_id}", headers=self._phone_number_header())
        data = envelope_data(body)
        return data if isinstance(data, dict) else {}

    # -- sending -------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """POST /chat/messages (WhatsApp template, text or media). Never retried after it may have gone out.

        A refusal the vendor explains (insufficient balance, number disabled…) comes back as
        SendResult(accepted=False, error=…); auth and outages raise.
        """
        if message.channel != Channel.WHATSAPP:
            raise self.unsupported(f"sending {message.channel} messages")
        sender = message.sender or str(self.settings.get("phone_number_id") or "")
        cc, national = split_phone(message.to)
        payload = {
            "phone_number_id": sender,
            "customer_country_code": cc,
            "customer_number": national,
            "data": self._message_data(message),
            "reply_to": None,
            "myop_ref_id": message.reference or None,  # echoed back in webhooks' metadata
        }
        try:
            # Some interactive sends answer HTTP 500 with a success body (seed G8): read it ourselves.
            response = self.http.request("POST", "/chat/messages", json_body=payload, ok_statuses=(500,))
        except Rejected as exc:
            if isinstance(exc, NotFound):
                raise
            return SendResult(
                accepted=False, to=message.to, channel=Channel.WHATSAPP.value, status="failed",
                reference=message.reference, error=exc.message, raw={"body": exc.body},
            )  # fmt: skip
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 500 and not (isinstance(body, dict) and body.get("status") == "success"):
            message_text = error_message(body if body is not None else response.text) or "no details"
            raise Unavailable(
                f"MyOperator error {response.status_code}: {message_text} (the message may or may not have gone out)",
                status=response.status_code, provider=self.slug, body=response.text[:2000],
                method="POST", path="/chat/messages",
            )  # fmt: skip
        if body is None:
            raise Unavailable(
                "MyOperator accepted the message but its answer was not valid JSON",
                status=response.status_code, provider=self.slug, method="POST", path="/chat/messages",
            )  # fmt: skip
        return send_result_from_api(body, to=message.to, reference=message.reference)

    @staticmethod
    def _message_data(message: OutboundMessage) -> dict:
        if message.template_name:
            context: dict[str, Any] = {"template_name": message.template_name}
            if message.template_language:
                context["language"] = message.template_language
            variables = message.variables
            if isinstance(variables, dict):
                context["body"] = dict(variables)
            elif variables:
                # Positional values fill numeric placeholders {{1}}, {{2}}…
                context["body"] = {str(i): v for i, v in enumerate(variables, start=1)}
            if message.media_url:
                context["header"] = {"media_url": message.media_url}
            if message.buttons:
                context["buttons"] = [dict(b) for b in message.buttons]
            data = {"type": "template", "context": context}
            if message.template_language:
                data["language"] = message.template_language
            return data
        if message.media_url:
            mime = mimetypes.guess_type(message.media_url.split("?", 1)[0])[0] or "application/octet-stream"
            kind = mime.split("/", 1)[0]
            kind = kind if kind in ("image", "audio", "video") else "document"
            context = {"link": message.media_url, "mime_type": mime}
            if message.text:
                context["caption"] = message.text
            if kind == "document":
                context["filename"] = message.media_url.rsplit("/", 1)[-1].split("?", 1)[0]
            return {"type": kind, "context": context}
        return {"type": "text", "context": {"body": message.text, "preview_url": "http" in message.text}}

    def upload_media(
        self, content: bytes, filename: str, *, application: str = "messaging", mime: str = ""
    ) -> str:
        """POST /chat/media/upload (multipart, ≤ 10 MB); returns the media id for sends or templates."""
        mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        body = self.http.post(
            "/chat/media/upload", files={"file": (filename, content, mime)}, data={"application": application}
        )
        data = envelope_data(body) or {}
        return str(data.get("media_id") or "")

    # -- webhooks ------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """MyOperator signs nothing: the configured header (or Basic auth) must carry the secret."""
        webhooks.verify(headers, body, secret, str(self.settings.get("webhook_header") or ""))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
        """New (`event_type`) and legacy (`type`/`event`) WhatsApp message events; calls are ignored."""
        return webhooks.parse(headers, body)

    # The URL authenticates; with a webhook secret, the panel's static header must carry it too.
    webhook_secret_required = False

    def read_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookRead:
        """`event_type` (or the legacy `message.<event>`), `event_id` and the message events."""
        return webhooks.read(headers, body)

    def webhook_instructions(self, url: str) -> list[str]:
        """Where to paste the URL in MyOperator's panel."""
        header = str(self.settings.get("webhook_header") or "X-Webhook-Token")
        return [
            _("In the MyOperator panel open Settings → Webhooks (WhatsApp Business) and add a webhook."),
            _("URL: %(url)s — method POST, content type JSON.") % {"url": url},
            _("Select the message events: sent, delivered, read, failed, received."),
            _(
                "If this account has a webhook secret, add the header %(header)s with that secret as its value."
            )
            % {"header": header},
            _("Save, then use the panel's “send test event”: it appears below within seconds."),
        ]

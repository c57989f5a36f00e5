"""The Spoki provider: WhatsApp contacts, lists, custom fields, templates, campaigns, automations.

Host `https://api.spoki.com`, every REST path under `/api/1/` with a trailing
slash, header `X-Spoki-Api-Key`. Automation triggers live at `/wh/ap/{uuid}/`
and authenticate with a per-automation `secret` in the body instead.

Listings use the DRF envelope `{count, next, previous, results}` (some
endpoints answer a bare array). `next` is an absolute URL whose host is not
always ours (the messages example points at api.spoki.it), so we keep only its
query string as the cursor and ask our own base URL. `page`/`page_size` are
documented only for messages and channels; we send them everywhere and judge
"short page" against the size of the first page the server actually returned.

Rate limits are per endpoint (1/min for sync_all and list sync_contacts up to
240/min for notes), so every call names its bucket. No Retry-After is
documented; the HTTP layer honours one when DRF's throttling sends it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
    RemoteCustomField,
    RemoteList,
    RemoteTemplate,
    SendResult,
    TemplateStatus,
    caps,
)
from ..errors import AuthError, NotFound, Rejected
from ..http import HttpClient, iter_pages, load_cursor
from . import webhooks
from .mapping import (
    campaign_from_api,
    campaign_stats_from_api,
    campaign_to_api,
    contact_from_api,
    contact_to_api,
    credit_amount,
    custom_field_from_api,
    custom_field_to_api,
    delivery_from_message,
    ident,
    list_from_api,
    message_status,
    phone,
    template_to_api,
    templates_from_api,
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


class SpokiProvider(Provider):
    """Spoki (WhatsApp): contacts, lists, custom fields, templates, campaigns, automations, sends."""

    slug = "spoki"
    display_name = "Spoki"
    default_base_url = "https://api.spoki.com"
    capabilities = Capabilities(
        resources=caps(
            contacts=["pull", "push", "delete", "bulk"],
            custom_fields=["pull", "push", "delete"],
            # Lists: create but no rename; members are added by contact data (sync_contacts).
            lists=["pull", "push", "delete", "membership", "bulk"],
            templates=["pull", "push", "delete", "start"],  # start = submit for WhatsApp review
            campaigns=["pull", "push", "delete", "stats"],
            automations=["pull", "push", "start", "bulk"],
        ),
        send=frozenset({Channel.WHATSAPP}),
        webhooks=True,
        balance=True,
    )
    credential_fields = (
        ConfigField(
            "api_key",
            "API key",
            help="Spoki > Integrations > API: the account's X-Spoki-Api-Key.",
            secret=True,
        ),
    )
    setting_fields = (
        ConfigField(
            "account_id", "Account id", required=False,
            help="Only when the key can see several Spoki accounts (agencies): which one to use.",
        ),
        ConfigField(
            "channel_id", "WhatsApp channel id", required=False,
            help="Send through this channel instead of the account's primary one.",
        ),
        ConfigField(
            "template_language", "Default template language", required=False,
            help="Language code used when a send does not name one, e.g. 'it'.",
        ),
    )  # fmt: skip
    # What sync can round-trip on a Spoki contact. Tags are read-only over the API (only automation
    # steps set them); `is_blocked` can be written (set_contact_blocked) but the REST contact never
    # returns it (only webhooks do), so sync leaves it alone instead of pushing it forever.
    contact_fields = frozenset({"phone", "first_name", "last_name", "email", "language", "custom_fields"})
    # Bulk pushes go through sync_all, which matches contacts by phone: a changed phone there makes a
    # new contact, so the sync engine treats the phone as the contact's key (new twin, old unlinked).
    contact_phone_immutable = True
    rate_limits = RATE_LIMITS
    bulk_limit = MAX_BULK
    page_size = 100

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._template_ids: dict[str, str] = {}
        self._members: dict[str, set[str]] | None = None  # list id -> contact ids, after a full scan

    # -- plumbing -----------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Every /api/1/ request carries the account key in X-Spoki-Api-Key."""
        return {"X-Spoki-Api-Key": str(self.credentials.get("api_key", ""))}

    def build_http(self):
        """The shared HttpClient, with Spoki's per-endpoint buckets and error bodies."""
        return SpokiHttpClient(
            base_url=self.base_url,
            provider=self.slug,
            account=self.account,
            headers=self.auth_headers(),
            rate_limits=self.rate_limits,
            error_parser=self.parse_error,
            # "If an error occurs, pause at least 1000 ms before resubmitting."
            backoff=1.0,
        )

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> tuple[str, str]:
        """Spoki's five error shapes: DRF fields, the problem object (`datail`), detail, nested, error."""
        request_id = ""
        if hasattr(headers, "get"):
            request_id = headers.get("X-Request-Id") or headers.get("X-Request-ID") or ""
        return error_text(status, body), request_id

    def _path(self, *parts: Any) -> str:
        return API + "/" + "/".join(str(p).strip("/") for p in parts if str(p)) + "/"

    def _pages(
        self,
        path: str,
        mapper,
        cursor: str | None,
        params: Mapping[str, Any] | None = None,
        *,
        bucket: str,
        key=None,
    ) -> Iterator[Page]:
        """Stream a DRF listing (or a bare array) page by page; the cursor is the next query."""
        state: dict[str, Any] = {"page_len": None, "seen": 0}
        start = load_cursor(cursor, {})
        if isinstance(start, str):  # a bare query string ("page=3") is accepted too
            start = {k: v[-1] for k, v in parse_qs(start.lstrip("?")).items()}
        elif not isinstance(start, dict):
            start = {"page": str(start)}
        resumed = bool(start)

        def fetch(query: dict) -> tuple[list, dict | None]:
            merged = {**(params or {}), **(query or {})}
            merged.setdefault("page_size", self.page_size)
            try:
                body = self.http.get(path, params=merged, bucket=bucket)
            except NotFound:
                # DRF answers 404 "Invalid page." past the end (the listing shrank while we paged).
                if str(merged.get("page", "1")) not in ("1", ""):
                    return [], None
                raise
            rows, next_query, count = unpage(body)
            if not rows:
                return [], None
            state["seen"] += len(rows)
            if state["page_len"] is None:
                state["page_len"] = len(rows)
            elif len(rows) < state["page_len"]:
                next_query = None  # a short page is the last, whatever `next` says
            if isinstance(count, int) and not resumed and state["seen"] >= count:
                next_query = None
            if next_query is not None and next_query == {k: str(v) for k, v in (query or {}).items()}:
                next_query = None  # `next` pointing at the page we just read
            return [mapper(row) for row in rows if isinstance(row, dict)], next_query

        return iter_pages(
            fetch, start=start, key=key or (lambda item: getattr(item, "remote_id", None) or repr(item))
        )

    def _iter_raw(self, path: str, params: Mapping[str, Any] | None = None, *, bucket: str) -> Iterator[dict]:
        for page in self._pages(path, dict, None, params, bucket=bucket, key=lambda d: d.get("id", repr(d))):
            yield from page.items

    # -- account ---------------------------------------------------------------------------

    def _account(self) -> dict:
        account_id = self.settings.get("account_id")
        if account_id:
            return self.http.get(self._path("accounts", account_id), bucket="accounts") or {}
        body = self.http.get(self._path("accounts"), bucket="accounts")
        rows, _, _ = unpage(body)
        if not rows:
            raise Rejected("Spoki returned no account for this API key.", provider=self.slug)
        return rows[0]

    def check_connection(self) -> AccountInfo:
        """GET /accounts/ (the cheapest authenticated call) and report the account and its credit."""
        info = self.get_balance()
        account = info.raw
        name = text(account.get("name"))
        status = text(account.get("status")) or "unknown status"
        detail = f"Connected to {name}" if name else "Connected"
        if info.balance is not None:
            detail += f" — credit €{info.balance:,.2f}"
        if status.lower() != "active":
            detail += f" (account {status})"
        info.detail = detail
        return info

    def get_balance(self) -> AccountInfo:
        """The account's `current_credit` in euros (see mapping.credit_amount for its two units)."""
        account = self._account()
        balance = credit_amount(account.get("current_credit"))
        detail = f"Credit €{balance:,.2f}" if balance is not None else "Spoki did not report a credit"
        if account.get("has_low_credit_alert"):
            detail += " (low credit)"
        return AccountInfo(
            ok=True,
            detail=detail,
            balance=balance,
            currency="EUR" if balance is not None else "",
            subscription=_account_type(account.get("account_type")),
            raw=account,
        )

    def list_accounts(self) -> list[dict]:
        """Every account the key can see (a bare array, 5/min)."""
        rows, _, _ = unpage(self.http.get(self._path("accounts"), bucket="accounts"))
        return rows

    def get_account_by_phone(self, number: str) -> dict:
        """The account (and matched channel) owning a WhatsApp number."""
        return self.http.get(self._path("accounts", "phone", number), bucket="accounts")

    def get_current_report(self, account_id: str | None = None) -> dict:
        """This period's counters (cached 30 min by Spoki)."""
        account_id = account_id or self.settings.get("account_id") or ident(self._account().get("id"))
        return self.http.get(self._path("accounts", account_id, "current_report"), bucket="accounts")

    def iter_reports(self, *, granularity: str = "", start_date=None, end_date=None) -> Iterator[dict]:
        """Account reports by Day/Month/Year (paginated)."""
        params: dict[str, Any] = {}
        if granularity:
            params["granularity"] = granularity
        if start_date:
            params["start_date"] = str(start_date)
        if end_date:
            params["end_date"] = str(end_date)
        yield from self._iter_raw(self._path("reports"), params, bucket="reports")

    def iter_channels(self, *, waba: str = "") -> Iterator[dict]:
        """Every channel (WhatsApp numbers, SMS senders) in any lifecycle state."""
        params = {"whatsapp_business_account": waba} if waba else {}
        # page_size is capped at 30 here.
        for page in self._pages(
            self._path("channel"), dict, None, {**params, "page_size": 30}, bucket="channels",
            key=lambda d: d.get("id", repr(d)),
        ):  # fmt: skip
            yield from page.items

    def get_channel(self, channel_id: str) -> dict:
        return self.http.get(self._path("channel", channel_id), bucket="channels")

    def iter_tags(self) -> Iterator[dict]:
        """Tags are read-only over the API: {id, name, color, order}."""
        yield from self._iter_raw(self._path("tags"), bucket="tags")

    def iter_media(self) -> Iterator[dict]:
        yield from self._iter_raw(self._path("media"), bucket="media_read")

    def create_media(self, *, title: str, external_url: str, format_type: str, content_type: str) -> dict:
        """Register media by external URL (the only documented way)."""
        body = {"title": title, "external_url": external_url, "format_type": format_type,
                "content_type": content_type}  # fmt: skip
        return self.http.post(self._path("media"), json_body=body, bucket="media_write")

    def delete_media(self, media_id: str) -> None:
        self.http.delete(self._path("media", media_id), bucket="media_write")

    def iter_messages(self, *, channel_id: str = "") -> Iterator[DeliveryUpdate]:
        """Message history with its status (polling alternative to webhooks). Ids are integers here."""
        params = {"channel_id": channel_id} if channel_id else {}
        for page in self._pages(
            self._path("messages"), delivery_from_message, None, params, bucket="messages",
            key=lambda u: u.remote_message_id,
        ):  # fmt: skip
            yield from page.items

    # -- contacts ------------------------------------------------------------------------------

    def iter_contact_pages(self, cursor: str | None = None, **filters) -> Iterator[Page[RemoteContact]]:
        """Stream contacts (filters: search, phone, email, tag, is_blocked, language, …)."""
        return self._pages(self._path("contacts"), contact_from_api, cursor, filters, bucket="contacts")

    def search_contacts(self, search: str = "", **filters) -> Iterator[RemoteContact]:
        """Contacts whose phone, email, names, language or notes match `search`."""
        if search:
            filters["search"] = search
        for page in self.iter_contact_pages(None, **filters):
            yield from page.items

    def find_contact_by_phone(self, number: str) -> RemoteContact | None:
        wanted = phone(number)
        for contact in self.search_contacts(phone=wanted):
            if contact.phone == wanted:
                return contact
        return None

    def get_contact(self, remote_id: str) -> RemoteContact:
        """GET /contacts/{id}/."""
        return contact_from_api(self.http.get(self._path("contacts", remote_id), bucket="contacts"))

    def create_contact(self, contact: RemoteContact) -> RemoteContact:
        """POST /contacts/sync/: create-or-update by phone, so a retry cannot make a duplicate."""
        body = self.http.post(
            self._path("contacts", "sync"),
            json_body=contact_to_api(contact),
            bucket="contacts",
            idempotent=True,
        )
        created = contact_from_api(body)
        if contact.blocked is not None and created.remote_id:
            self.set_contact_blocked(created.remote_id, contact.blocked)
            created.blocked = contact.blocked
        return created

    def update_contact(self, contact: RemoteContact) -> RemoteContact:
        """PATCH /contacts/{id}/ with the fields Spoki stores (and is_blocked when set)."""
        payload = contact_to_api(contact)
        if contact.blocked is not None:
            payload["is_blocked"] = contact.blocked
        body = self.http.patch(
            self._path("contacts", contact.remote_id), json_body=payload, bucket="contacts", idempotent=True
        )
        updated = contact_from_api(body)
        if updated.blocked is None:
            updated.blocked = contact.blocked
        return updated

    def upsert_contacts(self, contacts: list[RemoteContact]) -> list[RemoteContact]:
        """POST /contacts/sync_all/ (≤ 500, 1/min): returns the contacts with their remote ids."""
        if len(contacts) > MAX_BULK:
            raise Rejected(f"Spoki accepts at most {MAX_BULK} contacts per call.", provider=self.slug)
        if not contacts:
            return []
        body = self.http.post(
            self._path("contacts", "sync_all"),
            json_body=[contact_to_api(c) for c in contacts],
            bucket="contacts_sync_all",
            idempotent=True,  # an upsert keyed by phone: repeating it changes nothing
        )
        returned = body.get("contacts", []) if isinstance(body, dict) else body or []
        by_phone = {}
        for row in returned:
            if isinstance(row, dict):
                record = contact_from_api(row)
                by_phone[record.phone] = record
        errors = body.get("errors", []) if isinstance(body, dict) else []
        result = []
        for contact in contacts:
            match = by_phone.get(phone(contact.phone))
            if match is None:
                failed = RemoteContact(**{**contact.__dict__})
                failed.raw = {"errors": errors}
                result.append(failed)
            else:
                result.append(match)
        return result

    def delete_contacts(self, remote_ids: list[str]) -> None:
        """DELETE /contacts/{id}/ one by one (no bulk delete); already gone counts as deleted."""
        for remote_id in remote_ids:
            with contextlib.suppress(NotFound):
                self.http.delete(self._path("contacts", remote_id), bucket="contacts")
            for members in (self._members or {}).values():
                members.discard(str(remote_id))

    def set_contact_blocked(self, remote_id: str, blocked: bool) -> None:
        """PATCH {"is_blocked": …} (the docs' "Block"/"Unlock" requests)."""
        self.http.patch(
            self._path("contacts", remote_id), json_body={"is_blocked": bool(blocked)},
            bucket="contacts", idempotent=True,
        )  # fmt: skip

    def add_contact_operator(self, remote_id: str, email: str) -> dict:
        """Assign an invited user (by email) as the contact's operator."""
        return self.http.post(
            self._path("contacts", remote_id, "add_operator"), json_body={"email": email},
            bucket="contact_operators", idempotent=True,
        )  # fmt: skip

    def remove_contact_operator(self, remote_id: str, email: str) -> dict:
        return self.http.post(
            self._path("contacts", remote_id, "remove_operator"), json_body={"email": email},
            bucket="contact_operators", idempotent=True,
        )  # fmt: skip

    # -- custom fields --------------------------------------------------------------------------

    def iter_custom_fields(self) -> Iterator[RemoteCustomField]:
        """GET /custom-fields/ (5/min)."""
        for page in self._pages(
            self._path("custom-fields"), custom_field_from_api, None, bucket="custom_fields"
        ):
            yield from page.items

    def get_custom_field(self, remote_id: str) -> RemoteCustomField:
        return custom_field_from_api(
            self.http.get(self._path("custom-fields", remote_id), bucket="custom_fields")
        )

    def create_custom_field(self, custom_field: RemoteCustomField) -> RemoteCustomField:
        """POST /custom-fields/ {label, code, field_type}; codes are UPPER_SNAKE."""
        body = self.http.post(
            self._path("custom-fields"), json_body=custom_field_to_api(custom_field), bucket="custom_fields"
        )
        return custom_field_from_api(body)

    def update_custom_field(self, custom_field: RemoteCustomField) -> RemoteCustomField:
        """PATCH the label (the code is the key contacts are written with, so it stays)."""
        body = self.http.patch(
            self._path("custom-fields", custom_field.remote_id), json_body={"label": custom_field.label},
            bucket="custom_fields", idempotent=True,
        )  # fmt: skip
        return custom_field_from_api(body)

    def delete_custom_field(self, remote_id: str) -> None:
        """DELETE; Spoki refuses (403 spoki::3005) while an automation uses the field."""
        self.http.delete(self._path("custom-fields", remote_id), bucket="custom_fields")

    # -- lists ------------------------------------------------------------------------------------

    def iter_list_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteList]]:
        """GET /lists/ (5/min)."""
        return self._pages(self._path("lists"), list_from_api, cursor, bucket="lists")

    def get_list(self, remote_id: str) -> RemoteList:
        return list_from_api(self.http.get(self._path("lists", remote_id), bucket="lists"))

    def create_list(self, remote_list: RemoteList) -> RemoteList:
        """POST /lists/ {name}."""
        body = self.http.post(
            self._path("lists"), json_body={"name": remote_list.name}, bucket="lists_create"
        )
        return list_from_api(body)

    def update_list(self, remote_list: RemoteList) -> RemoteList:
        """Spoki has no rename endpoint for lists."""
        raise self.unsupported("renaming lists (the Spoki API has no list update)")

    def delete_list(self, remote_id: str) -> None:
        """DELETE /lists/{id}/ (the contacts stay)."""
        with contextlib.suppress(NotFound):
            self.http.delete(self._path("lists", remote_id), bucket="lists")

    def iter_list_member_pages(self, list_id: str, cursor: str | None = None) -> Iterator[Page[str]]:
        """No members endpoint exists: page through contacts and keep those whose list_set has it.

        A complete scan also indexes every list's members on this instance, so a sync run that asks
        for each of its lists in turn pays for one scan (at 120 contacts pages/min), not one per list.
        """
        wanted = str(list_id)
        if cursor is None and self._members is not None:
            yield Page(items=sorted(self._members.get(wanted, ())), cursor=None)
            return
        index: dict[str, set[str]] | None = {} if cursor is None else None
        for page in self.iter_contact_pages(cursor):
            if index is not None:
                for contact in page.items:
                    for member_of in contact.list_ids:
                        index.setdefault(member_of, set()).add(contact.remote_id)
            # Every contact page yields a page (maybe empty) so the cursor still advances.
            yield Page(items=[c.remote_id for c in page.items if wanted in c.list_ids], cursor=page.cursor)
        if index is not None:
            self._members = index

    def sync_list_contacts(self, list_id: str, contacts: list[RemoteContact]) -> dict:
        """POST /lists/{id}/sync_contacts/ (≤ 500, 1/min): upsert by phone, then add to the list."""
        if len(contacts) > MAX_BULK:
            raise Rejected(f"Spoki accepts at most {MAX_BULK} contacts per call.", provider=self.slug)
        body = self.http.post(
            self._path("lists", list_id, "sync_contacts"),
            json_body={"contacts": [contact_to_api(c) for c in contacts]},
            bucket="lists_sync",
            idempotent=True,
        )
        return body if isinstance(body, dict) else {}

    def add_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """Spoki adds members by contact data, not id: read each contact, then sync_contacts."""
        contacts = [self.get_contact(remote_id) for remote_id in contact_ids]
        for start in range(0, len(contacts), MAX_BULK):
            self.sync_list_contacts(list_id, contacts[start : start + MAX_BULK])
        if self._members is not None:
            self._members.setdefault(str(list_id), set()).update(c.remote_id for c in contacts)

    def remove_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """POST /lists/{id}/remove_contacts/ with the contacts' emails (as documented) or phones."""
        keys = []
        for remote_id in contact_ids:
            try:
                contact = self.get_contact(remote_id)
            except NotFound:
                continue
            keys.append(contact.email or contact.phone)
        if keys:
            self.http.post(
                self._path("lists", list_id, "remove_contacts"), json_body={"contacts": keys},
                bucket="lists", idempotent=True,
            )  # fmt: skip
        if self._members is not None:
            self._members.get(str(list_id), set()).difference_update(str(i) for i in contact_ids)

    def remove_all_list_members(self, list_id: str) -> None:
        """POST /lists/{id}/remove_all_contacts/."""
        self.http.post(self._path("lists", list_id, "remove_all_contacts"), json_body={}, bucket="lists",
                       idempotent=True)  # fmt: skip
        if self._members is not None:
            self._members[str(list_id)] = set()

    # -- templates ----------------------------------------------------------------------------------

    def iter_templates(self, *, search: str = "", channel_id: str = "") -> Iterator[RemoteTemplate]:
        """Every template, one record per localization (status is per language)."""
        params: dict[str, Any] = {}
        if search:
            params["search"] = search
        if channel_id:
            params["channel_id"] = channel_id
        for page in self._pages(
            self._path("templates"), lambda row: row, None, params, bucket="templates",
            key=lambda d: d.get("id", repr(d)),
        ):  # fmt: skip
            for row in page.items:
                yield from templates_from_api(row)

    def _template_payload(self, remote_id: str) -> dict:
        return self.http.get(self._path("templates", remote_id), bucket="templates")

    def get_template(self, remote_id: str) -> RemoteTemplate:
        """By id, or "id:language" for one localization; by default the approved one, else the first."""
        template_id, _, language = str(remote_id).partition(":")
        localizations = templates_from_api(self._template_payload(template_id))
        if language:
            for record in localizations:
                if record.language.lower() == language.lower():
                    return record
            raise NotFound(
                f"Spoki template {template_id} has no {language} localization.", provider=self.slug
            )
        approved = [r for r in localizations if r.status == TemplateStatus.APPROVED]
        return (approved or localizations)[0]

    def create_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """POST /templates/ as a DRAFT (submit_template() sends it to WhatsApp for review)."""
        body = self.http.post(
            self._path("templates"), json_body=template_to_api(template), bucket="templates"
        )
        return self._pick(templates_from_api(body), template.language)

    def update_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """PATCH /templates/{id}/; the localization for template.language is edited in place."""
        current = self._template_payload(template.remote_id)
        localization_id = None
        for loc in current.get("templatelocalization_set") or []:
            if text(loc.get("language")).lower() == (template.language or "").lower():
                localization_id = loc.get("id")
        body = template_to_api(template, localization_id)
        body["template_groups"] = current.get("template_groups") or []
        response = self.http.patch(
            self._path("templates", template.remote_id),
            json_body=body,
            bucket="templates_write",
            idempotent=True,
        )
        return self._pick(templates_from_api(response), template.language)

    def delete_template(self, remote_id: str, *, force: bool = False) -> None:
        """DELETE (force_delete=true deactivates the automation steps that use it)."""
        params = {"force_delete": "true"} if force else None
        with contextlib.suppress(NotFound):
            self.http.delete(self._path("templates", remote_id), params=params, bucket="templates_write")

    def clone_template(self, remote_id: str) -> RemoteTemplate:
        """GET /templates/{id}/clone/: a GET with a side effect (201, new DRAFT), so never retried."""
        response = self.http.request(
            "GET", self._path("templates", remote_id, "clone"), bucket="templates_write", idempotent=False
        )
        return self._pick(templates_from_api(response.json()), "")

    def submit_template(self, remote_id: str) -> None:
        """POST /templates/{id}/submit/ (204): DRAFT localizations go to WhatsApp for review."""
        self.http.post(self._path("templates", remote_id, "submit"), bucket="templates_write")

    def template_back_to_draft(self, remote_id: str) -> dict:
        """POST /templates/{id}/back_to_draft/: unusable until approved again."""
        return self.http.post(
            self._path("templates", remote_id, "back_to_draft"), bucket="templates_write", idempotent=True
        )

    @staticmethod
    def _pick(records: list[RemoteTemplate], language: str) -> RemoteTemplate:
        for record in records:
            if language and record.language.lower() == language.lower():
                return record
        return records[0]

    def _template_id(self, name_or_id: str) -> str:
        """Spoki sends by template id; accept a name too and look it up (once per instance)."""
        value = str(name_or_id).strip()
        if value.isdigit():
            return value
        if value not in self._template_ids:
            for record in self.iter_templates(search=value):
                if record.name == value:
                    self._template_ids[value] = record.remote_id
                    break
            else:
                raise NotFound(f"No Spoki template is named {value!r}.", provider=self.slug)
        return self._template_ids[value]

    # -- campaigns ----------------------------------------------------------------------------------

    def iter_campaigns(self, *, scheduled_from=None, scheduled_to=None) -> Iterator[RemoteCampaign]:
        """GET /campaigns/ (5/min), optionally windowed by scheduled_datetime."""
        params: dict[str, Any] = {}
        if scheduled_from:
            params["scheduled_datetime_gte"] = _naive_iso(scheduled_from)
        if scheduled_to:
            params["scheduled_datetime_lte"] = _naive_iso(scheduled_to)
        for page in self._pages(self._path("campaigns"), campaign_from_api, None, params, bucket="campaigns"):
            yield from page.items

    def get_campaign(self, remote_id: str) -> RemoteCampaign:
        return campaign_from_api(self.http.get(self._path("campaigns", remote_id), bucket="campaigns"))

    def create_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """POST /campaigns/ with `template` (Spoki builds the automation) or raw["automation"]."""
        body = self.http.post(
            self._path("campaigns"), json_body=campaign_to_api(campaign), bucket="campaigns"
        )
        return campaign_from_api(body)

    def update_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """PATCH /campaigns/{id}/ (only while it is not processing)."""
        body = self.http.patch(
            self._path("campaigns", campaign.remote_id), json_body=campaign_to_api(campaign),
            bucket="campaigns", idempotent=True,
        )  # fmt: skip
        return campaign_from_api(body)

    def delete_campaign(self, remote_id: str) -> None:
        """DELETE (403 spoki::403 while it is processing)."""
        with contextlib.suppress(NotFound):
            self.http.delete(self._path("campaigns", remote_id), bucket="campaigns")

    def get_campaign_stats(self, remote_id: str) -> CampaignStats:
        """The counters Spoki keeps on the campaign itself."""
        return campaign_stats_from_api(self.http.get(self._path("campaigns", remote_id), bucket="campaigns"))

    # -- automations ----------------------------------------------------------------------------------

    def iter_automations(self, *, search: str = "", is_active: bool | None = None) -> Iterator[dict]:
        """Automations as Spoki returns them; webhook_set[] holds each trigger's uuid and secret."""
        params: dict[str, Any] = {}
        if search:
            params["search"] = search
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        yield from self._iter_raw(self._path("automations"), params, bucket="automations")

    def get_automation(self, automation_id: str) -> dict:
        return self.http.get(self._path("automations", automation_id), bucket="automations")

    def create_automation(self, definition: dict) -> dict:
        """POST /automations/ with the documented body (name, steps, trigger sets…)."""
        return self.http.post(self._path("automations"), json_body=definition, bucket="automations")

    def automation_custom_fields_used(self, automation_id: str) -> dict:
        """Which contact fields and custom fields an automation needs before it is started."""
        return self.http.get(
            self._path("automations", automation_id, "custom-fields-used"), bucket="automations"
        )

    def _trigger(self, automation: str | dict) -> tuple[str, str]:
        if isinstance(automation, dict):
            payload = automation
        elif re.fullmatch(r"[0-9a-fA-F-]{32,36}", str(automation)):
            raise Rejected("Pass the automation id or payload: the trigger secret is on the automation.")
        else:
            payload = self.get_automation(str(automation))
        for hook in payload.get("webhook_set") or []:
            if hook.get("is_active", True) and hook.get("uuid") and hook.get("secret"):
                return str(hook["uuid"]), str(hook["secret"])
        raise Rejected(
            f"Spoki automation {payload.get('id')} has no active API trigger (webhook_set) to start it.",
            provider=self.slug,
        )

    @staticmethod
    def _trigger_contact(contact: RemoteContact, metadata: Mapping[str, Any] | None) -> dict:
        body = contact_to_api(contact)
        if metadata:
            body["metadata"] = dict(metadata)
        return body

    def start_automation(
        self, automation: str | dict, contact: RemoteContact, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """POST /wh/ap/{uuid}/ with the trigger secret (no API key). It upserts the contact itself."""
        uuid, secret = self._trigger(automation)
        body = {"secret": secret, **self._trigger_contact(contact, metadata)}
        # Starting sends messages: never retried on a 5xx (idempotent=False).
        self.http.request(
            "POST", f"/wh/ap/{uuid}/", json_body=body, headers={"X-Spoki-Api-Key": None},
            bucket="automation_trigger", idempotent=False,
        )  # fmt: skip

    def start_automation_bulk(
        self, automation: str | dict, contacts: list[RemoteContact], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """POST /wh/ap/{uuid}/bulk/ with up to 500 contacts."""
        if len(contacts) > MAX_BULK:
            raise Rejected(f"Spoki starts at most {MAX_BULK} contacts per call.", provider=self.slug)
        uuid, secret = self._trigger(automation)
        body = {"secret": secret, "contacts": [self._trigger_contact(c, metadata) for c in contacts]}
        self.http.request(
            "POST", f"/wh/ap/{uuid}/bulk/", json_body=body, headers={"X-Spoki-Api-Key": None},
            bucket="automation_trigger", idempotent=False,
        )  # fmt: skip

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

    def iter_webhook_subscriptions(self) -> list[dict]:
        """The account's external webhooks (a bare array), each with its event and secret."""
        rows, _, _ = unpage(self.http.get(self._path("external-webhooks"), bucket="webhooks"))
        return rows

    def subscribe_webhook(self, event: str, url: str) -> dict:
        """Create a V2 webhook for one event; the response carries the signing secret."""
        body = {"event": event, "version": 2, "url": url, "is_active": True}
        return self.http.post(self._path("external-webhooks"), json_body=body, bucket="webhooks")


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

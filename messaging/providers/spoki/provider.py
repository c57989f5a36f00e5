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
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from localization.formatting import format_money

from ..base import (
    AccountInfo,
    Capabilities,
    Channel,
    ConfigField,
    DeliveryUpdate,
    Page,
    Provider,
    RemoteContact,
    RemoteCustomField,
    RemoteList,
    caps,
)
from ..errors import NotFound, Rejected
from ..http import iter_pages, load_cursor
from .automations import SpokiAutomationsMixin
from .common import (
    API,
    MAX_BULK,
    RATE_LIMITS,
    SpokiHttpClient,
    _account_type,
    _flatten,
    _is_business_refusal,
    _naive_iso,
    error_text,
    send_result,
    unpage,
)
from .content import SpokiContentMixin
from .mapping import (
    contact_from_api,
    contact_to_api,
    credit_amount,
    custom_field_from_api,
    custom_field_to_api,
    delivery_from_message,
    ident,
    list_from_api,
    phone,
    text,
)
from .sending import SpokiSendingMixin

__all__ = [
    "API",
    "MAX_BULK",
    "RATE_LIMITS",
    "SpokiHttpClient",
    "SpokiProvider",
    "_account_type",
    "_flatten",
    "_is_business_refusal",
    "_naive_iso",
    "error_text",
    "send_result",
    "unpage",
]


class SpokiProvider(SpokiAutomationsMixin, SpokiContentMixin, SpokiSendingMixin, Provider):
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
            campaigns=["pull", "push", "delete", "stats", "start"],
            senders=["pull"],  # channels: WhatsApp numbers, SMS senders
            automations=["pull", "push", "start", "bulk"],
        ),
        send=frozenset({Channel.WHATSAPP}),
        webhooks=True,
        balance=True,
    )
    credential_fields = (
        ConfigField(
            "api_key",
            _("API key"),
            help=_("Spoki > Integrations > API: the account's X-Spoki-Api-Key."),
            secret=True,
        ),
    )
    setting_fields = (
        ConfigField(
            "account_id", _("Account id"), required=False,
            help=_("Only when the key can see several Spoki accounts (agencies): which one to use."),
        ),
        ConfigField(
            "channel_id", _("WhatsApp channel id"), required=False,
            help=_("Send through this channel instead of the account's primary one."),
        ),
        ConfigField(
            "template_language", _("Default template language"), required=False,
            help=_("Language code used when a send does not name one, e.g. 'it'."),
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
    # Campaigns over its own lists, created from an approved template (Spoki builds the automation),
    # started by scheduling them and counted by Spoki itself (issue 10: provider-run).
    runs_campaigns = True
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
        status = text(account.get("status")) or gettext("unknown status")
        detail = gettext("Connected to %(name)s") % {"name": name} if name else gettext("Connected")
        if info.balance is not None:
            detail += " — " + gettext("credit %(amount)s") % {"amount": format_money(info.balance, "EUR")}
        if status.lower() != "active":
            detail += " " + gettext("(account %(status)s)") % {"status": status}
        info.detail = detail
        return info

    def get_balance(self) -> AccountInfo:
        """The account's `current_credit` in euros (see mapping.credit_amount for its two units)."""
        account = self._account()
        balance = credit_amount(account.get("current_credit"))
        detail = (
            gettext("Credit %(amount)s") % {"amount": format_money(balance, "EUR")}
            if balance is not None
            else gettext("Spoki did not report a credit")
        )
        if account.get("has_low_credit_alert"):
            detail += " " + gettext("(low credit)")
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

    def iter_senders(self):
        """The account's channels as senders (see spoki/senders.py)."""
        from .senders import iter_senders

        yield from iter_senders(self)

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

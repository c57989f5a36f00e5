"""The Qlara (Agile Telecom) provider: contacts, lists, templates, campaigns, sending, webhooks.

Qlara has three path families under one host (the account's base URL is the
host root; these prefixes are added here):

    /api/partner-gateway/v1/...   contacts, lists, campaigns, status, history, webhooks ("P")
    /api/v1/partner-gateway/...   subscription and credit ("S", the prefix really is swapped)
    /api/message-server/...       sending and RCS/WhatsApp templates (markdown guide only)

Paging: the Postman collection pages with `page`/`limit` and answers bare
arrays; the markdown guide pages with `offset`/`limit` inside
`{data, pagination}`. Every listing request sends both `page` and `offset`
(kept consistent), so either kind of server reads the one it knows, and the
answer's shape decides when to stop.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import mimetypes
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from localization.formatting import format_money

from ..base import (
    AccountInfo,
    CampaignStats,
    Capabilities,
    Channel,
    ConfigField,
    DeliveryUpdate,
    InboundMessage,
    MessageStatus,
    Op,
    OutboundMessage,
    Page,
    Provider,
    RateLimit,
    RemoteCampaign,
    RemoteContact,
    RemoteList,
    RemoteTemplate,
    SendResult,
    WebhookRead,
    caps,
)
from ..errors import NotFound, Rejected, Unavailable
from ..http import HttpClient, iter_pages, load_cursor
from . import mapping as m
from . import templating, webhooks

P = "/api/partner-gateway/v1"
S = "/api/v1/partner-gateway"
MS = "/api/message-server"

# Ids per call where Qlara takes a CSV in the query: keeps URLs well under the 414 limit.
IDS_PER_CALL = 200
# Page sizes a server may silently cap `limit` at (see QlaraProvider._pages).
SERVER_CAPS = frozenset({10, 20, 25, 50, 100, 200, 250, 500})


class QlaraProvider(Provider):
    """Qlara Platform API (Agile Telecom): SMS, RCS and WhatsApp with contacts, lists and campaigns."""

    slug = "qlara"
    display_name = "Qlara (Agile Telecom)"
    default_base_url = "https://lora-api.agiletelecom.com"
    runs_campaigns = True  # campaigns over its own contact lists (issue 10: provider-run)
    capabilities = Capabilities(
        resources=caps(
            contacts=[Op.PULL, Op.PUSH, Op.DELETE],
            lists=[Op.PULL, Op.PUSH, Op.DELETE, Op.MEMBERSHIP],
            templates=[Op.PULL, Op.PUSH, Op.DELETE],
            campaigns=[Op.PULL, Op.PUSH, Op.DELETE, Op.STATS, Op.START],
            senders=[Op.PULL],
        ),
        send=frozenset({Channel.SMS, Channel.RCS, Channel.WHATSAPP}),
        webhooks=True,
        balance=True,
    )
    credential_fields = (
        ConfigField("api_key", _("API key"), required=False, secret=True,
                    help=_("Sent as X-Api-Key. Leave empty to use a username and password instead.")),
        ConfigField("username", _("Username (Basic auth)"), required=False, secret=True),
        ConfigField("password", _("Password (Basic auth)"), required=False, secret=True),
    )  # fmt: skip
    setting_fields = (
        ConfigField("sender", _("SMS sender"), required=False, help=_("Alphanumeric (max 11) or a number.")),
        ConfigField("whatsapp_phone_number_id", _("WhatsApp phone number id"), required=False),
        ConfigField("rcs_agent_id", _("RCS agent id"), required=False),
        ConfigField("plan", _("Plan"), required=False, help=_("'trial' uses the trial rate limits (100/min).")),
    )
    # What a Qlara contact can hold: it has no language, province/postcode (PM), opt-out or block.
    contact_fields = frozenset(
        {"phone", "first_name", "last_name", "email", "gender", "birth_date", "company", "address",
         "city", "country", "notes", "custom_fields", "tags"}
    )  # fmt: skip
    # Per API key (MD "Rate Limits"): production 1,000/min with 50/s bursts; trial 100/min, 10/s.
    DOCUMENTED_LIMITS = {"production": ((1000, 60.0), (50, 1.0)), "trial": ((100, 60.0), (10, 1.0))}
    # The HTTP layer paces with sliding windows, never over a limit in any window, so the
    # documented limits are declared as they are.
    rate_limits = (RateLimit(1000, 60.0), RateLimit(50, 1.0))
    trial_rate_limits = (RateLimit(100, 60.0), RateLimit(10, 1.0))
    # Membership add/remove takes many contact ids per call; contacts themselves go one by one.
    bulk_limit = 500
    # PM allows limit up to 1000 on contacts, lists and members; MD's offset scheme caps at 100,
    # and with it we stop on its `total`, never on a short page, so a cap cannot lose records.
    page_size = 1000

    # -- plumbing ---------------------------------------------------------------------------------

    def build_http(self) -> HttpClient:
        """X-Api-Key when there is a key, else HTTP Basic; the trial plan's lower limits if set."""
        basic = None
        if not self.credentials.get("api_key") and self.credentials.get("username"):
            basic = (self.credentials["username"], self.credentials.get("password", ""))
        limits = self.trial_rate_limits if self.settings.get("plan") == "trial" else self.rate_limits
        return HttpClient(
            base_url=self.base_url.removesuffix("/api"),
            provider=self.slug,
            account=self.account,
            headers=self.auth_headers(),
            auth=basic,
            rate_limits=limits,
            error_parser=self.parse_error,
        )

    def auth_headers(self) -> dict[str, str]:
        """X-Api-Key (header names ignore case: PM writes X-API-Key)."""
        key = self.credentials.get("api_key")
        return {"X-Api-Key": key} if key else {}

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> tuple[str, str]:
        """MD's `{status, error, message, timestamp, path}`, the send APIs' JSend
        `{"status": "fail", "data": {field: reason}}`, or PM's empty `""` body."""
        request_id = webhooks.header(headers, "X-Request-Id")
        if isinstance(body, dict):
            if body.get("status") in ("fail", "error") and isinstance(body.get("data"), dict):
                reasons = "; ".join(f"{k}: {v}" for k, v in body["data"].items())
                return (reasons or m.text(body.get("message")) or f"HTTP {status}"), request_id
            message = m.text(first_text(body, "message", "error_description", "detail", "error"))
            if message:
                return message, request_id
        if isinstance(body, str) and body.strip() not in ("", '""'):
            return body.strip()[:300], request_id
        return f"HTTP {status} with no message", request_id

    def _pages(
        self,
        path: str,
        mapper: Callable[[dict], Any],
        *,
        cursor: str | None = None,
        params: Mapping[str, Any] | None = None,
        skip: Callable[[dict], bool] | None = None,
        size_param: str = "limit",
    ) -> Iterator[Page]:
        """Stream a listing in every paging scheme Qlara documents.

        Cursors are `[offset, page size]`. A bare-array page shorter than asked for ends the
        listing, unless its length is a typical server cap (MD says 100 where PM says 1000):
        then the server's size is adopted and the next page is asked for, so a lower cap than
        documented costs one request instead of silently losing records.
        """
        state = load_cursor(cursor, [0, self.page_size])
        if not isinstance(state, list):  # an older cursor: a bare offset
            state = [m.to_int(state), self.page_size]
        size = {"limit": m.to_int(state[1], self.page_size) or self.page_size}

        def fetch(offset: int) -> tuple[list[dict], list[int] | None]:
            limit = size["limit"]
            query = {**(params or {}), "page": offset // limit, "offset": offset, size_param: limit}
            body = self._get_listing(path, query)
            items = m.extract_items(body)
            block = m.pagination_of(body)
            if block is None:  # PM: a bare array and no total; a short page is the last
                if len(items) >= limit:
                    return items, [offset + len(items), limit]
                if len(items) in SERVER_CAPS and offset % len(items) == 0 and limit == self.page_size:
                    size["limit"] = len(items)  # adopted once; a page shorter than that is the end
                    return items, [offset + len(items), len(items)]
                return items, None
            following = m.to_int(block.get("offset"), offset) + len(items)
            total = m.first(block.get("total"), block.get("totalCount"), block.get("totalElements"))
            pages = block.get("totalPages")
            if total is not None and following >= m.to_int(total):
                return items, None
            if total is None and pages is not None and offset // limit + 1 >= m.to_int(pages):
                return items, None
            if block.get("last") is True:
                return items, None
            return items, [following, limit]

        def fetch_cursor(position: list[int]) -> tuple[list[dict], list[int] | None]:
            return fetch(position[0])

        start = [m.to_int(state[0]), size["limit"]]
        for page in iter_pages(fetch_cursor, start=start, key=lambda item: item.get("id", item)):
            kept = [mapper(item) for item in page.items if not (skip and skip(item))]
            yield Page(items=kept, cursor=page.cursor)

    def _get_listing(self, path: str, query: dict[str, Any]) -> Any:
        if self.__dict__.get("_unsortable"):
            query.pop("sortBy", None)
            query.pop("sortOrder", None)
        try:
            return self.http.get(path, params=query)
        except Rejected as exc:
            # The accepted sortBy values are undocumented: sorting by id keeps pages stable
            # while records change, but an account that refuses it is read in its default order.
            if exc.status != 400 or "sortBy" not in query:
                raise
            self.__dict__["_unsortable"] = True
            query.pop("sortBy")
            query.pop("sortOrder", None)
            return self.http.get(path, params=query)

    # -- account ----------------------------------------------------------------------------------

    def check_connection(self) -> AccountInfo:
        """Read the credit (the cheapest authenticated call) and say it in words."""
        info = self._credit_info()
        info.detail = gettext("Connected — %(detail)s") % {"detail": info.detail}
        return info

    def get_balance(self) -> AccountInfo:
        """Credit (available = credit - frozen) plus the subscription plan where there is one."""
        info = self._credit_info()
        try:
            plan = self.get_subscription()
        except (NotFound, Unavailable):  # the credit is what matters; the plan is a bonus
            plan = {}
        if plan:
            info.subscription = " ".join(
                part for part in (m.text(plan.get("planCode")), m.text(plan.get("status")).lower()) if part
            )
            info.raw["subscription"] = plan
        return info

    def _credit_info(self) -> AccountInfo:
        try:
            body = self.get_credit()
        except NotFound:
            # Accounts on the legacy SMS platform only have /api/services/sms/credit.
            body = self.http.get("/api/services/sms/credit") or {}
        available = m.to_decimal(m.first(body.get("availableCredit"), body.get("credit")))
        frozen = m.to_decimal(body.get("frozenCredit"))
        detail = (
            gettext("credit %(amount)s") % {"amount": format_money(available, "EUR")}
            if available is not None
            else gettext("no credit figure returned")
        )
        if frozen:
            detail += " " + gettext("(%(amount)s reserved for queued campaigns)") % {"amount": format_money(frozen, "EUR")}
        return AccountInfo(ok=True, detail=detail, balance=available, currency=m.CURRENCY, raw=dict(body))

    def get_credit(self) -> dict[str, Any]:
        """`{credit, frozenCredit, availableCredit}`."""
        return m.extract_one(self.http.get(f"{S}/subscription/credit"))

    def get_subscription(self) -> dict[str, Any]:
        """`{planCode, status, billingPeriodStart, billingPeriodEnd, nextRenew, canceled, nextPlan}`."""
        return m.extract_one(self.http.get(f"{S}/subscription"))

    def get_contact_quota(self) -> dict[str, Any]:
        """`{planLimit, extraLimit, totalLimit, used, remaining}`; creates fail when remaining is 0."""
        return m.extract_one(self.http.get(f"{S}/subscription/contacts"))

    def iter_sms_senders(self) -> Iterator[dict[str, Any]]:
        """The account's SMS senders (PM shows no shape: records as the API gives them)."""
        for page in self._pages(f"{P}/sms/senders", dict):
            yield from page.items

    def iter_rcs_agents(self) -> Iterator[dict[str, Any]]:
        """The account's RCS agents."""
        for page in self._pages(f"{P}/rcs/agents", dict):
            yield from page.items

    def iter_whatsapp_numbers(self) -> Iterator[dict[str, Any]]:
        """WhatsApp Business numbers: PM's partner-gateway listing, else MD's message-server one."""
        found = False
        with contextlib.suppress(NotFound):
            for page in self._pages(f"{P}/whatsapp/phone-numbers", dict):
                for item in page.items:
                    found = True
                    yield item
        if not found:
            with contextlib.suppress(NotFound):
                yield from m.extract_items(self.http.get(f"{MS}/whatsapp/phone-numbers"))

    def iter_senders(self):
        """SMS senders, RCS agents and WhatsApp numbers (see qlara/senders.py)."""
        from .senders import iter_senders

        yield from iter_senders(self)

    # -- contacts ---------------------------------------------------------------------------------

    def iter_contact_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteContact]]:
        """Every contact, sorted by id so pages stay stable while we read."""
        yield from self._pages(
            f"{P}/contacts", m.contact_from_api, cursor=cursor, params={"sortBy": "id", "sortOrder": "asc"}
        )

    def get_contact(self, remote_id: str) -> RemoteContact:
        """GET /contacts/{id}."""
        body = self.http.get(f"{P}/contacts/{remote_id}")
        data = m.extract_one(body)
        if not data:
            raise NotFound(f"Qlara has no contact {remote_id}.", provider=self.slug, status=404)
        return m.contact_from_api(data)

    def find_contact_by_phone(self, phone: str) -> RemoteContact | None:
        """Exact match on a phone number (Qlara does not say whether create deduplicates)."""
        body = self.http.get(f"{P}/contacts", params={"phoneNumber": phone, "limit": 10, "page": 0})
        items = m.extract_items(body)
        return m.contact_from_api(items[0]) if items else None

    def create_contact(self, contact: RemoteContact) -> RemoteContact:
        """POST /contacts; the answer wraps the record in `{contacts, errors}`. Not retried on 5xx."""
        body = self.http.post(f"{P}/contacts", json_body=m.contact_to_api(contact))
        return self._written_contact(body, contact)

    def update_contact(self, contact: RemoteContact) -> RemoteContact:
        """PUT /contacts/{id} (a partial update; list memberships are untouched)."""
        body = self.http.put(
            f"{P}/contacts/{contact.remote_id}", json_body=m.contact_to_api(contact, partial=True)
        )
        return self._written_contact(body, contact)

    def _written_contact(self, body: Any, sent: RemoteContact) -> RemoteContact:
        contacts, errors = m.contacts_from_write(body)
        if not contacts:
            reason = "; ".join(errors) or "the answer held no contact"
            raise Rejected(
                f"Qlara did not save the contact: {reason}", provider=self.slug, body=str(body)[:2000]
            )
        saved = contacts[0]
        if errors:
            saved.raw["errors"] = errors
        return saved

    def delete_contacts(self, remote_ids: list[str]) -> None:
        """DELETE /contacts?ids=… (PM) with the same ids as a JSON array body (MD).

        Never called without ids: Qlara's `notIds` form deletes everything else.
        """
        ids = [i for i in remote_ids if str(i).strip()]
        for start in range(0, len(ids), IDS_PER_CALL):
            chunk = ids[start : start + IDS_PER_CALL]
            self.http.delete(f"{P}/contacts", params={"ids": m.ids_csv(chunk)}, json_body=m.int_ids(chunk))

    # -- lists ------------------------------------------------------------------------------------

    def iter_list_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteList]]:
        """Every live list (soft-deleted ones, `isDeleted`, are skipped)."""
        yield from self._pages(
            f"{P}/contacts/list", m.list_from_api, cursor=cursor,
            params={"sortBy": "id", "sortOrder": "asc"}, skip=m.is_deleted_list,
        )  # fmt: skip

    def get_list(self, remote_id: str) -> RemoteList:
        """GET /contacts/list/{id}; a soft-deleted list (`isDeleted`) is gone for us."""
        data = m.extract_one(self.http.get(f"{P}/contacts/list/{remote_id}"))
        if m.is_deleted_list(data):
            raise NotFound(f"Qlara list {remote_id} was deleted.", provider=self.slug, status=404)
        return m.list_from_api(data)

    def create_list(self, remote_list: RemoteList) -> RemoteList:
        """POST /contacts/list."""
        body = self.http.post(f"{P}/contacts/list", json_body=m.list_to_api(remote_list))
        return m.list_from_api(m.extract_one(body))

    def update_list(self, remote_list: RemoteList) -> RemoteList:
        """PUT /contacts/list/{id}: name and description only."""
        body = self.http.put(
            f"{P}/contacts/list/{remote_list.remote_id}", json_body=m.list_to_api(remote_list)
        )
        return m.list_from_api(m.extract_one(body))

    def delete_list(self, remote_id: str) -> None:
        """DELETE /contacts/list?ids=… (and MD's array body); contacts survive."""
        self.http.delete(
            f"{P}/contacts/list", params={"ids": str(remote_id)}, json_body=m.int_ids([remote_id])
        )

    def iter_list_member_pages(self, list_id: str, cursor: str | None = None) -> Iterator[Page[str]]:
        """The contact ids in one list."""
        yield from self._pages(
            f"{P}/contacts/list/{list_id}/contacts", lambda item: m.text(item.get("id")), cursor=cursor,
            params={"sortBy": "id", "sortOrder": "asc"},
        )  # fmt: skip

    def add_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """POST /contacts/list/contacts. Qlara keeps existing associations, so a retry is safe."""
        self._membership("POST", [list_id], contact_ids)

    def remove_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """DELETE /contacts/list/contacts with the same JSON body as add."""
        self._membership("DELETE", [list_id], contact_ids)

    def _membership(self, method: str, list_ids: list[str], contact_ids: list[str]) -> list[int]:
        created: list[int] = []
        ids = [c for c in contact_ids if str(c).strip()]
        for start in range(0, len(ids), self.bulk_limit):
            body = {
                "listIds": m.int_ids(list_ids),
                "contactIds": m.int_ids(ids[start : start + self.bulk_limit]),
                "allContacts": False,
            }
            answer = self.http.json(method, f"{P}/contacts/list/contacts", json_body=body, idempotent=True)
            if isinstance(answer, list):  # add answers the new association ids
                created.extend(m.to_int(a) for a in answer)
        return created

    def add_contacts_to_lists(self, list_ids: list[str], contact_ids: list[str]) -> list[int]:
        """Many contacts by many lists in one call; returns the new association ids."""
        return self._membership("POST", list_ids, contact_ids)

    def delete_association(self, association_id: str) -> None:
        """DELETE /contacts/list/contacts/{id}: one association (PM), by its association id."""
        self.http.delete(f"{P}/contacts/list/contacts/{association_id}")

    # -- templates --------------------------------------------------------------------------------

    template_kinds = templating.TEMPLATE_KINDS
    template_syntax = templating.template_syntax

    def iter_templates(self) -> Iterator[RemoteTemplate]:
        """WhatsApp templates (page/size) then RCS templates (page/limit)."""
        for page in self._pages(f"{MS}/whatsapp/templates", m.whatsapp_template_from_api, size_param="size"):
            yield from page.items
        for page in self._pages(f"{MS}/rcs/templates", m.rcs_template_from_api):
            yield from page.items

    def get_template(self, remote_id: str) -> RemoteTemplate:
        """By our id (`whatsapp:42`, `rcs:7`; a bare id is WhatsApp)."""
        channel, raw_id = m.split_template_id(remote_id)
        body = m.extract_one(self.http.get(f"{MS}/{channel}/templates/{raw_id}"))
        return self._template(channel, body)

    def create_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """WhatsApp templates are created for a phone number (`whatsapp_phone_number_id`) and
        go to Meta for review; RCS templates are ready at once."""
        if template.channel == Channel.RCS.value:
            body = self.http.post(
                f"{MS}/rcs/templates",
                json_body=m.rcs_template_to_api(template, sender=self.settings.get("sender", "")),
            )
            return self._written_template("rcs", body, template)
        number = self.settings.get("whatsapp_phone_number_id")
        if not number:
            raise Rejected("Set the account's WhatsApp phone number id before creating WhatsApp templates.")
        body = self.http.post(
            f"{MS}/whatsapp/templates", params={"phoneNumberId": number},
            json_body=m.whatsapp_template_to_api(template),
        )  # fmt: skip
        return self._written_template("whatsapp", body, template)

    def update_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """WhatsApp: PATCH (partial; the template goes back to PENDING). RCS: PUT."""
        channel, raw_id = m.split_template_id(template.remote_id)
        if channel == Channel.RCS.value:
            body = self.http.put(
                f"{MS}/rcs/templates/{raw_id}",
                json_body=m.rcs_template_to_api(template, sender=self.settings.get("sender", "")),
            )
        else:
            body = self.http.patch(
                f"{MS}/whatsapp/templates/{raw_id}", json_body=m.whatsapp_template_to_api(template),
                idempotent=True,
            )  # fmt: skip
        return self._written_template(channel, body, template, raw_id)

    def delete_template(self, remote_id: str) -> None:
        """DELETE the template."""
        channel, raw_id = m.split_template_id(remote_id)
        self.http.delete(f"{MS}/{channel}/templates/{raw_id}")

    def _template(self, channel: str, data: Mapping[str, Any]) -> RemoteTemplate:
        if channel == Channel.RCS.value:
            return m.rcs_template_from_api(data)
        return m.whatsapp_template_from_api(data)

    def _written_template(self, channel, body, sent: RemoteTemplate, raw_id: str = "") -> RemoteTemplate:
        data = m.extract_one(body)
        if data.get("id") is not None:
            return self._template(channel, data)
        # No response shape is documented: fall back to what we sent, marked as under review.
        sent.remote_id = m.template_id(channel, raw_id) if raw_id else ""
        if channel == Channel.WHATSAPP.value:
            sent.status = "pending"
        return sent

    def _find_template(self, channel: str, name: str, language: str = "") -> RemoteTemplate:
        cache = self.__dict__.setdefault("_template_cache", {})
        key = (channel, name, language)
        if key not in cache:
            for template in self.iter_templates():
                same_language = not language or not template.language or template.language == language
                if template.channel == channel and template.name == name and same_language:
                    cache[key] = template
                    break
            else:
                raise NotFound(f"Qlara has no {channel} template named {name!r}.", provider=self.slug)
        return cache[key]

    # -- campaigns --------------------------------------------------------------------------------

    def iter_campaigns(self) -> Iterator[RemoteCampaign]:
        """GET /campaigns, every page."""
        for page in self._pages(f"{P}/campaigns", m.campaign_from_api):
            yield from page.items

    def get_campaign(self, remote_id: str) -> RemoteCampaign:
        """GET /campaigns/{id}."""
        return m.campaign_from_api(m.extract_one(self.http.get(f"{P}/campaigns/{remote_id}")))

    def create_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """POST /campaigns as a draft (readyToSend false). Not idempotent: never retried on 5xx."""
        body = {**m.campaign_to_api(campaign, self.settings), "readyToSend": False}
        return m.campaign_from_api(m.extract_one(self.http.post(f"{P}/campaigns", json_body=body)))

    def update_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """PUT /campaigns/{id}; only drafts and scheduled campaigns (status 0/1) can change."""
        body = m.campaign_to_api(campaign, self.settings, creating=False)
        return m.campaign_from_api(
            m.extract_one(self.http.put(f"{P}/campaigns/{campaign.remote_id}", json_body=body))
        )

    def delete_campaign(self, remote_id: str) -> None:
        """DELETE /campaigns/{id} (204); 404 also means "no longer deletable"."""
        self.http.delete(f"{P}/campaigns/{remote_id}")

    def calculate_goal(self, remote_id: str) -> RemoteCampaign:
        """POST /campaigns/{id}/calculateGoal: recount recipients and cost (a recalculation, so safe to retry)."""
        body = self.http.post(f"{P}/campaigns/{remote_id}/calculateGoal", idempotent=True)
        return m.campaign_from_api(m.extract_one(body))

    def get_campaign_price(self, remote_id: str) -> dict[str, Any]:
        """GET /campaigns/{id}/price: the estimate (PM answers the whole campaign; we read totalPrice)."""
        data = m.extract_one(self.http.get(f"{P}/campaigns/{remote_id}/price"))
        if not isinstance(data, dict) or not data:
            data = {"totalPrice": data}
        return {
            "campaign_id": str(remote_id),
            "price": m.to_decimal(m.first(data.get("totalPrice"), data.get("price"))),
            "currency": m.CURRENCY,
            "recipients": data.get("totalDestinations"),
            "distinct_contacts": data.get("numOfDistinctContact"),
            "raw": data,
        }

    def confirm_campaign(self, remote_id: str) -> None:
        """PUT /campaigns/{id}/confirm (202). Final and it spends credit, so never retried."""
        self.http.request("PUT", f"{P}/campaigns/{remote_id}/confirm", idempotent=False)

    def start_campaign(self, remote_id: str) -> RemoteCampaign:
        """Qlara's lifecycle: calculateGoal → readyToSend=true → confirm; returns the campaign."""
        self.calculate_goal(remote_id)
        self.http.put(f"{P}/campaigns/{remote_id}", json_body={"readyToSend": True})
        self.confirm_campaign(remote_id)
        return self.get_campaign(remote_id)

    def get_campaign_stats(self, remote_id: str) -> CampaignStats:
        """The campaign's own counters (total*, per channel *Pending)."""
        return m.campaign_stats_from_api(m.extract_one(self.http.get(f"{P}/campaigns/{remote_id}")))

    def iter_campaign_stats(
        self, start: dt.date, end: dt.date, aggregate_on: str = "day", sending_mode: str = ""
    ) -> Iterator[CampaignStats]:
        """GET /campaigns/stats: time buckets (hour, day, week or month) across campaigns."""
        params = {"aggregateOn": aggregate_on, "startDate": start.isoformat(), "endDate": end.isoformat()}
        if sending_mode:
            params["sendingMode"] = sending_mode.upper()
        for page in self._pages(f"{P}/campaigns/stats", m.stats_bucket_from_api, params=params):
            yield from page.items

    # -- sending ----------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """One message through the message-server send API of its channel.

        We always set `messageId` (our reference, or a new UUID) so delivery updates
        correlate, and the POST is never retried after it may have reached Qlara.
        """
        channel = Channel(message.channel)
        message_id = message.reference or str(uuid.uuid4())
        if channel == Channel.SMS:
            body = self._sms_body(message)
        elif channel == Channel.RCS:
            body = self._rcs_body(message)
        elif channel == Channel.WHATSAPP:
            body = self._whatsapp_body(message)
        else:
            raise self.unsupported(f"sending {channel.value} messages")
        body["messageId"] = message_id
        answer = self.http.post(f"{MS}/{channel.value}/send", json_body=body, idempotent=False) or {}
        return self._send_result(answer, message, message_id)

    def _sms_body(self, message: OutboundMessage) -> dict[str, Any]:
        sender = message.sender or self.settings.get("sender")
        if not sender:
            raise Rejected(
                "Set an SMS sender on the account (or on the message) before sending SMS.", provider=self.slug
            )
        body: dict[str, Any] = {"destination": message.to, "sender": sender, "body": message.text}
        placeholders = self._placeholders(message.variables, m.variables_in(message.text))
        if placeholders:
            body["placeholders"] = placeholders
        return body

    def _rcs_body(self, message: OutboundMessage) -> dict[str, Any]:
        agent = message.sender or self.settings.get("rcs_agent_id")
        if not agent:
            raise Rejected("Set the account's RCS agent id before sending RCS.")
        body: dict[str, Any] = {"destination": message.to, "agentId": m.to_int(agent, agent)}
        names: list[str] = []
        if message.template_name:
            template_ref = self._template_ref(Channel.RCS.value, message)
            body["templateId"] = m.to_int(template_ref[0], template_ref[0])
            names = template_ref[1]
        elif message.media_url or message.buttons:
            body["body"] = {"type": "CARD", "body": {
                "title": "", "description": message.text, "mediaUrl": message.media_url,
                "suggestions": [
                    {"type": "URL", "text": b.get("text", ""), "value": b.get("url") or b.get("value", "")}
                    for b in message.buttons
                ],
            }}  # fmt: skip
        else:
            body["body"] = {"type": "TEXT", "body": {"text": message.text}}
            names = m.variables_in(message.text)
        placeholders = self._placeholders(message.variables, names)
        if placeholders:
            body["placeholders"] = placeholders
        if Channel.SMS.value in message.fallback:
            # RCS falls back to SMS when it is allowed some SMS parts.
            body["maxSmsParts"] = m.to_int(self.settings.get("max_sms_parts"), 3)
        return body

    def _whatsapp_body(self, message: OutboundMessage) -> dict[str, Any]:
        number = message.sender or self.settings.get("whatsapp_phone_number_id")
        if not number:
            raise Rejected("Set the account's WhatsApp phone number id before sending WhatsApp.")
        body: dict[str, Any] = {"destination": message.to, "phoneNumberId": m.to_int(number, number)}
        names: list[str] = []
        if message.template_name:
            template_id, names = self._template_ref(Channel.WHATSAPP.value, message)
            body["template"] = {"id": m.to_int(template_id, template_id)}
            if message.media_url:
                body["template"]["mediaUrl"] = message.media_url
        elif message.media_url:
            kind = media_kind(message.media_url)
            content: dict[str, Any] = {"url": message.media_url}
            if kind in ("image", "video", "document") and message.text:
                content["caption"] = message.text
            if kind == "document":
                content["filename"] = message.media_url.rsplit("/", 1)[-1].split("?", 1)[0]
            body["body"] = {kind: content}
        else:
            body["body"] = {"text": {"body": message.text}}
            names = m.variables_in(message.text)
        placeholders = self._placeholders(message.variables, names)
        if placeholders:
            body["placeholders"] = placeholders
        fallback = [c.lower() for c in message.fallback]
        if Channel.RCS.value in fallback:
            if Channel.SMS.value not in fallback:
                raise Rejected("Qlara needs an SMS fallback whenever WhatsApp falls back to RCS.")
            agent = self.settings.get("rcs_agent_id")
            if not agent:
                raise Rejected("Set the account's RCS agent id to fall back to RCS.")
            body["fallbackRcs"] = {"agentId": m.to_int(agent, agent)}
        if Channel.SMS.value in fallback:
            sender = self.settings.get("sender")
            if not (sender and message.text):
                raise Rejected("An SMS fallback needs the account's SMS sender and the message text.")
            body["fallbackSms"] = {"sender": sender, "text": message.text}
        return body

    def _template_ref(self, channel: str, message: OutboundMessage) -> tuple[str, list[str]]:
        """(Qlara's template id, its placeholder names) from a name, `channel:id` or a bare id."""
        name = message.template_name
        prefix, _, raw_id = name.partition(":")
        if (prefix == channel and raw_id) or name.isdigit():
            raw_id = raw_id or name
            if not (isinstance(message.variables, list) and message.variables):
                return raw_id, []
            # Positional values need the template's placeholder names: read it once.
            cache = self.__dict__.setdefault("_template_cache", {})
            key = (channel, raw_id)
            if key not in cache:
                cache[key] = self.get_template(m.template_id(channel, raw_id))
            return raw_id, cache[key].variables
        template = self._find_template(channel, name, message.template_language)
        return m.split_template_id(template.remote_id)[1], template.variables

    @staticmethod
    def _placeholders(variables: list[str] | dict[str, str], names: list[str]) -> dict[str, str]:
        """Qlara placeholders are named; positional values take the template's names in order."""
        if isinstance(variables, dict):
            return {str(k): str(v) for k, v in variables.items()}
        return {(names[i] if i < len(names) else str(i + 1)): str(v) for i, v in enumerate(variables)}

    def _send_result(self, answer: Any, message: OutboundMessage, message_id: str) -> SendResult:
        results = answer.get("results") if isinstance(answer, dict) else None
        results = results if isinstance(results, dict) else {}
        main = results.get(message.channel) or {}
        accepted = bool(main.get("accepted", bool(answer)))
        used = message.channel
        if not accepted:  # a fallback channel may have taken it
            for channel in ("rcs", "sms"):
                if channel != message.channel and (results.get(channel) or {}).get("accepted"):
                    accepted, used = True, channel
                    break
        reasons = main.get("reasons") or []
        return SendResult(
            accepted=accepted,
            remote_id=m.text(answer.get("messageId"))
            if isinstance(answer, dict) and answer.get("messageId")
            else message_id,
            to=message.to,
            channel=used,
            status=(MessageStatus.QUEUED if accepted else MessageStatus.FAILED).value,
            reference=message.reference,
            error=""
            if accepted
            else ("; ".join(m.text(r) for r in reasons) or "Qlara did not accept the message."),
            raw=answer if isinstance(answer, dict) else {"body": answer},
        )

    # -- delivery status and history ------------------------------------------------------------

    def get_message_status(self, message_id: str, channel: str) -> DeliveryUpdate:
        """GET /messages/status/{id}?channel= (404 when the channel is not the one used)."""
        body = self.http.get(f"{P}/messages/status/{message_id}", params={"channel": channel.upper()})
        return m.delivery_from_status(m.extract_one(body))

    def get_message_statuses(self, message_ids: list[str], channel: str) -> list[DeliveryUpdate]:
        """GET /messages/status?channel=&ids=… in chunks; unknown ids are simply absent."""
        out: list[DeliveryUpdate] = []
        for start in range(0, len(message_ids), IDS_PER_CALL):
            chunk = message_ids[start : start + IDS_PER_CALL]
            body = self.http.get(
                f"{P}/messages/status", params={"channel": channel.upper(), "ids": m.ids_csv(chunk)}
            )
            out.extend(m.delivery_from_status(item) for item in m.extract_items(body))
        return out

    def fetch_delivery_updates(self, remote_ids: list[str], channel: str = "") -> list[DeliveryUpdate]:
        """Polling for the status service: the status endpoint, in chunks of ids."""
        return self.get_message_statuses(remote_ids, channel or "sms")

    def iter_message_history(
        self, channel: str, start: dt.datetime, end: dt.datetime, status: str = ""
    ) -> Iterator[DeliveryUpdate]:
        """GET /messages/history: messages sent in [start, end] on one channel, every page."""
        params = {"channel": channel.upper(), "from": start.isoformat(), "to": end.isoformat()}
        if status:
            params["status"] = status.upper()
        for page in self._pages(f"{P}/messages/history", m.delivery_from_status, params=params):
            yield from page.items

    def media_url(self, media_key: str, expire_minutes: int = 180) -> str:
        """A signed, temporary URL for an inbound message's media (`mediaKey` in the webhook)."""
        body = self.http.get(f"/api/files/{media_key}", params={"expireMinutes": expire_minutes})
        if isinstance(body, dict):
            return m.text(m.first(body.get("url"), body.get("data")))
        return m.text(body)

    # -- webhooks ---------------------------------------------------------------------------------

    @staticmethod
    def callback_url(url: str, secret: str) -> str:
        """Our webhook URL with the secret as Basic credentials (Qlara cannot sign callbacks)."""
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{webhooks.BASIC_USER}:{secret}@{rest}"

    def get_webhook(self) -> dict[str, Any] | None:
        """The configured callback (`{companyId, callbackUrl}`), or None."""
        try:
            return m.extract_one(self.http.get(f"{P}/webhooks/delivery-status"))
        except NotFound:
            return None

    def configure_webhook(self, url: str) -> dict[str, Any]:
        """Point the account's one callback at `url`: PUT when one exists, else POST (409 → PUT)."""
        body = {"callbackUrl": url}
        if self.get_webhook():
            return m.extract_one(self.http.put(f"{P}/webhooks/delivery-status", json_body=body))
        try:
            return m.extract_one(
                self.http.post(f"{P}/webhooks/delivery-status", json_body=body, idempotent=True)
            )
        except Rejected as exc:
            if exc.status != 409:
                raise
            return m.extract_one(self.http.put(f"{P}/webhooks/delivery-status", json_body=body))

    def delete_webhook(self) -> None:
        """DELETE the callback (404 when there was none is fine)."""
        with contextlib.suppress(NotFound):
            self.http.delete(f"{P}/webhooks/delivery-status")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """The secret must come back as the Basic password of the callback URL (constant time)."""
        webhooks.verify(headers, secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
        """DELIVERY (statusCode 3/6), READ and INBOUND events for SMS, RCS and WhatsApp."""
        return webhooks.parse(body)

    # Qlara signs nothing: the /hooks/<token>/ URL authenticates; a webhook secret adds Basic auth.
    webhook_secret_required = False

    def read_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookRead:
        """DELIVERY / READ / INBOUND ("+"-joined for a batch) and the normalised events."""
        return webhooks.read(body)

    def register_webhooks(self, url: str, current: Mapping[str, Any]) -> dict[str, Any]:
        """The delivery-status webhook: GET, then PUT when one exists, else POST (409 → PUT)."""
        secret = str(current.get("secret") or "")
        target = self.callback_url(url, secret) if secret else url
        answer = self.configure_webhook(target) or {}
        return {"url": url, "company_id": str(answer.get("companyId") or "")}


def first_text(body: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def media_kind(url: str) -> str:
    """WhatsApp free-form content type from a media URL's extension."""
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    if not guessed:
        return "image"
    if guessed.startswith(("image/webp",)) and "sticker" in url:
        return "sticker"
    for prefix in ("image", "video", "audio"):
        if guessed.startswith(prefix + "/"):
            return prefix
    return "document"

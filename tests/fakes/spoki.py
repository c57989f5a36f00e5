"""A stateful fake of the Spoki API, written from the vendor's Postman collection.

Same host layout as https://api.spoki.com: REST under /api/1/ (trailing slashes),
automation triggers under /wh/ap/{uuid}/. Auth is the X-Spoki-Api-Key header:
a wrong key gets the documented 401 {"code": "INVALID_REQUEST_HEADER", "message":
"Invalid or missing API key"}, a missing one DRF's 403 {"detail": "Authentication
credentials were not provided."}. Listings use the DRF envelope {count, next,
previous, results} with absolute `next` links and `page`/`page_size`
(documented for messages and channels; this fake honours them everywhere, capped
at MAX_PAGE_SIZE, 30 for channels); accounts/ and external-webhooks/ answer bare
arrays. Error bodies are the vendor's: the problem object with its misspelt
`datail`, DRF field errors, {"detail": "Not found."}, {"error": …}.

Undocumented and chosen here (say so when a test relies on it):
- the 429 body and Retry-After header are DRF's throttling defaults;
- list objects are the nested shape seen inside contacts ({id, name, color, created_datetime,
  contacts_count}); lists/{id}/sync_contacts and remove_contacts answer {} like remove_all_contacts;
- messages/send/ answers 202 {"uuid": <32 hex>, "status": "queued"} (`send_response` changes it);
- custom fields are {id, label, code, field_type, example, is_linked}.

Switches for paging faults: `lie_about_next` (a `next` link on every page, empty pages past
the end), `ignore_paging` (always page 1), `short_pages_at` (serve N rows on the second page).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
import time
import uuid as uuidlib
from collections import deque
from typing import Any
from urllib.parse import urlencode

from messaging.providers.spoki.webhooks import sign_v1, sign_v2
from tests.fakes.base import FakeAPI, Request, Response, route

API = "/api/1"
ROME = dt.timezone(dt.timedelta(hours=2))


def _now() -> str:
    return dt.datetime.now(ROME).isoformat()


def problem(status: int, code: str, title: str, detail: str) -> Response:
    """Spoki's problem object, misspelt key included."""
    return Response(
        status,
        {"type": f"https://app.spoki.it/errors/{code}", "title": title, "code": code, "status": status,
         "datail": detail},
    )  # fmt: skip


NOT_FOUND = {"detail": "Not found."}
BAD_BODY = ("spoki::3004", "The request body is not correct")


class SpokiFake(FakeAPI):
    name = "spoki"
    # The contact listing's documented limit (120/min); the benchmark enforces it with rate_limit.
    DOCUMENTED_LIMIT = (120, 60.0)
    DEFAULT_PAGE_SIZE = 20
    MAX_PAGE_SIZE = 100
    # Per-endpoint limits from the descriptions ("Rate Limit: N/min"), enforced when
    # `enforce_endpoint_limits` is on: (method, path regex, calls, seconds).
    ENDPOINT_LIMITS = (
        ("POST", r"^/api/1/contacts/sync_all/$", 1, 60.0),
        ("POST", r"^/api/1/lists/\d+/sync_contacts/$", 1, 60.0),
        ("*", r"^/api/1/contacts/(\d+/|sync/)?$", 120, 60.0),
        ("*", r"^/api/1/(campaigns|custom-fields|reports|accounts)/", 5, 60.0),
        ("GET", r"^/api/1/lists/", 5, 60.0),
        ("*", r"^/api/1/automations/", 60, 60.0),
        ("GET", r"^/api/1/tags/", 10, 60.0),
        ("*", r"^/api/1/external-webhooks/", 30, 60.0),
    )

    def __init__(self, api_key: str = "test-key", *, account_name: str = "MyShop", credit: int = 150_500):
        super().__init__()
        self.api_key = api_key
        self._ids = itertools.count(1_091_234)
        self.account = {
            "id": 13128334, "name": account_name, "current_credit": credit, "status": "Active",
            "default_language": "it", "phone": "3933312345678", "has_official_verification": False,
            "daily_limit": 100000, "phone_status": "🟢 Connected", "quality_score": 1, "quality_reasons": None,
            "is_active": True, "country_code": "", "estimated_available_conversations": 1505,
            "account_type": 2, "default_pricing_delta": 0, "low_credit_threshold": 15000,
            "has_low_credit_alert": False, "default_prefix": "+39", "default_country_code": "IT",
            "timezone": "Europe/Rome", "contacted_in_24h": 0, "contacted_in_7d": 0,
        }  # fmt: skip
        self.contacts: dict[int, dict] = {}
        self.lists: dict[int, dict] = {}
        self.memberships: dict[int, set[int]] = {}  # list id -> contact ids
        self.custom_fields: dict[int, dict] = {}
        self.templates: dict[int, dict] = {}
        self.campaigns: dict[int, dict] = {}
        self.automations: dict[int, dict] = {}
        self.automation_runs: list[dict] = []  # every contact an automation trigger started
        self._phone_index: dict[str, int] = {}  # phone → contact id (see _contact_by_phone)
        self.messages: list[dict] = []
        self.tags: dict[int, dict] = {}
        self.media: dict[int, dict] = {}
        self.channels: dict[int, dict] = {}
        self.webhooks: list[dict] = []
        self.send_response: Any = None  # None: the default 202 body
        self.lie_about_next = False
        self.ignore_paging = False
        self.short_pages_at: int | None = None
        self.enforce_endpoint_limits = False
        self._endpoint_windows: dict[int, deque] = {}

    # -- hooks ------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.path.startswith("/wh/ap/"):
            return None  # automation triggers authenticate with the secret in the body
        key = request.header("x-spoki-api-key")
        if not key:
            return Response(403, {"detail": "Authentication credentials were not provided."})
        if key != self.api_key:
            return Response(401, {"code": "INVALID_REQUEST_HEADER", "message": "Invalid or missing API key"})
        return None

    def dispatch(self, request: Request) -> Response:
        if self.enforce_endpoint_limits:
            wait = self._endpoint_wait(request)
            if wait:
                with self.lock:
                    self.journal.append(request)
                    self.rate_limited_count += 1
                return self.retry_hint(wait)
        return super().dispatch(request)

    def _endpoint_wait(self, request: Request) -> int:
        """Seconds until this endpoint's sliding window has room (0: it has room now, and is used)."""
        now = time.monotonic()
        with self.lock:
            for index, (method, pattern, calls, per) in enumerate(self.ENDPOINT_LIMITS):
                if method not in ("*", request.method) or not re.search(pattern, request.path):
                    continue
                window = self._endpoint_windows.setdefault(index, deque())
                while window and now - window[0] >= per:
                    window.popleft()
                if len(window) >= calls:
                    return max(1, math.ceil(per - (now - window[0])))
                window.append(now)
                return 0
        return 0

    def _over_limit(self) -> bool:
        # Remember how long until the sliding window frees a slot, so the 429 says so (as DRF does).
        over = super()._over_limit()
        if over:
            per = self.rate_limit[1]
            with self.lock:
                oldest = self._window[0] if self._window else time.monotonic()
            self._window_wait = max(1, math.ceil(per - (time.monotonic() - oldest)))
        return over

    def retry_hint(self, seconds: int) -> Response:
        # DRF's throttle: Retry-After is the real wait when our rate_limit refused the call.
        wait, self._window_wait = getattr(self, "_window_wait", None), None
        seconds = wait or seconds
        return Response(
            429, {"detail": f"Request was throttled. Expected available in {seconds} seconds."},
            {"Retry-After": str(seconds)},
        )  # fmt: skip

    def server_error(self, status: int) -> Response:
        # nginx in front of Django answers 5xx with an HTML page, not JSON.
        return Response(status, f"<html><body><h1>{status}</h1>Server Error</body></html>", {})

    def not_found(self, request: Request) -> Response:
        return Response(404, NOT_FOUND)

    # -- helpers for tests and benchmarks ------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def seed_contacts(self, n: int, *, list_id: int | None = None, prefix: str = "+39333") -> list[int]:
        """n contacts with distinct phones (fast: no HTTP)."""
        ids = []
        created = _now()
        for i in range(n):
            cid = self.next_id()
            self.contacts[cid] = {
                "id": cid, "first_name": f"Name{i}", "last_name": f"Surname{i}",
                "phone": f"{prefix}{i:07d}", "email": f"user{i}@example.com", "language": "it",
                "has_invalid_phone": False, "chat_link": f"https://spoki.app/chats/{uuidlib.uuid4().hex[:20]}",
                "created_datetime": created, "contactfield_set": [], "tag_set": [], "is_blocked": False,
            }  # fmt: skip
            if list_id is not None:
                self.memberships.setdefault(list_id, set()).add(cid)
            ids.append(cid)
        return ids

    def seed_lists(self, *names: str) -> list[int]:
        ids = []
        for name in names:
            lid = self.next_id()
            self.lists[lid] = {"id": lid, "name": name, "color": None, "created_datetime": _now()}
            self.memberships.setdefault(lid, set())
            ids.append(lid)
        return ids

    def seed_custom_field(
        self, code: str, label: str = "", field_type: int = 1, *, used: bool = False
    ) -> int:
        fid = self.next_id()
        self.custom_fields[fid] = {
            "id": fid,
            "label": label or code,
            "code": code,
            "field_type": field_type,
            "example": "",
            "is_linked": used,
        }
        return fid

    def seed_template(self, name: str, body: str = "Ciao %%FIRST_NAME%%!", *, language: str = "it",
                      status: str = "APPROVED", used_in_automation: bool = False) -> int:  # fmt: skip
        """A template in the list/retrieve shape (header/body/footer/button_set)."""
        tid = self.next_id()
        self.templates[tid] = {
            "id": tid, "name": name, "category": "MARKETING", "subcategory": "CLASSIC", "integration": -1,
            "is_approved": status == "APPROVED", "is_favorite": False,
            "customfield_set": sorted({f"%%{c}%%" for c in _codes(body)}),
            "templatelocalization_set": [{
                "id": self.next_id(), "language": language, "status": status, "rejection_reason": None,
                "header_template_component": None,
                "body_template_component": {"component_type": "body", "format": None, "text": body},
                "footer_template_component": None, "templatebuttoncomponent_set": [],
                "templatecarouselcomponent_set": [], "default_header_media": None,
            }],
            "template_groups": [], "_used": used_in_automation,
        }  # fmt: skip
        return tid

    def seed_automation(self, name: str = "Welcome") -> dict:
        aid = self.next_id()
        trigger = uuidlib.uuid4()
        self.automations[aid] = {
            "id": aid, "name": name, "first_message_text": "Ciao %%FIRST_NAME%%",
            "webhook_set": [{"uuid": str(trigger), "link": f"https://app.spoki.it/wh/ap/{trigger}/",
                             "secret": uuidlib.uuid4().hex, "is_active": True}],
            "created_datetime": _now(), "updated_datetime": _now(), "is_active": True,
        }  # fmt: skip
        return self.automations[aid]

    def seed_campaign(self, name: str = "Campaign", status: Any = "Scheduled", **counters: int) -> int:
        cid = self.next_id()
        automation = self.seed_automation(f"{name} automation")
        self.campaigns[cid] = {
            "id": cid,
            "name": name,
            "status": status,
            "automation": automation["id"],
            "lists": [],
            "scheduled_datetime": (dt.datetime.now(ROME) + dt.timedelta(days=1)).isoformat(),
            "created_datetime": _now(),
            **counters,
        }
        return cid

    def complete_campaign(self, cid: int, *, sent: int = 0, read: int = 0, failed: int = 0) -> dict:
        """Run a scheduled campaign to its end: Spoki's counters filled in, status the integer 4 the
        retrieve example shows on a finished campaign (the listing shows the word "Completed")."""
        campaign = self.campaigns[cid]
        members = set().union(*(self.memberships.get(lid, set()) for lid in campaign["lists"])) if campaign["lists"] else set()
        campaign.update({
            "status": 4, "contacts_count": len(members), "automation_started": len(members),
            "automation_completed": len(members) - failed, "automation_failed": failed,
            "messages_sent": sent, "messages_read": read, "messages_failed": failed,
        })  # fmt: skip
        return campaign

    def webhook(self, event: str, data: dict, *, version: int = 2) -> dict:
        """An envelope as Spoki posts it."""
        envelope: dict[str, Any] = {"version": version, "event": event, "data": data}
        if version == 2:
            envelope["event_uuid"] = str(uuidlib.uuid4())
            envelope["timestamp"] = dt.datetime.now(dt.UTC).timestamp()
        return envelope

    @staticmethod
    def signed(envelope: dict | bytes, secret: str, *, version: int = 2, timestamp: int | None = None):
        """(headers, body) for a webhook delivery signed the way Spoki signs it."""
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        headers = {"Content-Type": "application/json", "User-Agent": f"Spoki/{version}",
                   "X-SPOKI-ACCOUNT": "13128334"}  # fmt: skip
        if version == 2:
            headers["X-Spoki-Signature"] = sign_v2(body, secret, timestamp)
        else:
            headers["X-SPOKI-HASH"] = sign_v1(body, secret)
        return headers, body

    # -- paging ----------------------------------------------------------------------------------

    def _page(self, request: Request, rows: list, *, max_size: int | None = None, default: int | None = None):
        max_size = max_size or self.MAX_PAGE_SIZE
        try:
            size = min(max_size, max(1, int(request.arg("page_size") or default or self.DEFAULT_PAGE_SIZE)))
            page = 1 if self.ignore_paging else int(request.arg("page") or 1)
        except ValueError:
            return Response(404, {"detail": "Invalid page."})
        start = (page - 1) * size
        if page < 1 or (start >= len(rows) and page != 1 and not self.lie_about_next):
            return Response(404, {"detail": "Invalid page."})
        chunk = rows[start : start + size]
        if self.short_pages_at is not None and page == 2:
            chunk = chunk[: self.short_pages_at]
        has_next = start + size < len(rows) or self.lie_about_next or self.ignore_paging
        host = request.header("host", "api.spoki.com")
        base = f"http://{host}{request.path}"
        query = {k: v[-1] for k, v in request.query.items()}

        def link(number: int) -> str:
            return f"{base}?{urlencode({**query, 'page': number})}"

        return Response(200, {
            "count": len(rows),
            "next": link(page + 1) if has_next else None,
            "previous": (link(page - 1) if page > 2 else f"{base}?{urlencode({k: v for k, v in query.items() if k != 'page'})}") if page > 1 else None,
            "results": chunk,
        })  # fmt: skip

    # -- accounts, reports, channels, tags ----------------------------------------------------------------

    @route("GET", API + "/accounts/")
    def accounts(self, request):
        return Response(200, [self.account])  # a bare array, as documented

    @route("GET", API + "/accounts/{id}/")
    def account_detail(self, request):
        if request.params["id"] != str(self.account["id"]):
            return Response(404, NOT_FOUND)
        return Response(200, {**self.account, "channels": list(self.channels.values())})

    @route("GET", API + "/accounts/phone/{phone}/")
    def account_by_phone(self, request):
        wanted = request.params["phone"].replace("%2B", "+").lstrip("+")
        for channel in self.channels.values():
            if str(channel.get("identifier", "")).lstrip("+") == wanted:
                return Response(
                    200, {**self.account, "matched_channel_id": channel["id"], "channel": channel}
                )
        if self.account["phone"].lstrip("+") == wanted:
            return Response(200, {**self.account, "matched_channel_id": None, "channel": None})
        return Response(404, {"detail": "Channel not found"})

    @route("GET", API + "/accounts/{id}/current_report/")
    def current_report(self, request):
        sent = len(self.messages)
        return Response(200, {
            "account": self.account["id"], "period_start": dt.date.today().replace(day=1).isoformat(),
            "contacted_contacts": len({m["phone"] for m in self.messages}), "template_message_count": sent,
            "free_message_count": 0, "incoming_message_count": 0, "exchanged_messages": sent,
            "sent_message_count": sent, "delivered_message_count": 0, "read_message_count": 0,
            "conversation_count": 0,
        })  # fmt: skip

    @route("GET", API + "/reports/")
    def reports(self, request):
        return self._page(request, [self.current_report(request).body])

    @route("GET", API + "/channel/")
    def channel_list(self, request):
        # page_size defaults to 15 and is capped at 30 here (documented).
        return self._page(request, list(self.channels.values()), max_size=30, default=15)

    @route("GET", API + "/channel/{id}/")
    def channel_detail(self, request):
        row = self.channels.get(_int(request.params["id"]))
        return (
            Response(200, row)
            if row
            else Response(404, {"detail": "No AccountChannel matches the given query."})
        )

    @route("GET", API + "/tags/")
    def tag_list(self, request):
        return self._page(request, list(self.tags.values()))

    # -- contacts -------------------------------------------------------------------------------------------

    def _contact_full(self, contact: dict) -> dict:
        out = {k: v for k, v in contact.items() if k not in ("is_blocked", "_operators")}
        out["list_set"] = [
            {**self.lists[lid], "contacts_count": len(self.memberships.get(lid, ()))}
            for lid, members in self.memberships.items()
            if contact["id"] in members and lid in self.lists
        ]
        return out

    @staticmethod
    def _contact_short(contact: dict) -> dict:
        keys = (
            "id",
            "first_name",
            "last_name",
            "phone",
            "email",
            "has_invalid_phone",
            "language",
            "chat_link",
        )
        return {k: contact.get(k) for k in keys}

    @route("GET", API + "/contacts/")
    def contact_list(self, request):
        rows = list(self.contacts.values())
        search = (request.arg("search") or "").lower()
        if search:
            rows = [
                c for c in rows
                if any(search in str(c.get(k) or "").lower() for k in ("phone", "email", "first_name", "last_name", "language"))
            ]  # fmt: skip
        for key in ("phone", "email", "language", "first_name", "last_name"):
            if request.arg(key):
                rows = [c for c in rows if str(c.get(key) or "") == request.arg(key)]
        if request.arg("is_blocked") in ("true", "false"):
            rows = [c for c in rows if c.get("is_blocked") == (request.arg("is_blocked") == "true")]
        if request.arg("tag"):
            rows = [c for c in rows if any(str(t["id"]) == request.arg("tag") for t in c["tag_set"])]
        response = self._page(request, rows)
        if response.status == 200:
            response.body["results"] = [self._contact_full(c) for c in response.body["results"]]
        return response

    @route("GET", API + "/contacts/{id}/")
    def contact_detail(self, request):
        contact = self.contacts.get(_int(request.params["id"]))
        return Response(200, self._contact_full(contact)) if contact else Response(404, NOT_FOUND)

    def _apply_custom_fields(self, contact: dict, payload: dict) -> None:
        values = dict(payload.get("custom_fields") or {})
        for item in payload.get("contactfield_set") or []:  # the sync_all example's id form
            field = self.custom_fields.get(_int(item.get("field")))
            if field:
                values[field["code"]] = item.get("value")
        by_code = {f["code"]: f for f in self.custom_fields.values()}
        current = {item["field"]: item for item in contact["contactfield_set"]}
        for code, value in values.items():
            field = by_code.get(code)
            if field is None:  # Spoki creates unknown codes on the fly in automations; here too
                field = self.custom_fields[self.seed_custom_field(code)]
                by_code[code] = field
            current[field["id"]] = {"id": self.next_id(), "field": field["id"], "visual_code": f"%%{code}%%",
                                    "value": value, "value_datetime": None}  # fmt: skip
        contact["contactfield_set"] = list(current.values())

    def _contact_by_phone(self, number: str) -> dict | None:
        """The contact with this phone: an index checked against the contacts themselves (tests
        delete and seed contacts directly), rebuilt when it does not cover the book, so a bulk start of 100,000 contacts
        is not 100,000 scans of the book."""
        cid = self._phone_index.get(number)
        contact = self.contacts.get(cid) if cid is not None else None
        if contact is not None and contact["phone"] == number:
            return contact
        if contact is None and cid is None and len(self._phone_index) == len(self.contacts):
            return None  # the index covers every contact: a new phone
        self._phone_index = {c["phone"]: c["id"] for c in self.contacts.values()}
        cid = self._phone_index.get(number)
        return self.contacts.get(cid) if cid is not None else None

    def _upsert(self, payload: Any) -> tuple[dict | None, dict | None]:
        """(contact, error) for one ContactInput, matched by phone."""
        if not isinstance(payload, dict):
            return None, {"non_field_errors": ["Invalid data. Expected a dictionary."]}
        number = str(payload.get("phone") or "").strip()
        if not number:
            return None, {"phone": ["This field is required."]}
        contact = self._contact_by_phone(number)
        if contact is None:
            cid = self.next_id()
            contact = {
                "id": cid, "first_name": "", "last_name": "", "phone": number, "email": None, "language": "it",
                "has_invalid_phone": not number.startswith("+"), "chat_link": f"https://spoki.app/chats/{cid:x}",
                "created_datetime": _now(), "contactfield_set": [], "tag_set": [], "is_blocked": False,
            }  # fmt: skip
            self.contacts[cid] = contact
            self._phone_index[number] = cid
        for key in ("first_name", "last_name", "email", "language"):
            if key in payload:
                contact[key] = payload[key]
        self._apply_custom_fields(contact, payload)
        return contact, None

    @route("POST", API + "/contacts/sync/")
    def contact_sync(self, request):
        contact, error = self._upsert(request.json)
        return Response(400, error) if error else Response(200, self._contact_short(contact))

    @route("POST", API + "/contacts/sync_all/")
    def contact_sync_all(self, request):
        rows = request.json
        if not isinstance(rows, list):
            return problem(400, *BAD_BODY, "Invalid data type")
        if len(rows) > 500:
            return problem(400, *BAD_BODY, "Too many contacts. Max 500 allowed.")
        errors, contacts = [], []
        for index, row in enumerate(rows):
            contact, error = self._upsert(row)
            if error:
                errors.append({"index": index, **error})
            else:
                contacts.append(self._contact_short(contact))
        return Response(200, {"errors": errors, "contacts": contacts})

    @route("PATCH", API + "/contacts/{id}/")
    def contact_update(self, request):
        contact = self.contacts.get(_int(request.params["id"]))
        if contact is None:
            return Response(404, NOT_FOUND)
        payload = request.json or {}
        if "phone" in payload and not payload["phone"]:
            return Response(400, {"phone": ["This field may not be blank."]})
        for key in ("first_name", "last_name", "email", "language", "phone"):
            if key in payload:
                contact[key] = payload[key]
        if "is_blocked" in payload:
            contact["is_blocked"] = bool(payload["is_blocked"])
        self._apply_custom_fields(contact, payload)
        keys = (
            "id",
            "first_name",
            "last_name",
            "phone",
            "email",
            "language",
            "contactfield_set",
            "chat_link",
        )
        return Response(200, {k: contact.get(k) for k in keys})

    @route("DELETE", API + "/contacts/{id}/")
    def contact_delete(self, request):
        cid = _int(request.params["id"])
        if self.contacts.pop(cid, None) is None:
            return Response(404, NOT_FOUND)
        for members in self.memberships.values():
            members.discard(cid)
        return Response(204)

    def _operator(self, request, add: bool) -> Response:
        contact = self.contacts.get(_int(request.params["id"]))
        if contact is None:
            return Response(404, NOT_FOUND)
        email = (request.json or {}).get("email") if isinstance(request.json, dict) else None
        if not email:
            return problem(400, *BAD_BODY, "No email specified")
        operators = contact.setdefault("_operators", set())
        if add:
            operators.add(email)
        elif email not in operators:
            return problem(400, *BAD_BODY, "No operator found with this email")
        else:
            operators.discard(email)
        return Response(200, {})

    @route("POST", API + "/contacts/{id}/add_operator/")
    def add_operator(self, request):
        return self._operator(request, add=True)

    @route("POST", API + "/contacts/{id}/remove_operator/")
    def remove_operator(self, request):
        return self._operator(request, add=False)

    # -- custom fields -----------------------------------------------------------------------------------------

    @route("GET", API + "/custom-fields/")
    def custom_field_list(self, request):
        rows = list(self.custom_fields.values())
        if request.arg("search"):
            needle = request.arg("search").lower()
            rows = [f for f in rows if needle in f["label"].lower() or needle in f["code"].lower()]
        return self._page(request, rows)

    @route("GET", API + "/custom-fields/{id}/")
    def custom_field_detail(self, request):
        field = self.custom_fields.get(_int(request.params["id"]))
        return Response(200, field) if field else Response(404, NOT_FOUND)

    @route("POST", API + "/custom-fields/")
    def custom_field_create(self, request):
        payload = request.json or {}
        errors = {k: ["This field is required."] for k in ("label", "code") if not payload.get(k)}
        if errors:
            return Response(400, errors)
        reserved = {
            "FIRST_NAME",
            "FIRSTNAME",
            "LAST_NAME",
            "LASTNAME",
            "EMAIL",
            "PHONE",
            "ACCOUNT_NAME",
            "LANGUAGE",
        }
        if payload["code"] in reserved or any(
            f["code"] == payload["code"] for f in self.custom_fields.values()
        ):
            return Response(400, {"code": ["custom field with this code already exists."]})
        fid = self.seed_custom_field(payload["code"], payload["label"], int(payload.get("field_type") or 1))
        self.custom_fields[fid]["example"] = payload.get("example", "")
        return Response(201, self.custom_fields[fid])

    @route("PATCH", API + "/custom-fields/{id}/")
    def custom_field_update(self, request):
        field = self.custom_fields.get(_int(request.params["id"]))
        if field is None:
            return Response(404, NOT_FOUND)
        for key in ("label", "example"):
            if key in (request.json or {}):
                field[key] = request.json[key]
        return Response(200, field)

    @route("DELETE", API + "/custom-fields/{id}/")
    def custom_field_delete(self, request):
        fid = _int(request.params["id"])
        field = self.custom_fields.get(fid)
        if field is None:
            return Response(404, NOT_FOUND)
        if field.get("is_linked"):
            return Response(403, {"code": "spoki::3005", "status": 403, "datail":
                "The custom field cannot be deleted because it is present in one or more automations"})  # fmt: skip
        del self.custom_fields[fid]
        return Response(204)

    # -- lists ------------------------------------------------------------------------------------------------

    def _list_out(self, lid: int) -> dict:
        return {**self.lists[lid], "contacts_count": len(self.memberships.get(lid, ()))}

    @route("GET", API + "/lists/")
    def list_list(self, request):
        rows = [self._list_out(lid) for lid in self.lists]
        if request.arg("search"):
            rows = [r for r in rows if request.arg("search").lower() in r["name"].lower()]
        return self._page(request, rows)

    @route("GET", API + "/lists/{id}/")
    def list_detail(self, request):
        lid = _int(request.params["id"])
        return Response(200, self._list_out(lid)) if lid in self.lists else Response(404, NOT_FOUND)

    @route("POST", API + "/lists/")
    def list_create(self, request):
        name = (request.json or {}).get("name")
        if not name:
            return Response(400, {"name": ["This field is required."]})
        (lid,) = self.seed_lists(name)
        return Response(201, self._list_out(lid))

    @route("DELETE", API + "/lists/{id}/")
    def list_delete(self, request):
        lid = _int(request.params["id"])
        if self.lists.pop(lid, None) is None:
            return Response(404, NOT_FOUND)
        self.memberships.pop(lid, None)
        return Response(204)

    @route("POST", API + "/lists/{id}/sync_contacts/")
    def list_sync_contacts(self, request):
        lid = _int(request.params["id"])
        if lid not in self.lists:
            return Response(404, NOT_FOUND)
        rows = (request.json or {}).get("contacts")
        if not isinstance(rows, list):
            return problem(400, *BAD_BODY, "Invalid data type")
        if len(rows) > 500:
            return problem(400, *BAD_BODY, "Too many contacts. Max 500 allowed.")
        for row in rows:
            contact, error = self._upsert(row)
            if error:
                return Response(400, error)
            self.memberships.setdefault(lid, set()).add(contact["id"])
        return Response(200, {})

    @route("POST", API + "/lists/{id}/remove_contacts/")
    def list_remove_contacts(self, request):
        lid = _int(request.params["id"])
        if lid not in self.lists:
            return Response(404, NOT_FOUND)
        keys = {str(k) for k in (request.json or {}).get("contacts") or []}
        members = self.memberships.setdefault(lid, set())
        for cid in list(members):
            contact = self.contacts.get(cid) or {}
            if {str(cid), str(contact.get("email")), str(contact.get("phone"))} & keys:
                members.discard(cid)
        return Response(200, {})

    @route("POST", API + "/lists/{id}/remove_all_contacts/")
    def list_remove_all(self, request):
        lid = _int(request.params["id"])
        if lid not in self.lists:
            return Response(404, NOT_FOUND)
        self.memberships[lid] = set()
        return Response(200, {})

    # -- templates ------------------------------------------------------------------------------------------------

    @staticmethod
    def _template_out(template: dict, *, read_shape: bool) -> dict:
        """Create/update/clone answer the *_template_component shape; list/retrieve the header/body one."""
        out = {k: v for k, v in template.items() if not k.startswith("_")}
        if read_shape:
            out.pop("integration", None)
            out.pop("subcategory", None)
            out.pop("template_groups", None)
            out["templatelocalization_set"] = [
                {"language": loc["language"], "status": loc["status"], "rejection_reason": loc["rejection_reason"],
                 "header": loc.get("header_template_component"), "body": loc.get("body_template_component"),
                 "footer": loc.get("footer_template_component"),
                 "button_set": [{k: b.get(k) for k in ("order", "button_type", "text", "phone_number", "url")}
                                for b in loc.get("templatebuttoncomponent_set") or []],
                 "default_header_media": loc.get("default_header_media")}
                for loc in template["templatelocalization_set"]
            ]  # fmt: skip
        return out

    def _template_from_body(self, payload: dict, existing: dict | None = None) -> dict | Response:
        if not payload.get("name") and existing is None:
            return Response(400, {"name": ["This field is required."]})
        if payload.get("name") and any(
            t["name"] == payload["name"] and t is not existing for t in self.templates.values()
        ):
            return Response(400, {"error": "Template name already exists"})
        template = existing or {
            "id": self.next_id(), "integration": -1, "is_approved": False, "is_favorite": False,
            "templatelocalization_set": [], "template_groups": [], "_used": False,
        }  # fmt: skip
        for key in ("name", "category", "subcategory", "template_groups"):
            if key in payload:
                template[key] = payload[key]
        old = {loc["id"]: loc for loc in template["templatelocalization_set"]}
        locs = []
        for loc in payload.get("templatelocalization_set") or []:
            current = old.get(loc.get("id")) or {"id": self.next_id()}
            current.update({
                "language": loc.get("language", current.get("language", "en")),
                "status": "DRAFT", "rejection_reason": None,
                "default_header_media": loc.get("default_header_media"),
                "header_template_component": _strip(loc.get("header_template_component")),
                "body_template_component": _strip(loc.get("body_template_component")),
                "footer_template_component": _strip(loc.get("footer_template_component")),
                "templatebuttoncomponent_set": [
                    {k: v for k, v in b.items() if k != "component_type"} | {"shortlink_code": None}
                    for b in loc.get("templatebuttoncomponent_set") or []
                ],
                "templatecarouselcomponent_set": loc.get("templatecarouselcomponent_set") or [],
            })  # fmt: skip
            locs.append(current)
        if locs or existing is None:
            template["templatelocalization_set"] = locs
        texts = " ".join(
            (loc.get("body_template_component") or {}).get("text") or ""
            for loc in template["templatelocalization_set"]
        )
        template["customfield_set"] = sorted({f"%%{c}%%" for c in _codes(texts)})
        template["is_approved"] = any(
            loc["status"] == "APPROVED" for loc in template["templatelocalization_set"]
        )
        return template

    @route("GET", API + "/templates/")
    def template_list(self, request):
        rows = list(self.templates.values())
        if request.arg("search"):
            needle = request.arg("search").lower()
            rows = [t for t in rows if needle in t["name"].lower() or needle == str(t["id"])]
        response = self._page(request, rows)
        if response.status == 200:
            response.body["results"] = [
                self._template_out(t, read_shape=True) for t in response.body["results"]
            ]
        return response

    @route("GET", API + "/templates/{id}/")
    def template_detail(self, request):
        template = self.templates.get(_int(request.params["id"]))
        if template is None:
            return Response(404, NOT_FOUND)
        return Response(200, self._template_out(template, read_shape=True))

    @route("POST", API + "/templates/")
    def template_create(self, request):
        template = self._template_from_body(request.json or {})
        if isinstance(template, Response):
            return template
        self.templates[template["id"]] = template
        return Response(201, self._template_out(template, read_shape=False))

    @route("PATCH", API + "/templates/{id}/")
    def template_update(self, request):
        template = self.templates.get(_int(request.params["id"]))
        if template is None:
            return Response(404, NOT_FOUND)
        template = self._template_from_body(request.json or {}, template)
        if isinstance(template, Response):
            return template
        return Response(200, self._template_out(template, read_shape=False))

    @route("GET", API + "/templates/{id}/clone/")
    def template_clone(self, request):
        source = self.templates.get(_int(request.params["id"]))
        if source is None:
            return Response(404, NOT_FOUND)
        copy = json.loads(json.dumps(source))
        copy["id"] = self.next_id()
        suffix = 1
        while any(t["name"] == f"{source['name']}_{suffix}" for t in self.templates.values()):
            suffix += 1
        copy.update(
            name=f"{source['name']}_{suffix}", is_approved=False, is_favorite=False, template_groups=[]
        )
        for loc in copy["templatelocalization_set"]:
            loc.update(id=self.next_id(), status="DRAFT", rejection_reason=None)
        copy["_used"] = False
        self.templates[copy["id"]] = copy
        return Response(201, self._template_out(copy, read_shape=False))

    @route("POST", API + "/templates/{id}/submit/")
    def template_submit(self, request):
        template = self.templates.get(_int(request.params["id"]))
        if template is None:
            return Response(404, NOT_FOUND)
        for loc in template["templatelocalization_set"]:
            if loc["status"] == "DRAFT":
                loc["status"] = "PENDING"
        return Response(204)

    @route("POST", API + "/templates/{id}/back_to_draft/")
    def template_back_to_draft(self, request):
        template = self.templates.get(_int(request.params["id"]))
        if template is None:
            return Response(404, NOT_FOUND)
        for loc in template["templatelocalization_set"]:
            loc.update(status="DRAFT", rejection_reason=None)
        template["is_approved"] = False
        return Response(200, {"status": "ok"})

    @route("DELETE", API + "/templates/{id}/")
    def template_delete(self, request):
        tid = _int(request.params["id"])
        template = self.templates.get(tid)
        if template is None:
            return Response(404, NOT_FOUND)
        if template.get("_used") and request.arg("force_delete") != "true":
            return problem(403, "spoki::403", "Access denied",
                           "The template is used in one or more automations")  # fmt: skip
        del self.templates[tid]
        return Response(200, '"delete success"')  # a JSON string, as documented

    def approve(self, template_id: int) -> None:
        """Simulate WhatsApp approving every pending localization."""
        template = self.templates[template_id]
        for loc in template["templatelocalization_set"]:
            if loc["status"] in ("PENDING", "WAITING_FOR_REVIEW"):
                loc["status"] = "APPROVED"
        template["is_approved"] = True

    # -- campaigns ------------------------------------------------------------------------------------------------

    def _campaign_full(self, campaign: dict) -> dict:
        automation = self.automations.get(campaign["automation"]) or {
            "id": campaign["automation"],
            "name": "",
        }
        counters = ("contacts_count", "automation_started", "automation_completed", "automation_failed",
                    "automation_valid_failed", "automation_interacted_with", "messages_sent",
                    "messages_received", "messages_read", "messages_failed")  # fmt: skip
        out = {k: v for k, v in campaign.items() if k not in counters}
        out["automation"] = {"id": automation["id"], "name": automation["name"]}
        out["lists"] = [self._list_out(lid) for lid in campaign["lists"] if lid in self.lists]
        out["other_contacts"] = []
        for key in counters:
            out[key] = campaign.get(key, 0)
        return out

    @staticmethod
    def _campaign_short(campaign: dict) -> dict:
        keys = ("id", "name", "status", "automation", "lists", "scheduled_datetime", "created_datetime")
        return {k: campaign.get(k) for k in keys}

    def _campaign_errors(self, payload: dict, *, partial: bool) -> Response | None:
        when = payload.get("scheduled_datetime")
        if when is not None or not partial:
            try:
                parsed = dt.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
            except ValueError:
                return problem(400, *BAD_BODY, "Invalid scheduled_datetime format.")
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            if parsed <= dt.datetime.now(dt.UTC):
                return problem(400, *BAD_BODY, "The scheduled_datetime is valid but is not after now.")
        if (not partial or "status" in payload) and payload.get("status") not in ("Draft", "Scheduled"):
            return problem(400, *BAD_BODY, "Invalid or no status specified")
        if not partial and not (payload.get("automation") in self.automations or payload.get("template")):
            return problem(400, *BAD_BODY, "Invalid or no automation specified. Use 'automation_id'")
        if payload.get("template") and _int(payload["template"]) not in self.templates:
            return problem(400, *BAD_BODY, "Invalid or no automation specified. Use 'automation_id'")
        for lid in payload.get("lists") or []:
            if _int(lid) not in self.lists:
                return problem(400, *BAD_BODY, "Invalid list_id specified")
        return None

    @route("GET", API + "/campaigns/")
    def campaign_list(self, request):
        rows = list(self.campaigns.values())
        response = self._page(request, rows)
        if response.status == 200:
            response.body["results"] = [self._campaign_full(c) for c in response.body["results"]]
        return response

    @route("GET", API + "/campaigns/{id}/")
    def campaign_detail(self, request):
        campaign = self.campaigns.get(_int(request.params["id"]))
        return Response(200, self._campaign_full(campaign)) if campaign else Response(404, NOT_FOUND)

    @route("POST", API + "/campaigns/")
    def campaign_create(self, request):
        payload = request.json or {}
        error = self._campaign_errors(payload, partial=False)
        if error:
            return error
        automation = payload.get("automation")
        if not automation:  # with a template Spoki builds the automation itself
            automation = self.seed_automation(f"{payload['name']} ({payload['template']})")["id"]
        cid = self.next_id()
        self.campaigns[cid] = {
            "id": cid, "name": payload.get("name", ""), "status": payload["status"], "automation": automation,
            "lists": [_int(x) for x in payload.get("lists") or []],
            "scheduled_datetime": payload["scheduled_datetime"], "created_datetime": _now(),
        }  # fmt: skip
        return Response(201, self._campaign_short(self.campaigns[cid]))

    @route("PATCH", API + "/campaigns/{id}/")
    def campaign_update(self, request):
        campaign = self.campaigns.get(_int(request.params["id"]))
        if campaign is None:
            return Response(404, NOT_FOUND)
        if campaign["status"] not in ("Draft", "Scheduled"):
            return problem(
                400, *BAD_BODY, "Invalid status. The campaign is not in a valid state to be updated."
            )
        payload = request.json or {}
        error = self._campaign_errors(payload, partial=True)
        if error:
            return error
        for key in ("name", "status", "scheduled_datetime", "automation"):
            if key in payload:
                campaign[key] = payload[key]
        if "lists" in payload:
            campaign["lists"] = [_int(x) for x in payload["lists"]]
        return Response(200, self._campaign_short(campaign))

    @route("DELETE", API + "/campaigns/{id}/")
    def campaign_delete(self, request):
        cid = _int(request.params["id"])
        campaign = self.campaigns.get(cid)
        if campaign is None:
            return Response(404, NOT_FOUND)
        if campaign["status"] in ("Processing", 3):
            return problem(
                403, "spoki::403", "Access denied", "You can't delete a campaign while it's processing"
            )
        del self.campaigns[cid]
        return Response(204)

    # -- automations -----------------------------------------------------------------------------------------------

    @route("GET", API + "/automations/")
    def automation_list(self, request):
        rows = list(self.automations.values())
        if request.arg("is_active") in ("true", "false"):
            rows = [a for a in rows if a["is_active"] == (request.arg("is_active") == "true")]
        if request.arg("search"):
            rows = [a for a in rows if request.arg("search").lower() in a["name"].lower()]
        return self._page(request, rows)

    @route("GET", API + "/automations/{id}/")
    def automation_detail(self, request):
        automation = self.automations.get(_int(request.params["id"]))
        return Response(200, automation) if automation else Response(404, NOT_FOUND)

    @route("POST", API + "/automations/")
    def automation_create(self, request):
        payload = request.json or {}
        if not payload.get("name"):
            return Response(
                400, {"error_code": "INVALID_REQUEST_BODY", "detail": {"name": ["This field is required."]}}
            )
        automation = self.seed_automation(payload["name"])
        automation["is_active"] = payload.get("is_active", True)
        return Response(201, automation)

    @route("GET", API + "/automations/{id}/custom-fields-used/")
    def automation_fields(self, request):
        automation = self.automations.get(_int(request.params["id"]))
        if automation is None:
            return Response(404, NOT_FOUND)
        codes = _codes(automation.get("first_message_text") or "")
        return Response(200, {
            "raw_codes": [f"%%{c}%%" for c in codes], "contact_fields": ["phone", "first_name"],
            "custom_fields": [f for f in self.custom_fields.values() if f["code"] in codes],
            "static_custom_fields": [],
        })  # fmt: skip

    def _trigger(self, request) -> tuple[dict | None, Response | None]:
        for automation in self.automations.values():
            for hook in automation["webhook_set"]:
                if hook["uuid"] == request.params["uuid"]:
                    if (request.json or {}).get("secret") != hook["secret"]:
                        return None, Response(403, {"detail": "Invalid secret."})
                    return automation, None
        return None, Response(404, NOT_FOUND)

    def _start(self, automation: dict, row: dict) -> Response | None:
        contact, error = self._upsert(row)  # starting an automation upserts the contact
        if error:
            return Response(400, error)
        self.automation_runs.append({"automation": automation["id"], "contact": contact["id"],
                                     "metadata": row.get("metadata") or {}})  # fmt: skip
        return None

    @route("POST", "/wh/ap/{uuid}/")
    def automation_start(self, request):
        automation, denied = self._trigger(request)
        if denied:
            return denied
        error = self._start(automation, request.json)
        return error or Response(200, b"", {"Content-Type": "text/html; charset=utf-8"})

    @route("POST", "/wh/ap/{uuid}/bulk/")
    def automation_start_bulk(self, request):
        automation, denied = self._trigger(request)
        if denied:
            return denied
        rows = (request.json or {}).get("contacts") or []
        if len(rows) > 500:
            return problem(400, *BAD_BODY, "Too many contacts. Max 500 allowed.")
        for row in rows:
            error = self._start(automation, row)
            if error:
                return error
        return Response(200, b"", {"Content-Type": "text/html; charset=utf-8"})

    # -- messages ------------------------------------------------------------------------------------------------

    @route("POST", API + "/messages/send/")
    def message_send(self, request):
        payload = request.json or {}
        kind = payload.get("type")
        if kind not in ("Template", "Message", "Note"):
            return Response(400, {"type": [f'"{kind}" is not a valid choice.']})
        if not payload.get("phone"):
            return Response(400, {"phone": ["This field is required."]})
        if kind == "Template":
            template = self.templates.get(_int(payload.get("template")))
            if template is None:
                return problem(400, *BAD_BODY, "Invalid template specified")
            if not template["is_approved"]:
                return problem(400, *BAD_BODY, "The template is not approved")
        elif not payload.get("text"):
            return Response(400, {"text": ["This field is required."]})
        if payload.get("channel_id") is not None and _int(payload["channel_id"]) not in self.channels:
            return Response(404, {"code": "spoki::404", "detail": "Channel not found"})
        message = {
            "id": self.next_id(), "uuid": uuidlib.uuid4().hex, "type": kind, "phone_number": payload["phone"],
            "phone": payload["phone"], "status": "queued", "attributes": {"channel": payload.get("channel_id")},
            "created_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"), "request": payload,
        }  # fmt: skip
        self.messages.append(message)
        if self.send_response is not None:
            return Response(202, self.send_response)
        return Response(202, {"uuid": message["uuid"], "status": "queued"})

    @route("GET", API + "/messages/")
    def message_list(self, request):
        rows = self.messages
        if request.arg("channel_id"):
            if _int(request.arg("channel_id")) not in self.channels:
                return Response(404, {"code": "spoki::404", "detail": "Channel not found"})
            rows = [m for m in rows if str(m["attributes"].get("channel")) == request.arg("channel_id")]
        response = self._page(request, rows)
        if response.status == 200:
            keys = ("id", "type", "phone_number", "status", "attributes", "created_at")
            response.body["results"] = [{k: m[k] for k in keys} for m in response.body["results"]]
        return response

    def outbound_event(self, message: dict, send_status: str = "Delivered", *, version: int = 1) -> dict:
        """The message.outbound webhook Spoki would post for a message this fake accepted."""
        data = {
            "uuid": message["uuid"], "delivered_datetime": _now() if send_status == "Delivered" else None,
            "sent_datetime": _now(), "direction": "Outbound", "type": "Message", "content_type": "Text",
            "from_phone": "+3933312345678", "is_hidden": False, "send_status": send_status,
            "send_error_message": None, "error_code": None, "error_url": None,
            "to_phone": message["phone"], "text": message["request"].get("text", ""),
            "timestamp": int(dt.datetime.now(dt.UTC).timestamp() * 1000), "created_datetime": _now(),
            "mediamessage_set": [], "metadata": message["request"].get("metadata") or {},
        }  # fmt: skip
        return self.webhook("message.outbound", data, version=version)

    # -- media ----------------------------------------------------------------------------------------------------

    @route("GET", API + "/media/")
    def media_list(self, request):
        return self._page(request, [m for m in self.media.values() if not m["is_deleted"]])

    @route("GET", API + "/media/{id}/")
    def media_detail(self, request):
        row = self.media.get(_int(request.params["id"]))
        return Response(200, row) if row and not row["is_deleted"] else Response(404, NOT_FOUND)

    @route("POST", API + "/media/")
    def media_create(self, request):
        payload = request.json or {}
        errors = {k: ["This field is required."] for k in ("title", "external_url") if not payload.get(k)}
        if errors:
            return Response(400, errors)
        mid = self.next_id()
        self.media[mid] = {
            "id": mid, "title": payload["title"], "media": None, "content_type": payload.get("content_type"),
            "format_type": payload.get("format_type"), "external_url": payload["external_url"],
            "external_id": None, "is_deleted": False,
        }  # fmt: skip
        return Response(201, self.media[mid])

    @route("PATCH", API + "/media/{id}/")
    def media_update(self, request):
        row = self.media.get(_int(request.params["id"]))
        if row is None or row["is_deleted"]:
            return Response(404, NOT_FOUND)
        if "title" in (request.json or {}):
            row["title"] = request.json["title"]
        return Response(200, row)

    @route("DELETE", API + "/media/{id}/")
    def media_delete(self, request):
        row = self.media.get(_int(request.params["id"]))
        if row is None or row["is_deleted"]:
            return Response(404, NOT_FOUND)
        row["is_deleted"] = True  # `is_deleted` suggests a soft delete
        return Response(204)

    @route("GET", API + "/tags/{id}/")
    def tag_detail(self, request):
        row = self.tags.get(_int(request.params["id"]))
        return Response(200, row) if row else Response(404, NOT_FOUND)

    # -- external webhooks ---------------------------------------------------------------------------------------

    @route("GET", API + "/external-webhooks/")
    def webhook_list(self, request):
        return Response(200, self.webhooks)  # a bare array, as documented

    @route("POST", API + "/external-webhooks/")
    def webhook_create(self, request):
        payload = request.json or {}
        errors = {k: ["This field is required."] for k in ("event", "url") if not payload.get(k)}
        if errors:
            return Response(400, errors)
        row = {"id": self.next_id(), "version": payload.get("version", 1), "url": payload["url"],
               "event": payload["event"], "is_active": payload.get("is_active", True),
               "account": self.account["id"], "secret": "whsec_" + uuidlib.uuid4().hex,
               "requested_expands": [], "approved_expands": []}  # fmt: skip
        self.webhooks.append(row)
        return Response(201, row)

    def _webhook(self, request):
        wanted = _int(request.params["id"])
        return next((w for w in self.webhooks if w["id"] == wanted), None)

    @route("PATCH", API + "/external-webhooks/{id}/")
    def webhook_update(self, request):
        row = self._webhook(request)
        if row is None:
            return Response(404, NOT_FOUND)
        payload = request.json or {}
        if payload.get("version", row["version"]) < row["version"]:
            return Response(400, {"version": ["The version cannot be downgraded."]})
        if payload.get("version", row["version"]) > row["version"]:
            row["secret"] = "whsec_" + uuidlib.uuid4().hex  # upgrading V1→V2 generates a new secret
        row.update({k: payload[k] for k in ("url", "event", "is_active", "version") if k in payload})
        return Response(200, row)

    @route("POST", API + "/external-webhooks/{id}/rotate_secret/")
    def webhook_rotate_secret(self, request):
        row = self._webhook(request)
        if row is None:
            return Response(404, NOT_FOUND)
        row["secret"] = "whsec_" + uuidlib.uuid4().hex  # the old one is invalid immediately
        return Response(200, row)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _codes(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"%%([A-Za-z0-9_]+)%%", text or "")))


def _strip(component: Any) -> Any:
    if isinstance(component, dict):
        return {k: v for k, v in component.items() if k != "parameters"}
    return component

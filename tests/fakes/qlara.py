"""A stateful fake of the Qlara Platform API (Agile Telecom), written from the seeds.

Same host-relative paths as the real thing (`/api/partner-gateway/v1/...`,
`/api/v1/partner-gateway/...` for subscription/credit, `/api/message-server/...`
and `/api/services/sms/...` for sending and templates), the same auth
(`X-Api-Key`, or HTTP Basic), and the vendor's quirks:

- listings page with `page`/`limit` and answer bare arrays (the Postman
  collection); set `fake.paging = "offset"` to answer the markdown guide's
  `{data, pagination{offset, limit, total}}` instead (max 100 per page).
  WhatsApp templates answer a Spring page (`content`, `totalElements`).
- `fake.ignore_paging = True` answers the first page whatever is asked;
  `fake.lying_total = N` makes the offset envelope claim N records.
- contact create/update answer `{contacts, errors}`; bulk deletes, membership
  removal and association deletes answer 200 with the two-character body `""`.
- errors carry MD's `{status, error, message, timestamp, path}`; the send APIs
  answer validation failures in JSend (`{"status": "fail", "data": {...}}`).
- 429 carries MD's body with `retryAfter`, plus `Retry-After` and the
  `X-RateLimit-*` headers; `fake.rate_limit = QlaraFake.DOCUMENTED_LIMIT`
  enforces the production limit.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import math
import re
import time
import uuid
from typing import Any

from .base import FakeAPI, Request, Response, route

P = "/api/partner-gateway/v1"
S = "/api/v1/partner-gateway"
MS = "/api/message-server"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SNAKE = re.compile(r"^[a-z0-9_]+$")
SENDING_MODES = ("SMS", "RCS", "RCS_SMS", "WHATSAPP", "WHATSAPP_SMS", "WHATSAPP_RCS", "WHATSAPP_RCS_SMS")
REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip
SMS_PRICE = 0.05
RCS_PRICE = 0.06
WHATSAPP_PRICE = 0.08


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def csv_ints(value: str | None) -> list[int]:
    out = []
    for part in (value or "").split(","):
        part = part.strip()
        if part.isdigit():
            out.append(int(part))
    return out


def truthy(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.lower() in ("1", "true", "yes")


def route_order(pattern: str) -> tuple:
    segments = pattern.strip("/").split("/")
    return (-len(segments), [1 if seg.startswith("{") else 0 for seg in segments])


class QlaraFake(FakeAPI):
    name = "qlara"
    DOCUMENTED_LIMIT = (1000, 60.0)  # production plan, per API key (MD "Rate Limits")
    BURST_LIMIT = (50, 1.0)

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        username: str = "",
        password: str = "",
        credit: float = 150.50,
        paging: str = "page",
        company_id: int = 1,
    ):
        super().__init__()
        self.api_key = api_key
        self.username = username
        self.password = password
        self.company_id = company_id
        self.paging = paging
        self.ignore_paging = False
        self.lying_total: int | None = None
        self.contact_limit: int | None = None
        self.sort_fields: set[str] | None = None  # None: any field sorts
        self.max_page_size = 1000  # PM's documented maximum `limit`; lower it to act like MD's 100
        self.credit = {"credit": credit, "frozenCredit": 0.0}
        self.subscription = {
            "planCode": "PRO_MONTHLY", "status": "ACTIVE",
            "billingPeriodStart": "2025-03-01T00:00:00+01:00", "billingPeriodEnd": "2025-03-31T23:59:59+01:00",
            "nextRenew": "2025-04-01T00:00:00+01:00", "canceled": False, "nextPlan": None,
        }  # fmt: skip
        self.contacts: dict[int, dict] = {}
        self.lists: dict[int, dict] = {}
        self.associations: dict[int, tuple[int, int]] = {}
        self.membership: dict[tuple[int, int], int] = {}
        self.list_members: dict[int, dict[int, None]] = {}
        self.contact_lists: dict[int, set[int]] = {}
        self.campaigns: dict[int, dict] = {}
        self.wa_templates: dict[int, dict] = {}
        self.rcs_templates: dict[int, dict] = {}
        self.messages: dict[str, dict] = {}
        self.webhook: dict | None = None
        self.api_keys: dict[int, dict] = {
            1: {"id": 1, "companyId": company_id, "userId": 10, "apiKey": api_key, "username": "api-user",
                "trafficType": 0, "operations": ["SMS", "RCS", "WHATSAPP", "CONTACTS", "MESSAGES"],
                "creationDate": "2025-03-10 14:30:00.000+0100", "lastUpdateDate": "2025-03-10"},
        }  # fmt: skip
        self.sms_senders = [{"id": 1, "sender": "MYCOMPANY", "status": "APPROVED"}]
        self.rcs_agents = [{"id": 10, "agentId": "ag-2_ci5xnlho_agent", "name": "My Brand"}]
        self.wa_numbers = [
            {
                "id": 5,
                "phoneNumber": "+393209998877",
                "displayName": "My Business",
                "onboardingScope": "RECEIVE_AND_SEND",
            }
        ]
        self.exports: dict[int, dict] = {}
        self.media: dict[int, dict] = {}
        self.assignable_users = [{"id": 4521, "fullName": "Anna Bianchi", "profilePicture": ""}]
        self.conversations: dict[int, dict] = {}
        self.conversation_messages: dict[int, list[dict]] = {}
        self.socials = {"facebook": {"platform": "facebook", "username": "mybrand", "profileName": "My Brand",
                                     "profilePicture": "", "connectionDate": "2025-01-01", "disconnected": False,
                                     "pageCount": 1, "pages": []}}  # fmt: skip
        self._ids = {kind: itertools.count(start) for kind, start in
                     (("contact", 1), ("list", 1), ("assoc", 1), ("campaign", 1001), ("wa", 1),
                      ("rcs", 1), ("key", 2), ("export", 1), ("media", 1), ("chat", 500),
                      ("chatmsg", 7950))}  # fmt: skip
        # Literal segments before parameters (/contacts/list before /contacts/{id}, /campaigns/stats
        # before /campaigns/{id}): the base class orders by pattern length, which a short literal
        # such as "list" loses against "{id}".
        self._routes.sort(key=lambda r: route_order(r[2]._route[1]))

    # -- framework hooks ------------------------------------------------------------------------

    def error(self, status: int, message: str, request: Request | None = None) -> Response:
        """MD's error object."""
        return Response(status, {
            "status": status, "error": REASONS.get(status, "Error"), "message": message,
            "timestamp": now_iso(), "path": request.path if request else "",
        })  # fmt: skip

    def jsend_fail(self, **reasons: str) -> Response:
        """The send APIs' validation errors."""
        return Response(400, {"status": "fail", "data": reasons})

    def authenticate(self, request: Request) -> Response | None:
        key = request.header("x-api-key")
        if key:
            return None if key == self.api_key else self.error(401, "Invalid API key", request)
        auth = request.header("authorization")
        if auth.lower().startswith("basic ") and self.username:
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user, password = "", ""
            if user == self.username and password == self.password:
                return None
            return self.error(401, "Invalid username or password", request)
        return self.error(401, "Missing authentication credentials", request)

    def retry_hint(self, seconds: int) -> Response:
        reset = int(time.time()) + int(seconds)
        return Response(
            429,
            {"status": 429, "error": "Too Many Requests",
             "message": f"Rate limit exceeded. Please retry after {seconds} seconds.", "retryAfter": seconds},
            {"Retry-After": str(seconds), "X-RateLimit-Limit": str((self.rate_limit or self.DOCUMENTED_LIMIT)[0]),
             "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )  # fmt: skip

    def server_error(self, status: int) -> Response:
        return self.error(
            status, "Upstream service temporarily unavailable" if status == 502 else "Internal error"
        )

    def not_found(self, request: Request) -> Response:
        return self.error(404, f"No endpoint {request.method} {request.path}", request)

    def dispatch(self, request: Request) -> Response:
        sort = request.arg("sortBy")
        if sort and self.sort_fields is not None and sort not in self.sort_fields:
            # The real API's accepted sortBy values are undocumented; tests can narrow them.
            self.journal.append(request)
            return self.error(400, f"Invalid sortBy '{sort}'", request)
        response = super().dispatch(request)
        response.headers.setdefault("X-Request-Id", uuid.uuid4().hex[:16])
        return response

    # -- fast helpers for tests and benchmarks -----------------------------------------------------

    def seed_contacts(self, n: int, *, prefix: str = "+3933", list_id: int | None = None) -> list[int]:
        """n valid contacts (optionally all in one list); returns their ids."""
        stamp = now_iso()
        ids = []
        with self.lock:
            for _ in range(n):
                cid = next(self._ids["contact"])
                self.contacts[cid] = self._contact_record(
                    cid, {"firstName": f"Name{cid}", "lastName": f"Surname{cid}",
                          "phoneNumbers": [f"{prefix}{cid:08d}"], "mainEmail": f"c{cid}@example.com"}, stamp,
                )  # fmt: skip
                ids.append(cid)
                if list_id is not None:
                    self._associate(list_id, cid)
        return ids

    def seed_lists(self, n: int = 1, *, names: list[str] | None = None) -> list[int]:
        out = []
        with self.lock:
            for i in range(n):
                lid = next(self._ids["list"])
                self.lists[lid] = self._list_record(lid, {"name": names[i] if names else f"List {lid}"})
                out.append(lid)
        return out

    def seed_template(self, channel: str = "whatsapp", *, status: str = "APPROVED", **fields) -> int:
        with self.lock:
            if channel == "rcs":
                tid = next(self._ids["rcs"])
                self.rcs_templates[tid] = {"id": tid, "name": f"rcs_{tid}", "description": "", "type": "TEXT",
                                           "body": {"text": "Ciao {name}!"}, "enabled": 1,
                                           "createdAt": now_iso(), **fields}  # fmt: skip
            else:
                tid = next(self._ids["wa"])
                self.wa_templates[tid] = {"id": tid, "name": f"template_{tid}", "lang": "it", "category": "MARKETING",
                                          "body": "Ciao {firstName}!", "status": status, "phoneNumberId": 5,
                                          "createdAt": now_iso(), **fields}  # fmt: skip
        return tid

    def seed_conversation(
        self, phone: str = "+39333123456", channel: str = "WHATSAPP", texts=("Ciao!",)
    ) -> int:
        """An inbox conversation with inbound messages."""
        with self.lock:
            chat = next(self._ids["chat"])
            self.conversations[chat] = {
                "id": chat, "companyId": self.company_id, "hasUnreadMessages": True, "lastCheckedAt": None,
                "userName": phone, "phoneNumber": phone, "profilePicture": "", "unreadCount": len(texts),
                "lastMessageText": texts[-1] if texts else "", "lastMessageDate": now_iso(), "socialMedia": channel,
                "companyProfileName": "My Brand", "companyProfilePicture": "", "companyProfileId": "1",
                "companyPhoneNumber": "+393209998877", "companyPhoneNumberType": channel,
                "whatsappWindowExpire": now_iso(), "assignedUserId": None, "archived": False,
            }  # fmt: skip
            self.conversation_messages[chat] = [self._chat_message(t, inbound=True) for t in texts]
            return chat

    def _chat_message(self, text: str, *, inbound: bool) -> dict:
        return {"id": next(self._ids["chatmsg"]), "text": text, "template": {}, "isUnsupported": False,
                "isRead": not inbound, "replyMessage": None, "reaction": None, "createdAt": now_iso(),
                "attachments": [], "isUserReply": inbound, "status": "DELIVERED", "isEdited": False}  # fmt: skip

    def deliver(self, message_id: str, status: str = "DELIVERED") -> dict:
        """Move a sent message on (SENT → DELIVERED → READ, or ERROR)."""
        with self.lock:
            record = self.messages[message_id]
            record["deliveryStatus"] = status
            record["deliveryStatusDescription"] = {
                "DELIVERED": "Message delivered",
                "READ": "Message read",
            }.get(status, status.title())
            if status in ("DELIVERED", "READ"):
                record["deliveryDate"] = record["deliveryDate"] or now_iso()
            if status == "READ":
                record["readDate"] = now_iso()
            return record

    def webhook_payload(self, message_id: str, event: str = "DELIVERY", delivered: bool = True) -> dict:
        """The callback Qlara would POST for this message, in MD's per-channel shape."""
        record = self.messages[message_id]
        channel = record["channel"]
        if channel == "SMS":
            return {"channel": "SMS", "eventType": "DELIVERY", "messageId": message_id,
                    "statusCode": 3 if delivered else 6, "statusDescription": "Delivered" if delivered else "Not delivered",
                    "price": SMS_PRICE, "numPart": 1, "totalParts": 1, "timestamp": now_iso()}  # fmt: skip
        body = {"channel": channel, "eventType": event, "messageId": message_id,
                "destination": record["destination"], "eventDate": now_iso()}  # fmt: skip
        if event == "DELIVERY":
            body.update(
                statusCode=3 if delivered else 6, description="delivered" if delivered else "undeliverable"
            )
        return body

    def complete_campaign(
        self, campaign_id: int, *, success: int | None = None, failed: int = 0, read: int = 0
    ):
        with self.lock:
            c = self.campaigns[campaign_id]
            total = c["totalDestinations"]
            success = total - failed if success is None else success
            c.update(status=3, totalSent=total, totalSuccess=success, totalFailed=failed, totalRead=read,
                     endDate=now_iso(), isUpdatable=False)  # fmt: skip
            prefix = {"SMS": "sms", "RCS": "rcs"}.get(c["sendingMode"].split("_")[0], "wa")
            c[f"{prefix}Sent"], c[f"{prefix}Success"], c[f"{prefix}Failed"] = total, success, failed
            self.credit["frozenCredit"] = max(0.0, self.credit["frozenCredit"] - float(c["totalPrice"] or 0))
            self.credit["credit"] -= float(c["totalPrice"] or 0)

    # -- paging ---------------------------------------------------------------------------------------

    def page_of(self, request: Request, rows, *, default_limit: int = 10, max_limit: int | None = None,
                size_param: str = "limit", spring: bool = False) -> Response:  # fmt: skip
        """Slice `rows` the way the current paging mode does, in the matching envelope."""
        rows = list(rows) if not isinstance(rows, list) else rows
        if self.paging == "offset" and not spring:
            limit = min(int(request.arg("limit") or 20), 100)
            offset = 0 if self.ignore_paging else int(request.arg("offset") or 0)
            total = self.lying_total if self.lying_total is not None else len(rows)
            return Response(200, {"data": rows[offset : offset + limit],
                                  "pagination": {"offset": offset, "limit": limit, "total": total}})  # fmt: skip
        limit = min(int(request.arg(size_param) or default_limit), max_limit or self.max_page_size)
        page = 0 if self.ignore_paging else int(request.arg("page") or 0)
        chunk = rows[page * limit : (page + 1) * limit]
        if spring:
            return Response(200, {"content": chunk, "page": page, "size": limit, "totalElements": len(rows),
                                  "totalPages": math.ceil(len(rows) / limit) if limit else 0})  # fmt: skip
        return Response(200, chunk)

    @staticmethod
    def sort_rows(rows: list[dict], request: Request, default: str) -> list[dict]:
        key = request.arg("sortBy") or default
        reverse = (request.arg("sortOrder") or "asc").lower() == "desc"
        if key == "id" and not reverse:
            return rows  # already in id order
        return sorted(
            rows, key=lambda r: (r.get(key) is None, str(r.get(key) or "").lower(), r["id"]), reverse=reverse
        )

    # -- contacts ---------------------------------------------------------------------------------------

    def _contact_record(self, cid: int, data: dict, stamp: str) -> dict:
        record = {
            "id": cid, "fullName": "", "firstName": "", "lastName": "", "gender": None, "phoneNumbers": [],
            "emailAddresses": [], "mainEmail": None, "addresses": [], "country": None, "city": None,
            "birthday": None, "notes": None, "companyName": None, "organization": None, "tags": [],
            "customField1": None, "customField2": None, "customField3": None, "fkIdCompany": self.company_id,
            "isValid": True, "isTest": False, "mobilePhoneNumber": None, "communicationSupported": ["SMS"],
            "numCampaignSent": 0, "createdAt": stamp, "updatedAt": stamp,
        }  # fmt: skip
        self._apply_contact(record, data)
        return record

    def _apply_contact(self, record: dict, data: dict) -> None:
        data = dict(data)
        # MD's spelling of the same fields.
        if "phone" in data and "phoneNumbers" not in data and data["phone"]:
            data["phoneNumbers"] = [data["phone"]]
        for md, pm in (("birthDate", "birthday"), ("nation", "country"), ("company", "companyName")):
            if md in data and pm not in data:
                data[pm] = data[md]
        if "address" in data and "addresses" not in data:
            data["addresses"] = [data["address"]] if data["address"] else []
        writable = set(record) - {"id", "fkIdCompany", "isValid", "mobilePhoneNumber", "communicationSupported",
                                  "numCampaignSent", "createdAt", "updatedAt"}  # fmt: skip
        writable |= {"middleName", "prefix", "suffix", "nickname", "jobTitle", "website", "companyMail",
                     "companyPhone", "companyFax", "completeCompanyAddress", "fiscalCode", "sector",
                     "referenceContact", "source", "leadType", "stage", "channel", "owner"}  # fmt: skip
        for key, value in data.items():
            if key in writable:
                record[key] = value
        if not record.get("fullName") or (
            "fullName" not in data and ("firstName" in data or "lastName" in data)
        ):
            record["fullName"] = " ".join(p for p in (record.get("firstName"), record.get("lastName")) if p)
        phones = record.get("phoneNumbers") or []
        record["mobilePhoneNumber"] = phones[0] if phones else None
        if record.get("mainEmail") and not record.get("emailAddresses"):
            record["emailAddresses"] = [record["mainEmail"]]

    def _contact_out(self, record: dict) -> dict:
        return {**record, "listIds": sorted(self.contact_lists.get(record["id"], ()))}

    def _validate_contact(self, data: Any, request: Request, creating: bool) -> Response | None:
        if not isinstance(data, dict):
            return self.error(400, "The request body must be a JSON object.", request)
        phones = data.get("phoneNumbers") or ([data["phone"]] if data.get("phone") else [])
        if creating and not phones and not data.get("mainEmail") and not data.get("emailAddresses"):
            return self.error(400, "Provide at least a phone number or an email address.", request)
        for phone in phones:
            if not isinstance(phone, str) or not E164.match(phone):
                return self.error(
                    400, f"Invalid phone number '{phone}': use E.164, e.g. +393331234567.", request
                )
        return None

    def _filtered_contacts(self, request: Request, rows=None):
        rows = self.contacts.values() if rows is None else rows
        filters = []
        if request.arg("id"):
            wanted = int(request.arg("id"))
            filters.append(lambda c: c["id"] == wanted)
        if request.arg("phoneNumber"):
            phone = request.arg("phoneNumber")
            filters.append(lambda c: phone in (c.get("phoneNumbers") or []))
        if request.arg("email"):
            email = request.arg("email").lower()
            filters.append(lambda c: email in [e.lower() for e in c.get("emailAddresses") or []])
        if request.arg("search"):
            term = request.arg("search").lower()
            filters.append(lambda c: term in " ".join(str(c.get(k) or "") for k in
                                                      ("fullName", "mainEmail", "city", "notes")).lower())  # fmt: skip
        if request.arg("listIds"):
            wanted_lists = set(csv_ints(request.arg("listIds")))
            filters.append(lambda c: bool(self.contact_lists.get(c["id"], set()) & wanted_lists))
        if request.arg("notListIds"):
            unwanted = set(csv_ints(request.arg("notListIds")))
            filters.append(lambda c: not (self.contact_lists.get(c["id"], set()) & unwanted))
        if truthy(request.arg("isTest")) is not None:
            flag = truthy(request.arg("isTest"))
            filters.append(lambda c: c.get("isTest") is flag)
        if not filters:
            return list(rows)
        return [c for c in rows if all(f(c) for f in filters)]

    @route("GET", P + "/contacts")
    def list_contacts(self, request: Request) -> Response:
        rows = self.sort_rows(self._filtered_contacts(request), request, "fullName")
        response = self.page_of(request, rows)
        return self._contacts_page(response)

    def _contacts_page(self, response: Response) -> Response:
        if isinstance(response.body, list):
            response.body = [self._contact_out(c) for c in response.body]
        else:
            response.body["data"] = [self._contact_out(c) for c in response.body["data"]]
        return response

    @route("POST", P + "/contacts")
    def create_contact(self, request: Request) -> Response:
        data = request.json
        invalid = self._validate_contact(data, request, creating=True)
        if invalid:
            return invalid
        if self.contact_limit is not None and len(self.contacts) >= self.contact_limit:
            return self.error(400, "Contact quota exhausted: upgrade the plan or delete contacts.", request)
        cid = next(self._ids["contact"])
        self.contacts[cid] = self._contact_record(cid, data, now_iso())
        return Response(201, {"contacts": [self._contact_out(self.contacts[cid])], "errors": []})

    @route("GET", P + "/contacts/{id}")
    def get_contact(self, request: Request) -> Response:
        record = self.contacts.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Contact {request.params['id']} not found", request)
        return Response(200, self._contact_out(record))

    @route("PUT", P + "/contacts/{id}")
    def update_contact(self, request: Request) -> Response:
        record = self.contacts.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Contact {request.params['id']} not found", request)
        data = request.json
        invalid = self._validate_contact(data, request, creating=False)
        if invalid:
            return invalid
        self._apply_contact(record, data)  # partial: omitted fields stay
        record["updatedAt"] = now_iso()
        return Response(200, {"contacts": [self._contact_out(record)], "errors": []})

    @route("DELETE", P + "/contacts")
    def delete_contacts(self, request: Request) -> Response:
        ids = csv_ints(request.arg("ids"))
        body = request.json if request.body else None
        if not ids and isinstance(body, list):  # MD: a JSON array of ids
            ids = [int(i) for i in body]
        if ids:
            doomed = [i for i in ids if i in self.contacts]
        elif request.arg("notIds") is not None:
            keep = set(csv_ints(request.arg("notIds")))
            doomed = [i for i in self.contacts if i not in keep]
        else:
            return self.error(400, "Give 'ids' (or 'notIds').", request)
        for cid in doomed:
            del self.contacts[cid]
            for lid in self.contact_lists.pop(cid, set()):
                assoc = self.membership.pop((lid, cid), None)
                self.associations.pop(assoc, None)
                self.list_members.get(lid, {}).pop(cid, None)
        return Response(200, '""')

    @route("POST", P + "/contacts/upload")
    def upload_contacts(self, request: Request) -> Response:
        if not request.header("content-type").startswith("multipart/form-data"):
            return self.error(400, "Upload the file as multipart/form-data.", request)
        return Response(200, '""')

    # -- contact lists -------------------------------------------------------------------------------

    def _list_record(self, lid: int, data: dict) -> dict:
        stamp = now_iso()
        filters = data.get("filters") or []
        return {"id": lid, "name": data["name"], "description": data.get("description") or "",
                "filters": [f if isinstance(f, str) else f"{f.get('field')} {f.get('operand')} {f.get('value')}"
                            for f in filters],
                "fkIdCompany": self.company_id, "isTest": bool(data.get("isTest", False)), "isDeleted": False,
                "createdAt": stamp, "updatedAt": stamp}  # fmt: skip

    def _list_out(self, record: dict) -> dict:
        return {**record, "numContact": len(self.list_members.get(record["id"], {}))}

    def _live_list(self, raw_id: str) -> dict | None:
        record = self.lists.get(int(raw_id)) if raw_id.isdigit() else None
        return None if record is None or record["isDeleted"] else record

    @route("GET", P + "/contacts/list")
    def list_lists(self, request: Request) -> Response:
        rows = list(self.lists.values())
        if not truthy(request.arg("includeDeleted")):
            rows = [r for r in rows if not r["isDeleted"]]
        if request.arg("search"):
            rows = [r for r in rows if request.arg("search").lower() in r["name"].lower()]
        if request.arg("id"):
            wanted = set(csv_ints(request.arg("id")))
            rows = [r for r in rows if r["id"] in wanted]
        if request.arg("contactIds"):
            contacts = set(csv_ints(request.arg("contactIds")))
            rows = [r for r in rows if contacts & set(self.list_members.get(r["id"], {}))]
        response = self.page_of(request, self.sort_rows(rows, request, "name"))
        if isinstance(response.body, list):
            response.body = [self._list_out(r) for r in response.body]
        else:
            response.body["data"] = [self._list_out(r) for r in response.body["data"]]
        return response

    @route("POST", P + "/contacts/list")
    def create_list(self, request: Request) -> Response:
        data = request.json
        if not isinstance(data, dict) or not (data.get("name") or "").strip():
            return self.error(400, "The list 'name' is required.", request)
        lid = next(self._ids["list"])
        self.lists[lid] = self._list_record(lid, data)
        return Response(201, self._list_out(self.lists[lid]))

    @route("GET", P + "/contacts/list/{id}")
    def get_list(self, request: Request) -> Response:
        record = self.lists.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Contact list {request.params['id']} not found", request)
        return Response(200, self._list_out(record))

    @route("PUT", P + "/contacts/list/{id}")
    def update_list(self, request: Request) -> Response:
        record = self._live_list(request.params["id"])
        if record is None:
            return self.error(404, f"Contact list {request.params['id']} not found", request)
        data = request.json or {}
        if "name" in data and not (data["name"] or "").strip():
            return self.error(400, "The list 'name' cannot be empty.", request)
        for key in ("name", "description", "isTest"):
            if key in data:
                record[key] = data[key]
        record["updatedAt"] = now_iso()
        return Response(200, self._list_out(record))

    @route("DELETE", P + "/contacts/list")
    def delete_lists(self, request: Request) -> Response:
        ids = csv_ints(request.arg("ids"))
        body = request.json if request.body else None
        if not ids and isinstance(body, list):
            ids = [int(i) for i in body]
        if not ids:
            return self.error(400, "'ids' is required.", request)
        for lid in ids:
            record = self.lists.get(lid)
            if record is None:
                continue
            record["isDeleted"] = True  # soft: readable again with includeDeleted=true
            for cid in list(self.list_members.pop(lid, {})):
                self.associations.pop(self.membership.pop((lid, cid), None), None)
                self.contact_lists.get(cid, set()).discard(lid)
        return Response(200, '""')

    def _associate(self, lid: int, cid: int) -> int | None:
        if (lid, cid) in self.membership:
            return None  # idempotent: an existing association is kept
        assoc = next(self._ids["assoc"])
        self.membership[(lid, cid)] = assoc
        self.associations[assoc] = (lid, cid)
        self.list_members.setdefault(lid, {})[cid] = None
        self.contact_lists.setdefault(cid, set()).add(lid)
        return assoc

    def _membership_body(self, request: Request) -> tuple[list[int], list[int]] | Response:
        data = request.json if request.body else None
        if not isinstance(data, dict) or not data.get("listIds"):
            return self.error(400, "'listIds' is required and must not be empty.", request)
        list_ids = [int(i) for i in data["listIds"]]
        for lid in list_ids:
            if self._live_list(str(lid)) is None:
                return self.error(400, f"Contact list {lid} does not exist.", request)
        if data.get("allContacts"):
            excluded = {int(i) for i in data.get("excludeIdsAllContacts") or []}
            contact_ids = [cid for cid in self.contacts if cid not in excluded]
        elif not data.get("contactIds"):
            return self.error(400, "'contactIds' is required when 'allContacts' is false.", request)
        else:
            contact_ids = [int(i) for i in data["contactIds"] if int(i) in self.contacts]
        return list_ids, contact_ids

    @route("POST", P + "/contacts/list/contacts")
    def add_members(self, request: Request) -> Response:
        parsed = self._membership_body(request)
        if isinstance(parsed, Response):
            return parsed
        created = []
        for lid in parsed[0]:
            for cid in parsed[1]:
                assoc = self._associate(lid, cid)
                if assoc is not None:
                    created.append(assoc)
        return Response(201, created)

    @route("DELETE", P + "/contacts/list/contacts")
    def remove_members(self, request: Request) -> Response:
        parsed = self._membership_body(request)
        if isinstance(parsed, Response):
            return parsed
        for lid in parsed[0]:
            for cid in parsed[1]:
                assoc = self.membership.pop((lid, cid), None)
                if assoc is not None:
                    self.associations.pop(assoc, None)
                    self.list_members[lid].pop(cid, None)
                    self.contact_lists[cid].discard(lid)
        return Response(200, '""')

    @route("DELETE", P + "/contacts/list/contacts/{id}")
    def delete_association(self, request: Request) -> Response:
        assoc = int(request.params["id"]) if request.params["id"].isdigit() else -1
        pair = self.associations.pop(assoc, None)
        if pair is None:
            return self.error(404, f"Association {request.params['id']} not found", request)
        lid, cid = pair
        self.membership.pop(pair, None)
        self.list_members[lid].pop(cid, None)
        self.contact_lists[cid].discard(lid)
        return Response(200, '""')

    @route("GET", P + "/contacts/list/{id}/contacts")
    def list_members_of(self, request: Request) -> Response:
        if self._live_list(request.params["id"]) is None:
            return self.error(404, f"Contact list {request.params['id']} not found", request)
        lid = int(request.params["id"])
        rows = [self.contacts[cid] for cid in sorted(self.list_members.get(lid, {})) if cid in self.contacts]
        rows = self.sort_rows(self._filtered_contacts(request, rows), request, "fullName")
        return self._contacts_page(self.page_of(request, rows))

    # -- campaigns ----------------------------------------------------------------------------------------

    CAMPAIGN_FIELDS = ("name", "description", "sendingMode", "destinationType", "contactListIds", "destinations",
                       "smsSender", "smsBody", "rcsAgentId", "rcsTemplateId", "rcsTemplateType", "rcsTemplateBody",
                       "whatsappPhoneNumberId", "whatsappTemplateId", "whatsappMessageBody", "scheduledDate",
                       "readyToSend", "placeholderFields")  # fmt: skip

    def _campaign_record(self, cid: int, data: dict) -> dict:
        stamp = now_iso()
        record = {"id": cid, "userId": 10, "companyId": self.company_id, "creationDate": stamp,
                  "lastUpdateDate": stamp, "scheduledDate": None, "startDate": None, "endDate": None,
                  "status": 0, "destinationType": 1, "contactListIds": [], "destinations": [],
                  "readyToSend": False, "isUpdatable": True, "totalDestinations": 0, "totalPrice": 0,
                  "numOfDistinctContact": 0, "goalCalculated": False}  # fmt: skip
        for key in ("totalSent", "totalSuccess", "totalFailed", "totalRead", "totalFallback", "rcsSent",
                    "rcsPending", "rcsSuccess", "rcsFailed", "rcsRead", "smsSent", "smsPending", "smsSuccess",
                    "smsFailed", "smsFallback", "waSent", "waPending", "waSuccess", "waFailed", "waFallback",
                    "waRead"):  # fmt: skip
            record[key] = 0
        record.update({k: v for k, v in data.items() if k in self.CAMPAIGN_FIELDS})
        return record

    def _campaign_out(self, record: dict) -> dict:
        return {k: v for k, v in record.items() if k != "goalCalculated"}

    def _campaign(self, request: Request) -> dict | None:
        raw = request.params["id"]
        return self.campaigns.get(int(raw)) if raw.isdigit() else None

    @route("GET", P + "/campaigns")
    def list_campaigns(self, request: Request) -> Response:
        rows = list(self.campaigns.values())
        if truthy(request.arg("isDraft")) is not None:
            draft = truthy(request.arg("isDraft"))
            rows = [r for r in rows if (r["status"] == 0) is draft]
        if request.arg("search"):
            term = request.arg("search").lower()
            rows = [
                r
                for r in rows
                if term in (r.get("name") or "").lower() + (r.get("description") or "").lower()
            ]
        if (request.arg("direction") or "ASC").upper() == "DESC":
            rows.reverse()
        response = self.page_of(request, rows)
        if isinstance(response.body, list):
            response.body = [self._campaign_out(r) for r in response.body]
        else:
            response.body["data"] = [self._campaign_out(r) for r in response.body["data"]]
        return response

    @route("POST", P + "/campaigns")
    def create_campaign(self, request: Request) -> Response:
        data = request.json
        if not isinstance(data, dict) or not (data.get("name") or "").strip():
            return self.error(400, "The campaign 'name' is required.", request)
        if len(data["name"]) > 50:
            return self.error(400, "The campaign 'name' must be at most 50 characters.", request)
        if data.get("sendingMode") not in SENDING_MODES:
            return self.error(400, f"Invalid sendingMode '{data.get('sendingMode')}'.", request)
        cid = next(self._ids["campaign"])
        self.campaigns[cid] = self._campaign_record(cid, data)
        return Response(201, self._campaign_out(self.campaigns[cid]))

    @route("GET", P + "/campaigns/stats")
    def campaign_stats(self, request: Request) -> Response:
        for param in ("aggregateOn", "startDate", "endDate"):
            if not request.arg(param):
                return self.error(400, f"'{param}' is required.", request)
        if request.arg("aggregateOn") not in ("hour", "day", "week", "month"):
            return self.error(400, "'aggregateOn' must be hour, day, week or month.", request)
        buckets: dict[tuple[str, str], dict] = {}
        for c in self.campaigns.values():
            mode = c["sendingMode"]
            if request.arg("sendingMode") and not mode.startswith(request.arg("sendingMode")):
                continue
            day = c["creationDate"][:10]
            if not (request.arg("startDate") <= day <= request.arg("endDate")):
                continue
            bucket = buckets.setdefault((day, mode), {
                "timeBucket": f"{day}T00:00:00Z", "sendingMode": mode, "numMessageCampaigns": 0,
                "totalSent": 0, "totalSuccess": 0, "totalFailed": 0, "totalRead": 0,
            })  # fmt: skip
            bucket["numMessageCampaigns"] += 1
            for key in ("totalSent", "totalSuccess", "totalFailed", "totalRead"):
                bucket[key] += c[key]
        return self.page_of(request, [buckets[k] for k in sorted(buckets)])

    @route("GET", P + "/campaigns/{id}")
    def get_campaign(self, request: Request) -> Response:
        record = self._campaign(request)
        if record is None:
            return self.error(404, f"Campaign {request.params['id']} not found", request)
        return Response(200, self._campaign_out(record))

    @route("PUT", P + "/campaigns/{id}")
    def update_campaign(self, request: Request) -> Response:
        record = self._campaign(request)
        if record is None:
            return self.error(404, f"Campaign {request.params['id']} not found", request)
        if record["status"] not in (0, 1):
            return self.error(
                400, "Only draft or scheduled campaigns (status 0 or 1) can be updated.", request
            )
        data = request.json or {}
        if "sendingMode" in data and data["sendingMode"] not in SENDING_MODES:
            return self.error(400, f"Invalid sendingMode '{data['sendingMode']}'.", request)
        if any(k in data for k in ("contactListIds", "destinations", "sendingMode")):
            record["goalCalculated"] = False
        record.update({k: v for k, v in data.items() if k in self.CAMPAIGN_FIELDS})
        record["lastUpdateDate"] = now_iso()
        return Response(200, self._campaign_out(record))

    @route("DELETE", P + "/campaigns/{id}")
    def delete_campaign(self, request: Request) -> Response:
        record = self._campaign(request)
        if record is None or record["status"] not in (0, 1):
            return self.error(404, f"Campaign {request.params['id']} not found or not deletable", request)
        del self.campaigns[record["id"]]
        return Response(204)

    @route("POST", P + "/campaigns/{id}/calculateGoal")
    def calculate_goal(self, request: Request) -> Response:
        record = self._campaign(request)
        if record is None:
            return self.error(404, f"Campaign {request.params['id']} not found", request)
        if record.get("destinationType") == 2:
            recipients = len(set(record.get("destinations") or []))
        else:
            members: set[int] = set()
            for lid in record.get("contactListIds") or []:
                members |= set(self.list_members.get(int(lid), {}))
            recipients = len(members)
        unit = {"SMS": SMS_PRICE, "RCS": RCS_PRICE}.get(record["sendingMode"].split("_")[0], WHATSAPP_PRICE)
        record.update(totalDestinations=recipients, numOfDistinctContact=recipients,
                      totalPrice=round(recipients * unit, 4), goalCalculated=True)  # fmt: skip
        return Response(200, self._campaign_out(record))

    @route("GET", P + "/campaigns/{id}/price")
    def campaign_price(self, request: Request) -> Response:
        record = self._campaign(request)
        if record is None:
            return self.error(404, f"Campaign {request.params['id']} not found", request)
        return Response(200, self._campaign_out(record))

    @route("PUT", P + "/campaigns/{id}/confirm")
    def confirm_campaign(self, request: Request) -> Response:
        record = self._campaign(request)
        if record is None:
            return self.error(404, f"Campaign {request.params['id']} not found", request)
        mode = record["sendingMode"]
        problem = ""
        if record["status"] != 0:
            problem = "Only a draft campaign can be confirmed."
        elif not record["readyToSend"]:
            problem = "Set readyToSend=true before confirming."
        elif not record["goalCalculated"]:
            problem = "Calculate the campaign cost (calculateGoal) before confirming."
        elif mode.startswith("SMS") and not (record.get("smsSender") and record.get("smsBody")):
            problem = "SMS campaigns need smsSender and smsBody."
        elif mode.startswith("RCS") and not (record.get("rcsAgentId") and record.get("rcsTemplateId")):
            problem = "RCS campaigns need rcsAgentId and rcsTemplateId."
        elif mode.startswith("WHATSAPP") and not (
            record.get("whatsappPhoneNumberId") and record.get("whatsappTemplateId")
        ):
            problem = "WhatsApp campaigns need whatsappPhoneNumberId and whatsappTemplateId."
        elif record["totalDestinations"] <= 0:
            problem = "The campaign has no recipients."
        elif float(record["totalPrice"]) > self.credit["credit"] - self.credit["frozenCredit"]:
            problem = "Insufficient credit."
        if problem:
            return self.error(400, problem, request)
        record.update(status=1, isUpdatable=True, startDate=record.get("scheduledDate") or now_iso())
        self.credit["frozenCredit"] += float(record["totalPrice"])
        return Response(202, '""')

    # -- templates (message-server; MD only) ----------------------------------------------------------

    @route("GET", MS + "/whatsapp/templates")
    def list_wa_templates(self, request: Request) -> Response:
        rows = list(self.wa_templates.values())
        for param in ("category", "status"):
            if request.arg(param):
                rows = [r for r in rows if r.get(param) == request.arg(param)]
        if request.arg("phoneNumberId"):
            rows = [r for r in rows if str(r.get("phoneNumberId")) == request.arg("phoneNumberId")]
        return self.page_of(request, rows, default_limit=20, size_param="size", spring=True)

    def _wa_problem(self, data: dict, creating: bool) -> Response | None:
        if creating:
            for key in ("name", "lang", "category", "body"):
                if not data.get(key):
                    return self.error(400, f"'{key}' is required.")
        if "name" in data and not SNAKE.match(data["name"] or ""):
            return self.error(400, "Template names are lowercase letters, digits and underscores.")
        if "category" in data and data["category"] not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
            return self.error(400, "'category' must be MARKETING, UTILITY or AUTHENTICATION.")
        if data.get("headerText") and data.get("headerFormat"):
            return self.error(400, "'headerText' and 'headerFormat' exclude each other.")
        return None

    @route("POST", MS + "/whatsapp/templates")
    def create_wa_template(self, request: Request) -> Response:
        if not request.arg("phoneNumberId"):
            return self.error(400, "'phoneNumberId' is required.", request)
        data = request.json or {}
        problem = self._wa_problem(data, creating=True)
        if problem:
            return problem
        if any(t["name"] == data["name"] and t["lang"] == data["lang"] for t in self.wa_templates.values()):
            return self.error(
                409, f"A template named '{data['name']}' already exists in '{data['lang']}'.", request
            )
        tid = next(self._ids["wa"])
        self.wa_templates[tid] = {**data, "id": tid, "status": "PENDING",
                                  "phoneNumberId": int(request.arg("phoneNumberId")), "createdAt": now_iso()}  # fmt: skip
        return Response(201, self.wa_templates[tid])

    @route("GET", MS + "/whatsapp/templates/{id}")
    def get_wa_template(self, request: Request) -> Response:
        record = self.wa_templates.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Template {request.params['id']} not found", request)
        return Response(200, record)

    @route("PATCH", MS + "/whatsapp/templates/{id}")
    def patch_wa_template(self, request: Request) -> Response:
        record = self.wa_templates.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Template {request.params['id']} not found", request)
        data = request.json or {}
        problem = self._wa_problem(data, creating=False)
        if problem:
            return problem
        record.update({k: v for k, v in data.items() if k not in ("id", "status")})
        record["status"] = "PENDING"  # any change goes back to Meta for review
        return Response(200, record)

    @route("DELETE", MS + "/whatsapp/templates/{id}")
    def delete_wa_template(self, request: Request) -> Response:
        if (
            self.wa_templates.pop(int(request.params["id"]) if request.params["id"].isdigit() else -1, None)
            is None
        ):
            return self.error(404, f"Template {request.params['id']} not found", request)
        return Response(204)

    @route("GET", MS + "/rcs/templates")
    def list_rcs_templates(self, request: Request) -> Response:
        rows = list(self.rcs_templates.values())
        if request.arg("type"):
            rows = [r for r in rows if r["type"] == request.arg("type")]
        if request.arg("enabled") in ("0", "1"):
            rows = [r for r in rows if str(r.get("enabled")) == request.arg("enabled")]
        return self.page_of(request, rows, default_limit=20)

    def _rcs_problem(self, data: dict) -> Response | None:
        if not data.get("name"):
            return self.error(400, "'name' is required.")
        if data.get("type") not in ("TEXT", "CARD", "CAROUSEL"):
            return self.error(400, "'type' must be TEXT, CARD or CAROUSEL.")
        body = data.get("body")
        if not isinstance(body, dict):
            return self.error(400, "'body' is required.")
        if data["type"] == "TEXT" and not body.get("text"):
            return self.error(400, "TEXT templates need body.text.")
        if data["type"] == "CARD" and not (body.get("card") or {}).get("media"):
            return self.error(400, "CARD templates need body.card.media.")
        if body.get("fallbackWhatsApp") and not body.get("fallbackSms"):
            return self.error(400, "'fallbackSms' is required when 'fallbackWhatsApp' is present.")
        return None

    @route("POST", MS + "/rcs/templates")
    def create_rcs_template(self, request: Request) -> Response:
        data = request.json or {}
        problem = self._rcs_problem(data)
        if problem:
            return problem
        tid = next(self._ids["rcs"])
        self.rcs_templates[tid] = {**data, "id": tid, "enabled": 1, "createdAt": now_iso()}
        return Response(201, self.rcs_templates[tid])

    @route("GET", MS + "/rcs/templates/{id}")
    def get_rcs_template(self, request: Request) -> Response:
        record = self.rcs_templates.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"RCS template {request.params['id']} not found", request)
        return Response(200, record)

    @route("PUT", MS + "/rcs/templates/{id}")
    def update_rcs_template(self, request: Request) -> Response:
        record = self.rcs_templates.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"RCS template {request.params['id']} not found", request)
        data = request.json or {}
        problem = self._rcs_problem({**record, **data})
        if problem:
            return problem
        record.update({k: v for k, v in data.items() if k != "id"})
        return Response(200, record)

    @route("DELETE", MS + "/rcs/templates/{id}")
    def delete_rcs_template(self, request: Request) -> Response:
        if (
            self.rcs_templates.pop(int(request.params["id"]) if request.params["id"].isdigit() else -1, None)
            is None
        ):
            return self.error(404, f"RCS template {request.params['id']} not found", request)
        return Response(204)

    # -- sending ----------------------------------------------------------------------------------------

    def _record_message(self, channel: str, data: dict, price: float) -> str:
        message_id = data.get("messageId") or str(uuid.uuid4())
        if not data.get("simulation"):
            self.messages[message_id] = {
                "customerMessageId": message_id, "channel": channel, "destination": data["destination"],
                "deliveryStatus": "SENT", "deliveryStatusDescription": "Message sent", "sendDate": now_iso(),
                "deliveryDate": None, "readDate": None, "campaignId": data.get("campaignId"),
                "phoneNumberId": data.get("phoneNumberId"), "agentId": data.get("agentId"), "request": data,
            }  # fmt: skip
            self.credit["credit"] -= price
        return message_id

    def _send_common(self, data: Any) -> Response | None:
        if not isinstance(data, dict):
            return self.jsend_fail(body="The request body must be a JSON object.")
        if not data.get("destination"):
            return self.jsend_fail(destination="'destination' can't be blank")
        if not E164.match(str(data["destination"])):
            return self.jsend_fail(destination="'destination' must be in international format")
        return None

    @route("POST", MS + "/sms/send")
    def send_sms(self, request: Request) -> Response:
        data = request.json
        problem = self._send_common(data)
        if problem:
            return problem
        if not data.get("sender"):
            return self.jsend_fail(sender="'sender' can't be blank")
        if not data.get("body"):
            return self.jsend_fail(body="'body' can't be blank")
        text = data["body"]
        for key, value in (data.get("placeholders") or {}).items():
            text = text.replace("{" + key + "}", str(value))
        unicode = any(ord(ch) > 127 for ch in text)
        parts = max(1, math.ceil(len(text) / (70 if unicode else 160)))
        message_id = self._record_message("SMS", data, SMS_PRICE * parts)
        return Response(200, {"messageId": message_id, "simulation": bool(data.get("simulation")),
                              "results": {"sms": {"accepted": True, "unicode": unicode, "parts": parts,
                                                  "reasons": []}}})  # fmt: skip

    @route("POST", MS + "/rcs/send")
    def send_rcs(self, request: Request) -> Response:
        data = request.json
        problem = self._send_common(data)
        if problem:
            return problem
        if not isinstance(data.get("agentId"), int):
            return self.jsend_fail(agentId="'agentId' must be an integer")
        if bool(data.get("body")) == bool(data.get("templateId")):
            return self.jsend_fail(body="exactly one of 'body' or 'templateId' is required")
        if data.get("templateId") and data["templateId"] not in self.rcs_templates:
            return self.jsend_fail(templateId=f"RCS template {data['templateId']} does not exist")
        if data.get("body") and data["body"].get("type") not in ("TEXT", "CARD", "CAROUSEL"):
            return self.jsend_fail(**{"body.type": "must be TEXT, CARD or CAROUSEL"})
        message_id = self._record_message("RCS", data, RCS_PRICE)
        return Response(200, {"messageId": message_id, "simulation": bool(data.get("simulation")),
                              "results": {"rcs": {"accepted": True, "reasons": []}, "sms": None}})  # fmt: skip

    @route("POST", MS + "/whatsapp/send")
    def send_whatsapp(self, request: Request) -> Response:
        data = request.json
        problem = self._send_common(data)
        if problem:
            return problem
        if not isinstance(data.get("phoneNumberId"), int):
            return self.jsend_fail(phoneNumberId="'phoneNumberId' must be an integer")
        if bool(data.get("template")) == bool(data.get("body")):
            return self.jsend_fail(template="exactly one of 'template' or 'body' is required")
        if data.get("fallbackRcs") and not data.get("fallbackSms"):
            return self.jsend_fail(fallbackSms="'fallbackSms' is required when 'fallbackRcs' is present")
        if data.get("fallbackSms") and not (
            data["fallbackSms"].get("sender") and data["fallbackSms"].get("text")
        ):
            return self.jsend_fail(fallbackSms="'sender' and 'text' are required")
        reasons = []
        if data.get("template"):
            template = self.wa_templates.get(data["template"].get("id"))
            if template is None:
                return self.jsend_fail(
                    **{"template.id": f"template {data['template'].get('id')} does not exist"}
                )
            if template["status"] != "APPROVED":
                reasons.append(f"template {template['id']} is {template['status']}, not APPROVED")
        elif len(data["body"]) != 1 and not (len(data["body"]) == 2 and "replyMessageId" in data["body"]):
            return self.jsend_fail(body="'body' must contain exactly one content object")
        if reasons:
            return Response(200, {"messageId": data.get("messageId") or str(uuid.uuid4()), "simulation": False,
                                  "results": {"whatsapp": {"accepted": False, "reasons": reasons}, "rcs": None,
                                              "sms": None}})  # fmt: skip
        message_id = self._record_message("WHATSAPP", data, WHATSAPP_PRICE)
        return Response(200, {"messageId": message_id, "simulation": bool(data.get("simulation")),
                              "results": {"whatsapp": {"accepted": True}, "rcs": None, "sms": None}})  # fmt: skip

    @route("POST", "/api/services/sms/send")
    def send_sms_legacy(self, request: Request) -> Response:
        data = request.json or {}
        if not data.get("messages"):
            return self.error(400, "'messages' is required.", request)
        processed = parts = 0
        for message in data["messages"]:
            if not message.get("destinations") or not message.get("sender") or not message.get("body"):
                return self.error(400, "Each message needs destinations, sender and body.", request)
            ids = message.get("ids") or []
            if ids and len(ids) != len(message["destinations"]):
                return self.error(400, "'ids' must match 'destinations' in length.", request)
            for i, destination in enumerate(message["destinations"]):
                self._record_message("SMS", {"destination": destination, "messageId": ids[i] if ids else None,
                                             "simulation": data.get("simulation")}, SMS_PRICE)  # fmt: skip
                processed += 1
                parts += 1
        return Response(200, {"globalId": data.get("globalId") or str(uuid.uuid4()), "processedMessages": processed,
                              "processedSmsParts": parts, "credit": round(self.credit["credit"], 4)})  # fmt: skip

    @route("GET", "/api/services/sms/credit")
    def legacy_credit(self, request: Request) -> Response:
        return Response(200, {"credit": round(self.credit["credit"], 4)})

    @route("GET", "/api/files/{key}")
    def media_file(self, request: Request) -> Response:
        minutes = int(request.arg("expireMinutes") or 60)
        return Response(200, {"url": f"https://files.example.com/{request.params['key']}?expires={minutes}m"})

    # -- delivery status and history ------------------------------------------------------------------

    def _status_out(self, record: dict) -> dict:
        keys = ("customerMessageId", "channel", "destination", "deliveryStatus", "deliveryStatusDescription",
                "sendDate", "deliveryDate", "readDate")  # fmt: skip
        return {k: record[k] for k in keys}

    @route("GET", P + "/messages/status")
    def batch_status(self, request: Request) -> Response:
        channel, ids = request.arg("channel"), request.arg("ids")
        if not channel or not ids:
            return self.error(400, "'channel' and 'ids' are required.", request)
        rows = [self._status_out(self.messages[i]) for i in ids.split(",")
                if i in self.messages and self.messages[i]["channel"] == channel]  # fmt: skip
        return Response(200, rows)

    @route("GET", P + "/messages/status/{id}")
    def single_status(self, request: Request) -> Response:
        record = self.messages.get(request.params["id"])
        if record is None or record["channel"] != (request.arg("channel") or ""):
            return self.error(404, f"Message {request.params['id']} not found on this channel", request)
        return Response(200, self._status_out(record))

    @route("GET", P + "/messages/history")
    def history(self, request: Request) -> Response:
        for param in ("channel", "from", "to"):
            if not request.arg(param):
                return self.error(400, f"'{param}' is required.", request)
        try:
            start = dt.datetime.fromisoformat(request.arg("from").replace("Z", "+00:00"))
            end = dt.datetime.fromisoformat(request.arg("to").replace("Z", "+00:00"))
        except ValueError:
            return self.error(400, "'from' and 'to' must be ISO-8601 with an offset.", request)
        if start.tzinfo is None or end.tzinfo is None:
            return self.error(400, "'from' and 'to' need a UTC offset.", request)
        rows = []
        for record in self.messages.values():
            sent = dt.datetime.fromisoformat(record["sendDate"].replace("Z", "+00:00"))
            if record["channel"] != request.arg("channel") or not (start <= sent <= end):
                continue
            if request.arg("status") and record["deliveryStatus"] != request.arg("status"):
                continue
            rows.append(self._status_out(record))
        return self.page_of(request, rows, default_limit=20)

    @route("GET", P + "/rcs/messages/{id}")
    def rcs_status(self, request: Request) -> Response:
        record = self.messages.get(request.params["id"])
        if record is None or record["channel"] != "RCS":
            return self.error(404, f"RCS message {request.params['id']} not found", request)
        return Response(200, {"messageId": record["customerMessageId"], "agentId": str(record["agentId"]),
                              "destination": record["destination"], "status": record["deliveryStatus"],
                              "createdAt": record["sendDate"]})  # fmt: skip

    @route("GET", P + "/whatsapp/messages/{id}")
    def whatsapp_status(self, request: Request) -> Response:
        record = self.messages.get(request.params["id"])
        if record is None or record["channel"] != "WHATSAPP":
            return self.error(404, f"WhatsApp message {request.params['id']} not found", request)
        return Response(200, {"messageId": record["customerMessageId"], "phoneNumberId": record["phoneNumberId"],
                              "destination": record["destination"], "status": record["deliveryStatus"],
                              "createdAt": record["sendDate"]})  # fmt: skip

    # -- account: subscription, senders, numbers, agents, keys --------------------------------------

    @route("GET", S + "/subscription")
    def get_subscription(self, request: Request) -> Response:
        if self.subscription is None:
            return self.error(404, "No active subscription", request)
        return Response(200, self.subscription)

    @route("GET", S + "/subscription/contacts")
    def get_contact_usage(self, request: Request) -> Response:
        limit = self.contact_limit or 10000
        used = len(self.contacts)
        return Response(200, {"planLimit": limit, "extraLimit": 0, "totalLimit": limit, "used": used,
                              "remaining": max(0, limit - used)})  # fmt: skip

    @route("GET", S + "/subscription/credit")
    def get_credit(self, request: Request) -> Response:
        credit, frozen = round(self.credit["credit"], 4), round(self.credit["frozenCredit"], 4)
        return Response(
            200, {"credit": credit, "frozenCredit": frozen, "availableCredit": round(credit - frozen, 4)}
        )

    @route("GET", P + "/sms/senders")
    def list_senders(self, request: Request) -> Response:
        return self.page_of(request, self.sms_senders)

    @route("GET", P + "/rcs/agents")
    def list_agents(self, request: Request) -> Response:
        return self.page_of(request, self.rcs_agents)

    @route("GET", P + "/rcs/agents/{id}")
    def get_agent(self, request: Request) -> Response:
        for agent in self.rcs_agents:
            if str(agent["id"]) == request.params["id"]:
                return Response(200, agent)
        return self.error(404, f"RCS agent {request.params['id']} not found", request)

    @route("GET", P + "/whatsapp/phone-numbers")
    def list_numbers(self, request: Request) -> Response:
        return self.page_of(request, self.wa_numbers)

    @route("GET", P + "/whatsapp/phone-numbers/{id}")
    def get_number(self, request: Request) -> Response:
        for number in self.wa_numbers:
            if str(number["id"]) == request.params["id"]:
                return Response(200, number)
        return self.error(404, f"Phone number {request.params['id']} not found", request)

    @route("GET", MS + "/whatsapp/phone-numbers")
    def list_numbers_md(self, request: Request) -> Response:
        return Response(200, {"data": self.wa_numbers})

    @route("GET", P + "/authentication")
    def list_keys(self, request: Request) -> Response:
        rows = [{**k, "apiKey": k["apiKey"][:8] + "..."} for k in self.api_keys.values()]
        if request.arg("userId"):
            rows = [r for r in rows if str(r["userId"]) == request.arg("userId")]
        return Response(200, rows)

    @route("POST", P + "/authentication")
    def create_key(self, request: Request) -> Response:
        data = request.json or {}
        if not data.get("username"):
            return self.error(400, "'username' is required.", request)
        kid = next(self._ids["key"])
        key = {"id": kid, "companyId": self.company_id, "userId": data.get("userId", 10), "apiKey": f"ak_live_{uuid.uuid4().hex}",
               "username": data["username"], "trafficType": data.get("trafficType", 0),
               "operations": data.get("operations") or [], "creationDate": now_iso(), "lastUpdateDate": now_iso()}  # fmt: skip
        self.api_keys[kid] = key
        return Response(201, key)

    @route("GET", P + "/authentication/{value}")
    def find_key(self, request: Request) -> Response:
        for key in self.api_keys.values():
            if key["apiKey"] == request.params["value"]:
                return Response(200, key)
        return self.error(404, "API key not found", request)

    @route("DELETE", P + "/authentication/{value}")
    def delete_key(self, request: Request) -> Response:
        raw = request.params["value"]
        if not raw.isdigit() or self.api_keys.pop(int(raw), None) is None:
            return self.error(404, f"API key {raw} not found", request)
        return Response(204)

    # -- uploads, exports, inbox, media, socials --------------------------------------------------------

    @staticmethod
    def _form_field(request: Request, name: str) -> str | None:
        match = re.search(rb'name="' + name.encode() + rb'"(?:; filename="([^"]*)")?\r\n(?:[^\r\n]+\r\n)*\r\n',
                          request.body)  # fmt: skip
        if match is None:
            return None
        if match.group(1) is not None:
            return match.group(1).decode()
        rest = request.body[match.end() :]
        return rest.split(b"\r\n", 1)[0].decode()

    @route("POST", P + "/contacts/upload/vcard")
    def upload_vcard(self, request: Request) -> Response:
        if not request.header("content-type").startswith("multipart/form-data"):
            return self.error(400, "Upload the file as multipart/form-data.", request)
        name = self._form_field(request, "fileName") or self._form_field(request, "file") or ""
        if not name.lower().endswith(".vcf"):
            return self.error(400, "The file name must end in .vcf.", request)
        return Response(200, '""')

    @route("GET", P + "/exports")
    def list_exports(self, request: Request) -> Response:
        limit = int(request.arg("limit") or 10)
        page = int(request.arg("page") or 0)
        rows = list(self.exports.values())
        return Response(200, {"data": rows[page * limit : (page + 1) * limit], "page": page, "limit": limit,
                              "totalCount": len(rows), "totalPages": math.ceil(len(rows) / limit)})  # fmt: skip

    def _new_export(self, kind: str, data: dict) -> Response:
        eid = next(self._ids["export"])
        self.exports[eid] = {"exportId": eid, "type": kind, "status": "COMPLETED", "isAvailableForDownload": True,
                             "request": data, "creationDate": now_iso()}  # fmt: skip
        return Response(202, '""')

    @route("POST", P + "/exports/contacts")
    def export_contacts(self, request: Request) -> Response:
        data = request.json if request.body else {}
        if data and data.get("exportFormat", "CSV") != "CSV":
            return self.error(400, "'exportFormat' must be CSV.", request)
        return self._new_export("CONTACTS", data or {})

    @route("POST", P + "/exports/delivery-reports")
    def export_reports(self, request: Request) -> Response:
        data = request.json or {}
        if not data.get("campaignId") and not (data.get("startDateTime") and data.get("endDateTime")):
            return self.error(400, "Give 'campaignId' or 'startDateTime' and 'endDateTime'.", request)
        return self._new_export("DELIVERY_REPORTS", data)

    @route("POST", P + "/messages/history/export")
    def export_history(self, request: Request) -> Response:
        data = request.json or {}
        if not (data.get("startDateTime") and data.get("endDateTime")):
            return self.error(400, "'startDateTime' and 'endDateTime' are required.", request)
        return self._new_export("MESSAGE_HISTORY", data)

    @route("GET", P + "/exports/{id}")
    def export_url(self, request: Request) -> Response:
        record = self.exports.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Export {request.params['id']} not found", request)
        if record["status"] == "EXPIRED":
            return self.error(400, "The download link expired: regenerate it.", request)
        return Response(200, {"url": f"https://storage.example.com/exports/{record['exportId']}.csv?token=t"})

    @route("POST", P + "/exports/{id}")
    def regenerate_export(self, request: Request) -> Response:
        record = self.exports.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Export {request.params['id']} not found", request)
        if record["status"] != "EXPIRED":
            return self.error(400, "The export has not expired yet.", request)
        record["status"] = "COMPLETED"
        return Response(202, '""')

    def _chat(self, request: Request, key: str = "id") -> dict | None:
        raw = request.params.get(key, "")
        return self.conversations.get(int(raw)) if raw.isdigit() else None

    @route("GET", P + "/inbox/conversations")
    def list_conversations(self, request: Request) -> Response:
        rows = [c for c in self.conversations.values() if not c["archived"]]
        if truthy(request.arg("unreadOnly")):
            rows = [c for c in rows if c["hasUnreadMessages"]]
        if request.arg("dateFrom"):
            rows = [c for c in rows if c["lastMessageDate"] >= request.arg("dateFrom")]
        return Response(200, [{k: v for k, v in c.items() if k != "archived"} for c in rows])

    @route("GET", P + "/inbox/conversations/assignable-users")
    def assignable_users(self, request: Request) -> Response:
        return Response(200, self.assignable_users)

    @route("POST", P + "/inbox/conversations/reply")
    def reply(self, request: Request) -> Response:
        data = request.json or {}
        if not data.get("chatId") or not (data.get("message") or data.get("attachments")):
            return self.error(400, "'chatId' and a message or attachments are required.", request)
        chat = self.conversations.get(int(data["chatId"]))
        if chat is None:
            return self.error(404, f"Conversation {data['chatId']} not found", request)
        self.conversation_messages[chat["id"]].append(
            self._chat_message(data.get("message") or "", inbound=False)
        )
        return Response(202, '""')

    @route("GET", P + "/inbox/conversations/{id}")
    def get_conversation(self, request: Request) -> Response:
        chat = self._chat(request)
        if chat is None:
            return self.error(404, f"Conversation {request.params['id']} not found", request)
        return Response(200, {k: v for k, v in chat.items() if k != "archived"})

    @route("GET", P + "/inbox/conversations/{id}/messages")
    def conversation_thread(self, request: Request) -> Response:
        chat = self._chat(request)
        if chat is None:
            return self.error(404, f"Conversation {request.params['id']} not found", request)
        low = int(request.arg("idFrom") or 0)
        high = int(request.arg("idTo") or 2**62)
        messages = [msg for msg in self.conversation_messages[chat["id"]] if low <= msg["id"] <= high]
        return Response(200, {"profile": {"userName": chat["userName"], "profilePicture": "", "additionalInfo": ""},
                              "messages": messages})  # fmt: skip

    @route("PATCH", P + "/inbox/conversations/{id}/read")
    def mark_read(self, request: Request) -> Response:
        chat = self._chat(request)
        if chat is None:
            return self.error(404, f"Conversation {request.params['id']} not found", request)
        chat.update(hasUnreadMessages=False, unreadCount=0, lastCheckedAt=now_iso())
        return Response(204)

    @route("PATCH", P + "/inbox/conversations/{id}/archive")
    def archive(self, request: Request) -> Response:
        chat = self._chat(request)
        if chat is None:
            return self.error(404, f"Conversation {request.params['id']} not found", request)
        chat["archived"] = True
        return Response(204)

    @route("PATCH", P + "/inbox/conversations/{id}/unarchive")
    def unarchive(self, request: Request) -> Response:
        chat = self._chat(request)
        if chat is None or not chat["archived"]:
            return self.error(404, f"Archived conversation {request.params['id']} not found", request)
        chat["archived"] = False
        return Response(204)

    @route("POST", P + "/inbox/conversations/{id}/assignee")
    def assign(self, request: Request) -> Response:
        chat = self._chat(request)
        if chat is None:
            return self.error(404, f"Conversation {request.params['id']} not found", request)
        user = (request.json or {}).get("userId") if request.body else None
        if user is None:
            return self.error(400, "'userId' is required.", request)
        if user not in {u["id"] for u in self.assignable_users}:
            return self.error(404, f"User {user} not found in this company", request)
        chat["assignedUserId"] = user
        return Response(204)

    @route("DELETE", P + "/inbox/conversations/{id}/assignee")
    def unassign(self, request: Request) -> Response:
        chat = self._chat(request)
        if chat is None:
            return self.error(404, f"Conversation {request.params['id']} not found", request)
        chat["assignedUserId"] = None
        return Response(204)

    @route("POST", P + "/media")
    def upload_media(self, request: Request) -> Response:
        if not request.header("content-type").startswith("multipart/form-data"):
            return self.error(400, "Upload the file as multipart/form-data.", request)
        filename = self._form_field(request, "file")
        if not filename:
            return self.error(400, "'file' is required.", request)
        if not filename.lower().endswith((".jpg", ".jpeg", ".png", ".gif", ".mp4")):
            return self.error(400, "Only JPEG, PNG, GIF and MP4 files are accepted.", request)
        mid = next(self._ids["media"])
        self.media[mid] = {"id": mid, "key": uuid.uuid4().hex, "thumbnailKey": "", "companyId": self.company_id,
                           "userId": 10, "name": self._form_field(request, "name") or filename,
                           "description": self._form_field(request, "description") or "", "filename": filename,
                           "size": len(request.body), "type": "IMAGE", "creationDate": now_iso(),
                           "lastUpdateDate": now_iso()}  # fmt: skip
        return Response(201, self.media[mid])

    @route("GET", P + "/media")
    def list_media(self, request: Request) -> Response:
        return self.page_of(request, self.sort_rows(list(self.media.values()), request, "id"))

    @route("GET", P + "/media/{id}")
    def get_media(self, request: Request) -> Response:
        record = self.media.get(int(request.params["id"])) if request.params["id"].isdigit() else None
        if record is None:
            return self.error(404, f"Media {request.params['id']} not found", request)
        return Response(200, record)

    @route("DELETE", P + "/media/{id}")
    def delete_media(self, request: Request) -> Response:
        if self.media.pop(int(request.params["id"]) if request.params["id"].isdigit() else -1, None) is None:
            return self.error(404, f"Media {request.params['id']} not found", request)
        return Response(204)

    @route("GET", S + "/socials")
    def list_socials(self, request: Request) -> Response:
        profiles = [{k: v for k, v in p.items() if k != "pages"} for p in self.socials.values()]
        # PM's example is a single object, not an array: answer that way when there is one profile.
        return Response(200, profiles[0] if len(profiles) == 1 else profiles)

    @route("GET", S + "/socials/{platform}")
    def get_social(self, request: Request) -> Response:
        profile = self.socials.get(request.params["platform"].lower())
        if profile is None:
            return self.error(404, f"No {request.params['platform']} profile is connected.", request)
        return Response(200, profile)

    # -- webhooks ---------------------------------------------------------------------------------------

    def _callback(self, request: Request) -> str | Response:
        url = (request.json or {}).get("callbackUrl") if request.body else None
        if not url or not str(url).startswith("https://"):
            return self.error(400, "'callbackUrl' must be an HTTPS URL.", request)
        return url

    @route("POST", P + "/webhooks/delivery-status")
    def create_webhook(self, request: Request) -> Response:
        if self.webhook is not None:
            return self.error(409, "A delivery-status webhook is already configured.", request)
        url = self._callback(request)
        if isinstance(url, Response):
            return url
        self.webhook = {"companyId": self.company_id, "callbackUrl": url}
        return Response(201, self.webhook)

    @route("GET", P + "/webhooks/delivery-status")
    def get_webhook(self, request: Request) -> Response:
        if self.webhook is None:
            return self.error(404, "No delivery-status webhook is configured.", request)
        return Response(200, self.webhook)

    @route("PUT", P + "/webhooks/delivery-status")
    def update_webhook(self, request: Request) -> Response:
        if self.webhook is None:
            return self.error(404, "No delivery-status webhook is configured.", request)
        url = self._callback(request)
        if isinstance(url, Response):
            return url
        self.webhook["callbackUrl"] = url
        return Response(200, self.webhook)

    @route("DELETE", P + "/webhooks/delivery-status")
    def delete_webhook(self, request: Request) -> Response:
        if self.webhook is None:
            return self.error(404, "No delivery-status webhook is configured.", request)
        self.webhook = None
        return Response(204)

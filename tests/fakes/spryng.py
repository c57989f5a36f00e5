"""A stateful fake of Spryng's REST API (rest.spryngsms.com/v1), written from seed 004.

Bearer-token auth (401 `{"error":"Unauthenticated."}`), Laravel paging
envelopes (`next_page_url: ""` on the last page), the 422 `{message, errors}`
bodies with Spryng's exact wording, 404 `{"error": ...}`, 405 with `Allow`,
429 `{"message":"Too Many Attempts."}` with Retry-After and X-RateLimit-*
headers, the 50-recipient cap, the empty text/html cancel answer, and the Meta
WhatsApp proxy under /v1/whatsapp/{version}/… with Graph-shaped answers
(Meta's own error bodies are not in the seed; Graph's usual shape is used).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
import uuid
from typing import Any

from tests.fakes.base import FakeAPI, Request, Response, route

GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("|^€{}[]~\\")
INVALID = {"message": "The given data was invalid."}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=1))).replace(microsecond=0)


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def _invalid(errors: dict[str, list[str]]) -> Response:
    return Response(422, {**INVALID, "errors": errors})


class SpryngFake(FakeAPI):
    name = "spryng"
    DOCUMENTED_LIMIT = (1200, 60.0)  # requests per minute per key

    def __init__(self, api_key: str = "test-key"):
        super().__init__()
        self.api_key = api_key
        self.balance = 150.5
        self.messages: dict[str, dict] = {}
        self.voice: dict[str, dict] = {}
        self.templates: dict[str, dict] = {}  # Meta id → template (with waba_id)
        self.waba_ids = {"102290129340398"}
        self.phone_number_ids = {"106540352242922"}
        self.wa_messages: list[dict] = []
        self.subaccounts_enabled = True
        self.subaccounts: dict[str, dict] = {}
        self._subaccount_ids = itertools.count(60838)
        self.media: dict[str, dict] = {}
        self.routes = {"business", "1234"}
        self.blocked_countries = {"32": "BE"}  # prefix → country refused on the route
        self._meta_ids = itertools.count(594425479261596)
        self._seq = itertools.count()
        self.delivery_status = "delivered"  # what recipients of new messages end up as

    # -- vendor behaviour -------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.header("authorization") != f"Bearer {self.api_key}":
            return Response(401, {"error": "Unauthenticated."})
        return None

    def retry_hint(self, seconds: int) -> Response:
        return Response(
            429,
            {"message": "Too Many Attempts."},
            {
                "Retry-After": str(seconds),
                "X-RateLimit-Limit": str(self.DOCUMENTED_LIMIT[0]),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + seconds),
            },
        )

    def server_error(self, status: int) -> Response:
        return Response(status, {"message": "Server Error"})

    def not_found(self, request: Request) -> Response:
        return Response(404, {"error": "The requested resource is not found."})

    def dispatch(self, request: Request) -> Response:
        response = super().dispatch(request)
        if response.status != 429:  # every answer carries the per-minute allowance
            response.headers.setdefault("X-RateLimit-Limit", str(self.DOCUMENTED_LIMIT[0]))
            response.headers.setdefault("X-RateLimit-Remaining", str(self.DOCUMENTED_LIMIT[0] - 1))
        return response

    # -- helpers for tests and benchmarks -----------------------------------------------------------

    def seed_messages(self, n: int, *, recipients_each: int = 1, reference: str = "") -> list[str]:
        """Add n sent messages fast (no HTTP), newest last; returns their ids."""
        ids = []
        base = _now() - dt.timedelta(seconds=n)
        for i in range(n):
            mid = str(uuid.uuid4())
            created = base + dt.timedelta(seconds=i)
            self.messages[mid] = self._message(
                mid, f"Message {i}", "Switchboard", [f"3161{(i * recipients_each + j) % 10**8:08d}" for j in range(recipients_each)],
                reference, created, None, "auto",
            )  # fmt: skip
            ids.append(mid)
        return ids

    def seed_templates(self, n: int, waba_id: str = "102290129340398", status: str = "APPROVED") -> list[str]:
        ids = []
        for i in range(n):
            tid = str(next(self._meta_ids))
            self.templates[tid] = {
                "name": f"template_{i}", "language": "en_US", "status": status, "category": "MARKETING",
                "components": [{"type": "BODY", "text": "Hello, {{1}}"}], "id": tid, "waba_id": waba_id,
            }  # fmt: skip
            ids.append(tid)
        return ids

    # -- paging ---------------------------------------------------------------------------------------

    @staticmethod
    def _laravel(request: Request, rows: list[dict], shape=None) -> Response:
        try:
            limit = min(100, max(1, int(request.arg("limit") or 15)))
            page = max(1, int(request.arg("page") or 1))
        except ValueError:
            return _invalid({"limit": ["The limit must be an integer."]})
        total = len(rows)
        last = max(1, -(-total // limit))
        chunk = rows[(page - 1) * limit : page * limit]
        if shape is not None:  # render only the rows on this page
            chunk = [shape(row) for row in chunk]
        base = f"http://{request.header('host')}{request.path}"
        return Response(
            200,
            {
                "total": total, "per_page": limit, "current_page": page, "last_page": last,
                "next_page_url": f"{base}?page={page + 1}" if page < last else "",
                "prev_page_url": f"{base}?page={page - 1}" if page > 1 else "",
                "from": (page - 1) * limit + 1 if chunk else None, "to": (page - 1) * limit + len(chunk) if chunk else None,
                "data": chunk,
            },
        )  # fmt: skip

    # -- balance --------------------------------------------------------------------------------------

    @route("GET", "/v1/balance")
    def get_balance(self, request: Request) -> Response:
        return Response(200, {"amount": self.balance})

    # -- SMS ------------------------------------------------------------------------------------------

    def _message(self, mid, body, originator, recipients, reference, created, scheduled, encoding) -> dict:
        future = scheduled is not None and scheduled > _now()
        return {
            "id": mid, "encoding": encoding, "originator": originator, "body": body, "reference": reference or "",
            "credits": round(1.2 * len(recipients) * self._parts(body, encoding), 2),
            "scheduled_at": _iso(scheduled or created), "canceled_at": "", "created_at": _iso(created),
            "updated_at": _iso(created),
            "links": {"self": f"https://rest.spryngsms.com/v1/messages/{mid}"},
            "recipients": [
                {"number": r, "status": "pending" if future else self.delivery_status,
                 "sent_at": "" if future else _iso(created)}
                for r in recipients
            ],
            "_seq": next(self._seq),
        }  # fmt: skip

    @staticmethod
    def _parts(body: str, encoding: str) -> int:
        unicode = encoding == "unicode" or (
            encoding == "auto" and any(c not in GSM | GSM_EXTENDED for c in body)
        )
        if unicode:
            return 1 if len(body) <= 70 else -(-len(body) // 67)
        length = sum(2 if c in GSM_EXTENDED else 1 for c in body)
        return 1 if length <= 160 else -(-length // 153)

    @route("POST", "/v1/messages")
    def create_message(self, request: Request) -> Response:
        data = request.json or {}
        errors: dict[str, list[str]] = {}
        text = data.get("body")
        encoding = data.get("encoding", "auto")
        if not text:
            errors["body"] = ["The text field is required."]
            errors["body_parts"] = ["The text parts must be at least 1."]
        if encoding not in ("plain", "unicode", "auto"):
            errors["encoding"] = ["The selected codering is invalid."]
        elif text:
            unicode = encoding == "unicode" or (
                encoding == "auto" and any(c not in GSM | GSM_EXTENDED for c in text)
            )
            if len(text) > (670 if unicode else 1530):
                errors["body_parts"] = [
                    "Your message body count can be maximum of 1530 characters for a plain and 670 for unicode messages"
                ]
        originator = str(data.get("originator") or "")
        if not originator:
            errors["originator"] = ["The originator field is required."]
        elif not (re.fullmatch(r"[A-Za-z0-9 ]{1,11}", originator) or re.fullmatch(r"\d{1,14}", originator)):
            errors["originator"] = ["The originator must be a valid format."]
        if data.get("scheduled_at"):
            try:
                scheduled = dt.datetime.strptime(data["scheduled_at"], "%Y-%m-%dT%H:%M:%S%z")
            except (TypeError, ValueError):
                errors["scheduled_at"] = ["The scheduled at does not match the format Y-m-d\\TH:i:sP."]
                scheduled = None
        else:
            scheduled = None
        route_ = data.get("route")
        if route_ in (None, ""):
            errors["route"] = ["The routes field is required."]
        elif str(route_) not in self.routes:
            errors["route"] = ["The selected routes is invalid."]
        recipients = data.get("recipients")
        if not recipients:
            errors["recipients"] = ["The recipients field is required."]
        elif not isinstance(recipients, list) or len(recipients) > 50:
            errors["recipients"] = ["The recipients may not have more than 50 items."]
        else:
            for i, number in enumerate(recipients):
                number = str(number)
                if not re.fullmatch(r"[1-9]\d{7,14}", number):
                    errors[f"recipients.{i}"] = [
                        f"Recipient {number} is invalid format. Format should look like 31612345678."
                    ]
                    continue
                for prefix, country in self.blocked_countries.items():
                    if number.startswith(prefix):
                        errors[f"recipients.{i}"] = [
                            f"You can't send to recipients in the country {country} for selected route."
                        ]
        if errors:
            return _invalid(errors)
        mid = str(uuid.uuid4())
        message = self._message(
            mid,
            text,
            originator,
            [str(r) for r in recipients],
            data.get("reference"),
            _now(),
            scheduled,
            encoding,
        )
        self.messages[mid] = message
        self.balance = round(self.balance - message["credits"], 4)
        out = {k: v for k, v in message.items() if k not in ("recipients", "_seq")}
        if "recipients" in request.query.get("with[]", []):
            out["recipients"] = message["recipients"]
        return Response(200, out)

    @route("PATCH", "/v1/messages")
    def patch_messages(self, request: Request) -> Response:
        return Response(405, {"message": ""}, {"Allow": "GET, HEAD, POST"})

    @route("GET", "/v1/messages")
    def list_messages(self, request: Request) -> Response:
        rows = list(self.messages.values())
        filters = {k[8:-1]: v[0] for k, v in request.query.items() if k.startswith("filters[")}
        if "reference" in filters:
            rows = [m for m in rows if m["reference"] == filters["reference"]]
        if "originator" in filters:
            rows = [m for m in rows if m["originator"] == filters["originator"]]
        if "recipient_number" in filters:
            rows = [
                m for m in rows if any(r["number"] == filters["recipient_number"] for r in m["recipients"])
            ]
        if "status" in filters:
            wanted = "sent" if filters["status"] == "send" else filters["status"]
            rows = [m for m in rows if any(r["status"] == wanted for r in m["recipients"])]
        if "created_from" in filters:
            since = dt.datetime.fromisoformat(filters["created_from"].replace(" ", "+"))
            since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            rows = [m for m in rows if dt.datetime.fromisoformat(m["created_at"]) >= since]
        sort = request.arg("sort") or "created_at"
        if sort.lstrip("!") == "created_at":  # insertion order is creation order: no sort needed
            if sort.startswith("!"):
                rows.reverse()
        else:
            rows.sort(key=lambda m: (m.get(sort.lstrip("!"), ""), m["_seq"]), reverse=sort.startswith("!"))
        with_recipients = "recipients" in request.query.get("with[]", [])

        def shape(m):
            return {
                k: v for k, v in m.items()
                if k not in ("_seq", "canceled_at") and (with_recipients or k != "recipients")
            }  # fmt: skip

        return self._laravel(request, rows, shape)

    @route("GET", "/v1/messages/{id}")
    def show_message(self, request: Request) -> Response:
        message = self.messages.get(request.params["id"])
        if message is None:
            return self.not_found(request)
        with_recipients = "recipients" in request.query.get("with[]", [])
        return Response(
            200, {k: v for k, v in message.items() if k != "_seq" and (with_recipients or k != "recipients")}
        )

    @route("POST", "/v1/messages/{id}/cancel")
    def cancel_message(self, request: Request) -> Response:
        message = self.messages.get(request.params["id"])
        if message is None:
            return self.not_found(request)
        if dt.datetime.fromisoformat(message["scheduled_at"]) <= _now() or message["canceled_at"]:
            # The seed does not document this answer; a Laravel validation error is the natural one.
            return _invalid({"message": ["Only messages scheduled in the future can be canceled."]})
        message["canceled_at"] = _iso(_now())
        for recipient in message["recipients"]:
            recipient["status"] = "canceled"
        return Response(200, "", {"Content-Type": "text/html; charset=UTF-8"})

    # -- voice ----------------------------------------------------------------------------------------

    def _voice(self, request: Request, otp: bool) -> Response:
        data = request.json or {}
        errors: dict[str, list[str]] = {}
        if not data.get("body") and not data.get("ssml"):
            errors["body"] = ["The body field is required."]
        elif len(str(data.get("body") or "")) > 500:
            errors["body"] = ["The body may not be greater than 500 characters."]
        recipients = data.get("recipients")
        if not recipients:
            errors["recipients"] = ["The recipients field is required."]
        elif len(recipients) != 1:
            errors["recipients"] = ["The recipients must contain 1 items."]
        if int(data.get("repeat") or 1) > 5:
            errors["repeat"] = ["The repeat may not be greater than 5."]
        if errors:
            return _invalid(errors)
        vid = str(uuid.uuid4())
        body = data.get("body", "")
        if otp and data.get("otp_code"):
            body = f"{body} {data['otp_code']}"
        now = _iso(_now())
        self.voice[vid] = {
            "id": vid, "body": body, "reference": data.get("reference") or "", "credits": 1, "created_at": now,
            "updated_at": now, "priority": "priority",
            "links": {"self": f"https://rest.spryngsms.com/v1/voice/messages/{vid}"},
            "_recipients": recipients,
        }  # fmt: skip
        return Response(200, {k: v for k, v in self.voice[vid].items() if not k.startswith("_")})

    @route("POST", "/v1/voice/messages")
    def create_voice(self, request: Request) -> Response:
        return self._voice(request, otp=False)

    @route("POST", "/v1/voice/otp")
    def create_voice_otp(self, request: Request) -> Response:
        return self._voice(request, otp=True)

    @route("GET", "/v1/voice/messages/{id}")
    def show_voice(self, request: Request) -> Response:
        message = self.voice.get(request.params["id"])
        if message is None:
            return self.not_found(request)
        return Response(200, {k: v for k, v in message.items() if not k.startswith("_")})

    # -- subaccounts ----------------------------------------------------------------------------------

    @route("GET", "/v1/subaccounts/stats")
    def subaccount_stats(self, request: Request) -> Response:
        if not self.subaccounts_enabled:
            return Response(
                403,
                {
                    "message": "This action is unauthorized. Please contact support to enable this subaccount feature."
                },
            )
        year = request.arg("filters[year]") or str(_now().year)
        months = {f"{year}-{m:02d}": {"total_messages": 0, "total_credits": 0} for m in range(1, 13)}
        months[f"{year}-01"] = {"total_messages": 12730, "total_credits": 12730}
        return Response(
            200, {"subaccounts": [{"id": 60838, "username": "spryng_johndoe", "results": months}]}
        )

    _FORBIDDEN = {
        "message": "This action is unauthorized. Please contact support to enable this subaccount feature."
    }

    def _subaccount(self, request: Request) -> tuple[dict | None, Response | None]:
        if not self.subaccounts_enabled:
            return None, Response(403, self._FORBIDDEN)
        account = self.subaccounts.get(request.params["id"])
        if account is None:
            return None, Response(404, {"error": f"Subaccount not found for ID {request.params['id']}"})
        return account, None

    @route("GET", "/v1/subaccounts")
    def list_subaccounts(self, request: Request) -> Response:
        if not self.subaccounts_enabled:
            return Response(403, self._FORBIDDEN)
        rows = list(self.subaccounts.values())
        active = request.arg("filters[is_active]")
        if active in ("true", "false"):
            rows = [a for a in rows if a["is_active"] == (active == "true")]
        search = (request.arg("filters[search]") or "").lower()
        if search:
            rows = [a for a in rows if search in a["username"].lower() or search in a["email"].lower()]
        if (request.arg("sort") or "").lstrip("!") == "username":
            rows.sort(key=lambda a: a["username"], reverse=request.arg("sort").startswith("!"))
        return self._laravel(request, rows)

    @route("POST", "/v1/subaccounts")
    def create_subaccount(self, request: Request) -> Response:
        if not self.subaccounts_enabled:
            return Response(403, self._FORBIDDEN)
        data = request.json or {}
        errors = {}
        if not data.get("username"):
            errors["username"] = ["The username field is required."]
        if not data.get("password"):
            errors["password"] = ["The password field is required."]
        elif len(data["password"]) < 14:
            errors["password"] = ["The password must be at least 14 characters."]
        if not data.get("email"):
            errors["email"] = ["The e-mail field is required."]
        if errors:
            return _invalid(errors)
        sid = str(next(self._subaccount_ids))
        account = {
            "id": sid, "first_name": "", "middle_name": "", "last_name": "",
            "username": f"spryng_{data['username']}", "email": data["email"], "is_active": True,
        }  # fmt: skip
        self.subaccounts[sid] = account
        out = dict(account)
        if "token" in request.query.get("with[]", []):
            out["token"] = {"bearer": "eyJ" + uuid.uuid4().hex}
        return Response(200, out)

    @route("PATCH", "/v1/subaccounts/{id}")
    def update_subaccount(self, request: Request) -> Response:
        account, denied = self._subaccount(request)
        if denied:
            return denied
        data = request.json or {}
        if not isinstance(data.get("is_active"), bool):
            return _invalid({"is_active": ["The is active field is required."]})
        account["is_active"] = data["is_active"]
        return Response(200, account)

    @route("DELETE", "/v1/subaccounts/{id}")
    def archive_subaccount(self, request: Request) -> Response:
        account, denied = self._subaccount(request)
        if denied:
            return denied
        # Archived, not removed: renamed and deactivated, still counted in the stats.
        stamp = _now().strftime("%Y%m%d_%H%M%S")
        account["username"] = f"!{stamp}__{account['id']}_{account['username']}"
        account["is_active"] = False
        return Response(200, account)

    # -- WhatsApp (Meta proxy) -------------------------------------------------------------------------

    @staticmethod
    def _graph_error(message: str, code: int = 100, status: int = 400) -> Response:
        return Response(
            status,
            {
                "error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "fbtrace_id": "AbCdEfGh123",
                }
            },
        )

    @route("GET", "/v1/whatsapp/{version}/{waba_id}/message_templates")
    def list_templates(self, request: Request) -> Response:
        waba_id = request.params["waba_id"]
        if waba_id not in self.waba_ids:
            return self._graph_error(f"Unsupported get request. Object with ID '{waba_id}' does not exist")
        rows = [t for t in self.templates.values() if t["waba_id"] == waba_id]
        if request.arg("name"):
            rows = [t for t in rows if t["name"] == request.arg("name")]
        limit = min(100, int(request.arg("limit") or 25))
        start = int(request.arg("after") or 0) if (request.arg("after") or "0").isdigit() else 0
        chunk = rows[start : start + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
        if start + limit < len(rows):
            paging["next"] = (
                f"http://{request.header('host')}{request.path}?limit={limit}&after={start + limit}"
            )
        data = [{k: v for k, v in t.items() if k != "waba_id"} for t in chunk]
        return Response(200, {"data": data, "paging": paging})

    @route("POST", "/v1/whatsapp/{version}/{waba_id}/message_templates")
    def create_template(self, request: Request) -> Response:
        waba_id = request.params["waba_id"]
        if waba_id not in self.waba_ids:
            return self._graph_error(f"Unsupported post request. Object with ID '{waba_id}' does not exist")
        data = request.json or {}
        for key in ("name", "language", "category", "components"):
            if not data.get(key):
                return self._graph_error(f"(#100) The parameter {key} is required.")
        if data["category"] not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
            return self._graph_error(
                "(#100) Param category must be one of {MARKETING, UTILITY, AUTHENTICATION}"
            )
        if any(
            t["name"] == data["name"] and t["language"] == data["language"] for t in self.templates.values()
        ):
            return self._graph_error("Message template already exists", code=2388023)
        tid = str(next(self._meta_ids))
        self.templates[tid] = {
            "name": data["name"], "language": data["language"], "status": "PENDING", "category": data["category"],
            "components": data["components"], "id": tid, "waba_id": waba_id,
        }  # fmt: skip
        return Response(200, {"id": tid, "status": "PENDING", "category": data["category"]})

    @route("DELETE", "/v1/whatsapp/{version}/{waba_id}/message_templates")
    def delete_template(self, request: Request) -> Response:
        name = request.arg("name")
        doomed = [
            k
            for k, t in self.templates.items()
            if t["name"] == name and t["waba_id"] == request.params["waba_id"]
        ]
        if not doomed:
            return self._graph_error(f'Message template "{name}" not found', code=100, status=404)
        for key in doomed:
            del self.templates[key]
        return Response(200, {"success": True})

    @route("POST", "/v1/whatsapp/{version}/{object_id}")
    def update_template_or_pin(self, request: Request) -> Response:
        object_id = request.params["object_id"]
        data = request.json or {}
        if object_id in self.templates:  # update: replaces the whole content
            if not data.get("components"):
                return self._graph_error("(#100) The parameter components is required.")
            self.templates[object_id]["components"] = data["components"]
            self.templates[object_id]["status"] = "PENDING"
            return Response(200, {"success": True})
        if object_id in self.phone_number_ids and re.fullmatch(r"\d{6}", str(data.get("pin") or "")):
            return Response(200, {"success": True})
        return self._graph_error(f"Unsupported post request. Object with ID '{object_id}' does not exist")

    @route("POST", "/v1/whatsapp/{version}/{phone_number_id}/messages")
    def send_whatsapp(self, request: Request) -> Response:
        if request.params["phone_number_id"] not in self.phone_number_ids:
            return self._graph_error("Unsupported post request.")
        data = request.json or {}
        if data.get("messaging_product") != "whatsapp" or not data.get("to"):
            return self._graph_error("(#100) The parameter messaging_product is required.")
        if data.get("type") == "template":
            name = (data.get("template") or {}).get("name")
            if not any(t["name"] == name and t["status"] == "APPROVED" for t in self.templates.values()):
                return self._graph_error(
                    "(#132001) Template name does not exist in the translation", code=132001
                )
        wamid = "wamid." + uuid.uuid4().hex.upper()
        self.wa_messages.append({"id": wamid, **data})
        return Response(
            200,
            {"messaging_product": "whatsapp", "contacts": [{"input": data["to"], "wa_id": data["to"]}],
             "messages": [{"id": wamid}]},
        )  # fmt: skip

    @route("POST", "/v1/whatsapp/{version}/{phone_number_id}/media")
    def upload_media(self, request: Request) -> Response:
        if request.params["phone_number_id"] not in self.phone_number_ids:
            return self._graph_error("Unsupported post request.")
        body = request.body
        if not request.header("content-type").startswith("multipart/form-data") or b'name="file"' not in body:
            return self._graph_error("(#100) The parameter file is required.")
        if b'name="messaging_product"' not in body:
            return self._graph_error("(#100) The parameter messaging_product is required.")
        media_id = str(next(self._meta_ids))
        self.media[media_id] = {"size": len(body)}
        return Response(200, {"id": media_id})

    @route("DELETE", "/v1/whatsapp/{version}/{media_id}")
    def delete_media(self, request: Request) -> Response:
        if self.media.pop(request.params["media_id"], None) is None:
            return self._graph_error("Unsupported delete request.", status=404)
        return Response(200, {"success": True})

    @route("POST", "/v1/whatsapp/{version}/{phone_number_id}/register")
    def register(self, request: Request) -> Response:
        data = request.json or {}
        if request.params["phone_number_id"] not in self.phone_number_ids:
            return self._graph_error("Unsupported post request.")
        if data.get("messaging_product") != "whatsapp" or not re.fullmatch(
            r"\d{6}", str(data.get("pin") or "")
        ):
            return self._graph_error("(#100) Param pin must be 6 digits")
        return Response(200, {"success": True})

    @route("POST", "/v1/whatsapp/{version}/{phone_number_id}/deregister")
    def deregister(self, request: Request) -> Response:
        if request.params["phone_number_id"] not in self.phone_number_ids:
            return self._graph_error("Unsupported post request.")
        return Response(200, {"success": True})

    @route("GET", "/v1/whatsapp/{version}/{waba_id}/phone_numbers")
    def phone_numbers(self, request: Request) -> Response:
        if request.params["waba_id"] not in self.waba_ids:
            return self._graph_error("Unsupported get request.")
        return Response(
            200,
            {"data": [{"verified_name": "Switchboard", "display_phone_number": "+31 6 12345678", "id": pid,
                       "quality_rating": "GREEN"} for pid in sorted(self.phone_number_ids)]},
        )  # fmt: skip

    @route("GET", "/v1/whatsapp/{version}/{phone_number_id}/whatsapp_business_profile")
    def business_profile(self, request: Request) -> Response:
        if request.params["phone_number_id"] not in self.phone_number_ids:
            return self._graph_error("Unsupported get request.")
        return Response(
            200,
            {"data": [{"about": "About", "address": "Amsterdam", "description": "Switchboard", "email": "a@b.nl",
                       "messaging_product": "whatsapp", "profile_picture_url": "https://example.invalid/p.png",
                       "websites": ["https://example.invalid"], "vertical": "OTHER"}]},
        )  # fmt: skip

    @route("GET", "/v1/whatsapp/{version}/{waba_id}")
    def analytics(self, request: Request) -> Response:
        media = self.media.get(request.params["waba_id"])
        if media is not None:  # the same path shape retrieves a media URL
            media_id = request.params["waba_id"]
            return Response(
                200,
                {"messaging_product": "whatsapp", "url": f"https://lookaside.example.invalid/{media_id}",
                 "mime_type": "image/png", "sha256": "0" * 64, "file_size": str(media["size"]), "id": media_id},
            )  # fmt: skip
        fields = request.arg("fields") or ""
        match = re.search(r"start\((\d+)\)\.end\((\d+)\)\.granularity\((\w+)\)", fields)
        if request.params["waba_id"] not in self.waba_ids or not match:
            return self._graph_error("(#100) start, end and granularity are required")
        start, end = int(match.group(1)), int(match.group(2))
        return Response(
            200,
            {"conversation_analytics": {"data": [{"data_points": [
                {"start": start, "end": end, "conversation": 6250, "phone_number": "19195552584",
                 "conversation_type": "REGULAR", "conversation_direction": "BUSINESS_INITIATED", "cost": 55.0204},
                {"start": start, "end": end, "conversation": 1000, "phone_number": "19195552584",
                 "conversation_type": "FREE_ENTRY_POINT", "conversation_direction": "USER_INITIATED", "cost": 0.0},
            ]}]}, "id": request.params["waba_id"]},
        )  # fmt: skip

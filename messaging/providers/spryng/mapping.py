"""Spryng payloads <-> normalised records (pure functions; the contract tests feed the seed's examples).

Spryng's own API is Laravel-style (`{total, per_page, current_page, last_page,
next_page_url: "", data}`, 422 `{message, errors{field: [..]}}`, 401/404
`{error: "..."}`); its WhatsApp part is a proxy to Meta's Graph API with Meta's
shapes (`{data, paging{cursors}}`, `{error{message, code}}`).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from ..base import MessageStatus, RemoteTemplate, SendResult, TemplateStatus
from ..whatsapp import meta_buttons, split_components

_POSITIONAL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# The callback timestamps (YYYYmmddHHiiss) carry no zone; Spryng is Dutch and its API answers in
# +01:00/+02:00, so we read them as Amsterdam time (the seed leaves this open).
SPRYNG_TZ = ZoneInfo("Europe/Amsterdam")


def parse_dt(value: Any) -> dt.datetime | None:
    """RFC 3339 with offset (the API), unix seconds (analytics) or YYYYmmddHHiiss (callbacks)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{14}", text):
        return dt.datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=SPRYNG_TZ)
    if re.fullmatch(r"\d{9,10}", text):
        return dt.datetime.fromtimestamp(int(text), tz=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SPRYNG_TZ)


def decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def msisdn(e164: str) -> str:
    """'+31612345678' → '31612345678': Spryng wants digits only, no '+' or '00'."""
    digits = re.sub(r"\D", "", str(e164 or ""))
    return digits[2:] if digits.startswith("00") else digits


def plus(number: Any) -> str:
    digits = re.sub(r"\D", "", str(number or ""))
    return f"+{digits}" if digits else ""


def error_message(body: Any) -> str:
    """Spryng's `error` (401/404), `message` + first field error (422…), or Meta's `error.message`."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # Meta, through the proxy
            text = str(error.get("error_user_msg") or error.get("message") or "error")
            return f"{text} (code {error['code']})" if error.get("code") is not None else text
        message = str(body.get("message") or (error if isinstance(error, str) else "") or "").strip()
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            details = []
            for field, problems in errors.items():
                first = problems[0] if isinstance(problems, list) and problems else problems
                details.append(f"{field}: {first}")
            return f"{message or 'Invalid data'} ({'; '.join(details[:5])})"
        return message
    return str(body or "").strip()[:300]


# --- SMS -------------------------------------------------------------------------------------

_RECIPIENT_STATUS = {
    "pending": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "send": MessageStatus.SENT,  # the intro's filter example spells it so
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
    "cancelled": MessageStatus.FAILED,
}


def recipient_status(value: Any) -> str:
    return _RECIPIENT_STATUS.get(str(value or "").lower(), MessageStatus.UNKNOWN).value


def laravel_page(body: Any) -> tuple[list[dict], bool]:
    """(rows, has_next) from `{data, next_page_url, current_page, last_page}` or a bare list."""
    if isinstance(body, list):
        return body, bool(body)
    if not isinstance(body, dict):
        return [], False
    rows = [r for r in (body.get("data") or []) if isinstance(r, dict)]
    if body.get("next_page_url") not in (None, ""):  # "" (not null) is the documented "no more pages"
        return rows, True
    current, last = body.get("current_page"), body.get("last_page")
    return rows, isinstance(current, int) and isinstance(last, int) and current < last


def sms_results(body: Any, recipients: list[str], reference: str, channel: str = "sms") -> list[SendResult]:
    """One SendResult per recipient of a create-message response (one message id covers them all)."""
    body = body if isinstance(body, dict) else {}
    credits = decimal(body.get("credits"))
    per_recipient = {plus(r.get("number")): r for r in body.get("recipients") or [] if isinstance(r, dict)}
    results = []
    for to in recipients:
        row = per_recipient.get(plus(to), {})
        results.append(
            SendResult(
                accepted=bool(body.get("id")),
                remote_id=str(body.get("id") or ""),
                to=plus(to),
                channel=channel,
                status=recipient_status(row.get("status")) if row else MessageStatus.QUEUED.value,
                reference=str(body.get("reference") or reference or ""),
                # credits cover the whole call; shown on each row divided evenly
                price=(credits / len(recipients)).quantize(Decimal("0.0001"))
                if credits and recipients
                else None,
                currency="credits" if credits is not None else "",
                raw=body,
            )
        )
    return results


# --- WhatsApp templates (Meta format) -----------------------------------------------------------

_TEMPLATE_STATUS = {
    "APPROVED": TemplateStatus.APPROVED,
    "PENDING": TemplateStatus.PENDING,
    "IN_APPEAL": TemplateStatus.PENDING,
    "REJECTED": TemplateStatus.REJECTED,
    "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED,
    "DELETED": TemplateStatus.DISABLED,
    "PENDING_DELETION": TemplateStatus.DISABLED,
}


def template_from_api(item: dict) -> RemoteTemplate:
    components = [c for c in (item.get("components") or []) if isinstance(c, dict)]
    parts = split_components(components, placeholder=_POSITIONAL)
    status = _TEMPLATE_STATUS.get(str(item.get("status") or "").upper(), TemplateStatus.UNKNOWN)
    return RemoteTemplate(
        remote_id=str(item.get("id") or ""),
        name=str(item.get("name") or ""),
        channel="whatsapp",
        language=str(item.get("language") or item.get("language_code") or ""),
        category=str(item.get("category") or "").upper(),  # may be Meta's legacy TRANSACTIONAL
        status=status.value,
        status_reason=str(item.get("rejected_reason") or "") if item.get("rejected_reason") != "NONE" else "",
        header=parts.header,
        body=parts.body,
        footer=parts.footer,
        buttons=parts.buttons,
        variables=parts.variables,
        components=components,
        raw=item,
    )


def template_components(template: RemoteTemplate) -> list[dict]:
    """Meta components for create/update: as given, else built from header/body/footer/buttons."""
    if template.components:
        return [dict(c) for c in template.components]
    components: list[dict] = []
    if template.header:
        header = {"type": "HEADER", "format": str(template.header.get("type") or "text").upper()}
        if template.header.get("text"):
            header["text"] = template.header["text"]
        if template.header.get("example"):
            header["example"] = template.header["example"]
        components.append(header)
    body = {"type": "BODY", "text": template.body}
    placeholders = list(dict.fromkeys(_POSITIONAL.findall(template.body or "")))
    if placeholders:  # Meta refuses variables without sample values
        samples = template.examples or {}
        body["example"] = {"body_text": [[str(samples.get(p) or f"sample {p}") for p in placeholders]]}
    components.append(body)
    if template.footer:
        components.append({"type": "FOOTER", "text": template.footer})
    if template.buttons:
        components.append({"type": "BUTTONS", "buttons": meta_buttons(template.buttons)})
    return components


def meta_page(body: Any) -> tuple[list[dict], str | None]:
    """(rows, after-cursor) from Meta's `{data, paging{cursors{after}, next}}`; None when it is the last."""
    if isinstance(body, list):
        return body, None
    if not isinstance(body, dict):
        return [], None
    rows = [r for r in (body.get("data") or []) if isinstance(r, dict)]
    paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
    after = (paging.get("cursors") or {}).get("after")
    # Graph only includes `next` when there is another page; cursors alone do not mean more.
    return rows, (str(after) if after and paging.get("next") else None)


def whatsapp_result(body: Any, to: str, reference: str) -> SendResult:
    body = body if isinstance(body, dict) else {}
    messages = body.get("messages") or []
    message_id = str(messages[0].get("id") or "") if messages and isinstance(messages[0], dict) else ""
    return SendResult(
        accepted=bool(message_id),
        remote_id=message_id,
        to=to,
        channel="whatsapp",
        status=MessageStatus.QUEUED.value if message_id else MessageStatus.FAILED.value,
        reference=reference,
        error="" if message_id else error_message(body) or "no message id in the answer",
        raw=body,
    )

"""MyOperator payloads <-> normalised records.

Pure functions, no HTTP: the contract tests feed the vendor's saved examples
straight through them. MyOperator's documentation disagrees with itself in
several places (string vs int `code`, `errors` vs `error`, list vs detail
campaign stats keys, `conversaton_id` typo); every function here accepts all
the shapes the seed shows.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import phonenumbers

from ..base import (
    CampaignStats,
    CampaignStatus,
    RemoteCampaign,
    RemoteContact,
    RemoteTemplate,
    SendResult,
    TemplateStatus,
)
from ..whatsapp import meta_buttons, split_components

_VARIABLE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
_FRACTION = re.compile(r"(\.\d{6})\d+")  # nanoseconds → microseconds


def parse_dt(value: Any) -> dt.datetime | None:
    """ISO-8601 in any of the forms MyOperator sends (µs or ns, 'Z' or '+00:00', space separator)."""
    if value in (None, "", 0):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    text = str(value).strip().replace("Z", "+00:00")
    text = _FRACTION.sub(r"\1", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def envelope_data(body: Any) -> Any:
    """The `data` of a `{status, code, message, data}` envelope (or the body when it has none)."""
    if isinstance(body, dict) and "data" in body and "status" in body:
        return body["data"]
    return body


def page_results(body: Any) -> tuple[list[dict], bool]:
    """(results, has_next) from a list envelope `data={count,next,previous,results}` or a bare list."""
    data = envelope_data(body)
    if isinstance(data, list):
        return data, bool(data)
    if not isinstance(data, dict):
        return [], False
    results = data.get("results") or []
    return list(results), data.get("next") not in (None, "")


def error_message(body: Any) -> str:
    """The vendor's own words for an error body: message, its code, and the first field detail."""
    if not isinstance(body, dict):
        text = str(body or "").strip()
        return text[:300]
    message = str(body.get("message") or body.get("details") or body.get("detail") or "").strip()
    code = body.get("code")
    detail = ""
    for key in ("errors", "error"):  # Send Message uses `error`, everything else `errors`
        value = body.get(key)
        if isinstance(value, dict) and value:
            field, problem = next(iter(value.items()))
            if isinstance(problem, list) and problem:
                problem = problem[0]
            detail = str(problem) if field == "detail" else f"{field}: {problem}"
            break
        if isinstance(value, str) and value:
            detail = value
            break
    parts = [message or "error"]
    if detail and detail != message:
        parts.append(f"({detail})")
    # Symbolic codes (CHAT_4001, not_found) say more than the HTTP status does.
    if isinstance(code, str) and code and not code.isdigit():
        parts.append(f"[{code}]")
    return " ".join(parts)


# --- phones ---------------------------------------------------------------------------------


def split_phone(e164: str) -> tuple[str, str]:
    """'+919876543210' → ('91', '9876543210'): MyOperator wants the country code apart, no '+'."""
    text = str(e164 or "").strip()
    try:
        number = phonenumbers.parse(text if text.startswith("+") else "+" + text, None)
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", text)
        return "", digits
    return str(number.country_code), str(number.national_number)


def join_phone(country_code: Any, number: Any) -> str:
    """('91' or '+91', '98765…') → '+9198765…'. Masked example numbers (XXXX, ****) pass through."""
    cc = re.sub(r"\D", "", str(country_code or ""))
    national = str(number or "").strip()
    if not national:
        return ""
    if national.startswith("+"):
        return national
    if cc and national.startswith(cc) and len(national) > 10:
        national = national[len(cc) :]  # filter-by-phone examples carry the cc prefix
    return f"+{cc}{national}" if cc else national


def plus(number: Any) -> str:
    """Webhook numbers come with or without '+'; E.164 wants it."""
    text = str(number or "").strip()
    if not text:
        return ""
    return text if text.startswith("+") or not text.isdigit() else "+" + text


# --- contacts -------------------------------------------------------------------------------


def contact_from_api(item: dict) -> RemoteContact:
    name = str(item.get("name") or "").strip()
    first, _, last = name.partition(" ")
    opt_in = item.get("marketing_opt_in")
    custom = item.get("custom_fields")
    return RemoteContact(
        remote_id=str(item.get("id") or ""),
        phone=join_phone(item.get("country_code"), item.get("phone_number")),
        first_name=first,
        last_name=last.strip(),
        email=str(item.get("email_id") or ""),
        custom_fields=dict(custom) if isinstance(custom, dict) else {},
        opted_out=None if opt_in is None else not bool(opt_in),
        blocked=None,
        created_at=parse_dt(item.get("created")),
        updated_at=parse_dt(item.get("modified")),
        version=str(item.get("modified") or ""),
        raw=item,
    )


def contact_to_api(contact: RemoteContact, *, creating: bool) -> dict:
    """The JSON body for create (name, country_code, phone_number required) or a partial PATCH."""
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p).strip()
    body: dict[str, Any] = {"name": name or contact.phone}
    if creating:
        body["country_code"], body["phone_number"] = split_phone(contact.phone)
    # The phone is immutable after create ("Phone Number cannot be updated."): never sent on PATCH.
    body["email_id"] = contact.email or None
    if contact.opted_out is not None:
        body["marketing_opt_in"] = not contact.opted_out
    if contact.custom_fields:
        body["custom_fields"] = dict(contact.custom_fields)
    return body


# --- templates ------------------------------------------------------------------------------

_TEMPLATE_STATUS = {
    "approved": TemplateStatus.APPROVED,
    "pending": TemplateStatus.PENDING,
    "in_review": TemplateStatus.PENDING,
    "submitted": TemplateStatus.PENDING,
    "rejected": TemplateStatus.REJECTED,
    "paused": TemplateStatus.PAUSED,
    "disabled": TemplateStatus.DISABLED,
    "deleted": TemplateStatus.DISABLED,
    "draft": TemplateStatus.DRAFT,
}


def template_from_api(item: dict) -> RemoteTemplate:
    components = [c for c in (item.get("components") or []) if isinstance(c, dict)]
    # Order is arbitrary in responses (FOOTER before HEADER); media headers carry an id or a URL.
    parts = split_components(
        components, header_keys=("text", "media_id", "media_url", "example"), placeholder=_VARIABLE,
        variables_in_buttons=True,
    )  # fmt: skip
    meta_status = str(item.get("waba_template_status") or "").lower()
    status = _TEMPLATE_STATUS.get(meta_status, TemplateStatus.UNKNOWN)
    if str(item.get("status") or "").lower() in ("inactive", "disabled", "deleted"):
        status = TemplateStatus.DISABLED
    return RemoteTemplate(
        remote_id=str(item.get("id") or ""),
        name=str(item.get("name") or ""),
        channel="whatsapp",
        language=str(item.get("language") or ""),
        category=str(item.get("category") or "").upper(),
        status=status.value,
        status_reason=str(item.get("failure_reason") or ""),
        header=parts.header,
        body=parts.body,
        footer=parts.footer,
        buttons=parts.buttons,
        variables=parts.variables,
        components=components,
        created_at=parse_dt(item.get("created")),
        updated_at=parse_dt(item.get("modified")),
        raw=item,
    )


def template_to_api(template: RemoteTemplate, waba_id: str) -> dict:
    """Create-template body; Meta-style components are sent as given, else built from the parts."""
    components = [dict(c) for c in template.components]
    if not components:
        if template.header:
            fmt = str(template.header.get("type") or "text").upper()
            header = {"type": "HEADER", "format": "TEXT" if fmt == "TEXT" else "MEDIA"}
            for key in ("text", "media_id", "example"):
                if template.header.get(key):
                    header[key] = template.header[key]
            components.append(header)
        components.append(
            {"type": "BODY", "format": "TEXT", "text": template.body,
             "example": _example(template.body, template.examples)}
        )  # fmt: skip
        if template.footer:
            components.append({"type": "FOOTER", "format": "TEXT", "text": template.footer})
        if template.buttons:
            components.append({"type": "BUTTONS", "buttons": meta_buttons(template.buttons)})
    return {
        "name": template.name,
        "language": template.language or "en",
        "category": (template.category or "marketing").lower(),
        "type": "template",
        "waba_id": waba_id,
        "components": components,
    }


def _example(text: str, samples: dict | None = None) -> dict:
    # Meta refuses a template whose variables have no sample values: the template's own
    # samples where it has them, else the variable's name.
    samples = samples or {}
    return {name: str(samples.get(name) or name) for name in _VARIABLE.findall(text or "")}


# --- campaigns ------------------------------------------------------------------------------

_CAMPAIGN_STATUS = {
    "completed": CampaignStatus.COMPLETED,
    "failed": CampaignStatus.FAILED,
    "cancelled": CampaignStatus.CANCELLED,
    "canceled": CampaignStatus.CANCELLED,
    "running": CampaignStatus.SENDING,
    "in_progress": CampaignStatus.SENDING,
    "scheduled": CampaignStatus.SCHEDULED,
    "paused": CampaignStatus.PAUSED,
    "draft": CampaignStatus.DRAFT,
}


def campaign_from_api(item: dict) -> RemoteCampaign:
    template = item.get("template") if isinstance(item.get("template"), dict) else {}
    status = _CAMPAIGN_STATUS.get(str(item.get("status") or "").lower(), CampaignStatus.UNKNOWN)
    return RemoteCampaign(
        remote_id=str(item.get("id") if item.get("id") is not None else ""),  # ids are ints
        name=str(item.get("name") or ""),
        status=status.value,
        channel="whatsapp",
        template_id=str(template.get("template_id") or ""),
        scheduled_at=parse_dt(item.get("scheduled_at")),
        created_at=parse_dt(item.get("created_at")),
        updated_at=parse_dt(item.get("modified_at")),
        raw=item,
    )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def campaign_stats_from_api(item: dict) -> CampaignStats:
    """Stats from a list row (count/reply/billable_count) or a detail (total/replied/billable)."""
    stats = item.get("stats") if isinstance(item.get("stats"), dict) else {}
    links = item.get("link_stats") if isinstance(item.get("link_stats"), dict) else {}
    audience = item.get("audience") if isinstance(item.get("audience"), dict) else {}
    total = stats.get("total", stats.get("count", audience.get("count")))
    sent, delivered, read = _int(stats.get("sent")), _int(stats.get("delivered")), _int(stats.get("read"))
    return CampaignStats(
        campaign_id=str(item.get("id") if item.get("id") is not None else ""),
        recipients=None if total is None else _int(total),
        queued=max(0, _int(total) - sent - _int(stats.get("failed"))) if total is not None else 0,
        sent=sent,
        delivered=delivered,
        read=read,
        failed=_int(stats.get("failed")),
        clicked=_int(links.get("visited")),
        replied=_int(stats.get("replied", stats.get("reply"))),
        raw={
            "stats": stats,
            "link_stats": links,
            "billable": stats.get("billable", stats.get("billable_count")),
        },
    )


# --- sending --------------------------------------------------------------------------------


def send_result_from_api(body: Any, *, to: str, reference: str) -> SendResult:
    """A send response: `conversaton_id` [sic] on text/media/template, `conversation_id` on interactive."""
    data = envelope_data(body) if isinstance(body, dict) else {}
    data = data if isinstance(data, dict) else {}
    ok = isinstance(body, dict) and str(body.get("status") or "").lower() == "success"
    return SendResult(
        accepted=ok,
        remote_id=str(data.get("message_id") or data.get("id") or ""),
        to=to,
        channel="whatsapp",
        status="queued" if ok else "failed",  # "sent" arrives later by webhook
        reference=reference,
        error="" if ok else error_message(body),
        raw=body if isinstance(body, dict) else {"body": body},
    )

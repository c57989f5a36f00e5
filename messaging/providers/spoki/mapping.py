"""Spoki payloads <-> normalised records.

Pure functions, no HTTP: the contract tests feed the vendor's saved examples
straight through them. Spoki documents several shapes for the same thing
(three template shapes, string and integer statuses, phones with and without
"+", custom fields by code or by id); every reader here accepts all of them
and keeps the payload on the record's `raw`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ..base import (
    CampaignStats,
    CampaignStatus,
    Channel,
    DeliveryUpdate,
    InboundMessage,
    MessageStatus,
    RemoteCampaign,
    RemoteContact,
    RemoteCustomField,
    RemoteList,
    RemoteTemplate,
    TemplateStatus,
)
from ..whatsapp import split_components

PLACEHOLDER = re.compile(r"%%([A-Za-z0-9_]+)%%")

# --- small readers ---------------------------------------------------------------------


def text(value: Any) -> str:
    return "" if value is None else str(value)


def ident(value: Any) -> str:
    """A remote id as a string; nested objects ({"id": 1, "name": …}) give their id."""
    if isinstance(value, dict):
        value = value.get("id")
    return "" if value is None or value == "" else str(value)


def parse_datetime(value: Any) -> dt.datetime | None:
    """ISO-8601 (with offset, microseconds or a trailing Z), Unix seconds, or Unix milliseconds."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # message timestamps are in ms
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    if isinstance(value, str):
        raw = value.strip()
        if raw.endswith("Z"):
            raw = raw[:-1] + "+00:00"
        # "+0000" (restriction webhooks) → "+00:00"
        raw = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", raw)
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def phone(value: Any) -> str:
    """E.164 where we can tell: Spoki returns both "+39333…" and "39333…" (account example)."""
    raw = text(value).strip().replace(" ", "")
    if not raw or raw.startswith("{{"):
        return raw
    if raw.startswith("00") and raw[2:].isdigit():
        return "+" + raw[2:]
    if raw.isdigit() and len(raw) >= 8:
        return "+" + raw
    return raw


def money_thousandths(value: Any) -> Decimal | None:
    """Spoki money is an integer of thousandths (partner API: 10000 = 10 units; credit likewise)."""
    if value in (None, ""):
        return None
    try:
        return (Decimal(str(value)) / 1000).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def credit_amount(value: Any) -> Decimal | None:
    """An account's current_credit, documented in two units.

    The saved example has the integer 8556300 next to low_credit_threshold 15000 and 85,563
    estimated conversations (thousandths: €8,556.30); the description's example has the float
    100.0 next to low_credit_threshold 10.0 and 500 conversations (euros). A JSON float is read
    as euros, an integer as thousandths, like the partner API's money.
    """
    if isinstance(value, float):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if isinstance(value, str) and "." in value:
        try:
            return Decimal(value).quantize(Decimal("0.01"))
        except InvalidOperation:
            return None
    return money_thousandths(value)


# --- contacts --------------------------------------------------------------------------


def custom_fields_from(payload: dict) -> dict[str, Any]:
    """{CODE: value} from contactfield_values, or contactfield_set (code, or %%CODE%%, or field id)."""
    values: dict[str, Any] = {}
    for item in payload.get("contactfield_set") or []:
        if not isinstance(item, dict):
            continue
        code = item.get("code") or ""
        if not code:
            match = PLACEHOLDER.fullmatch(text(item.get("visual_code")))
            code = match.group(1) if match else ""
        if not code:
            # No code on the REST shape: fall back to the field id (the sync_all example writes by id).
            code = ident(item.get("field") if item.get("field") is not None else item.get("filed"))
        if not code:
            continue
        value = item.get("value")
        if value in (None, "") and item.get("value_datetime"):
            value = item["value_datetime"]
        values[code] = value
    if isinstance(payload.get("contactfield_values"), dict):
        values.update(payload["contactfield_values"])
    if isinstance(payload.get("custom_fields"), dict):
        values.update(payload["custom_fields"])
    return values


def contact_from_api(payload: dict) -> RemoteContact:
    """Any Spoki contact shape: full (list/retrieve), short (sync), PATCH, or webhook."""
    tags = [text(t.get("name")) for t in payload.get("tag_set") or [] if isinstance(t, dict)]
    list_ids = [ident(item) for item in payload.get("list_set") or [] if ident(item)]
    blocked = payload.get("is_blocked")
    return RemoteContact(
        remote_id=ident(payload.get("id")),
        phone=phone(payload.get("phone")),
        first_name=text(payload.get("first_name")),
        last_name=text(payload.get("last_name")),
        email=text(payload.get("email")),
        language=text(payload.get("language")).lower(),
        custom_fields=custom_fields_from(payload),
        tags=tags,
        list_ids=list_ids,
        blocked=blocked if isinstance(blocked, bool) else None,
        created_at=parse_datetime(payload.get("created_datetime")),
        raw=payload,
    )


def contact_to_api(contact: RemoteContact, fields: frozenset[str] | None = None) -> dict[str, Any]:
    """The ContactInput body for sync/, sync_all/, PATCH and list sync_contacts/."""
    body: dict[str, Any] = {"phone": contact.phone}
    for key in ("first_name", "last_name", "email", "language"):
        value = getattr(contact, key)
        if value:
            body[key] = value
    if contact.custom_fields:
        # Written by code ({"WEBSITE": "…"}), as the docs' bodies do; ids stay as given.
        body["custom_fields"] = {
            str(k): ("" if v is None else v if isinstance(v, (str, int, float, bool)) else str(v))
            for k, v in contact.custom_fields.items()
        }
    return body


# --- lists and custom fields -----------------------------------------------------------------


def list_from_api(payload: dict) -> RemoteList:
    count = payload.get("contacts_count")
    return RemoteList(
        remote_id=ident(payload.get("id")),
        name=text(payload.get("name")),
        member_count=count if isinstance(count, int) else None,
        created_at=parse_datetime(payload.get("created_datetime")),
        raw=payload,
    )


# field_type is documented twice: TEXT=1/DATE=2/DATETIME=3 (create) and 1 Text/2 Date/3 Number/4 URL
# (custom-fields-used). 3 is read as a date when its example looks like one, else as a number.
def custom_field_type(payload: dict) -> str:
    kind = payload.get("field_type")
    if isinstance(kind, str) and not kind.isdigit():
        lowered = kind.lower()
        return {"datetime": "date", "url": "text"}.get(lowered, lowered)
    kind = int(kind) if kind not in (None, "") else 1
    if kind == 2:
        return "date"
    if kind == 3:
        example = text(payload.get("example"))
        try:
            Decimal(example)
            return "number"
        except InvalidOperation:
            return "date" if example else "number"
    return "text"


CUSTOM_FIELD_TYPE_CODES = {"text": 1, "date": 2, "number": 3}


def custom_field_from_api(payload: dict) -> RemoteCustomField:
    code = text(payload.get("code"))
    if not code:
        match = PLACEHOLDER.fullmatch(text(payload.get("visual_code")))
        code = match.group(1) if match else ""
    return RemoteCustomField(
        remote_id=ident(payload.get("id")),
        key=code,
        label=text(payload.get("label")) or code,
        type=custom_field_type(payload),
        raw=payload,
    )


def custom_field_to_api(field: RemoteCustomField) -> dict[str, Any]:
    code = re.sub(r"[^A-Z0-9_]+", "_", (field.key or field.label).upper()).strip("_")
    body: dict[str, Any] = {
        "label": field.label or code,
        "code": code,
        "field_type": CUSTOM_FIELD_TYPE_CODES.get(field.type, 1),
    }
    example = field.raw.get("example") if field.raw else None
    if example:
        body["example"] = example
    return body


# --- templates -------------------------------------------------------------------------------

# Responses use names, requests integers (status: 0 = DRAFT). FLAGGED templates can still be sent.
TEMPLATE_STATUS_CODES = {
    0: "DRAFT", 1: "PENDING", 2: "WAITING_FOR_REVIEW", 3: "APPROVED", 4: "REJECTED",
    9: "PAUSED", 11: "FLAGGED", 14: "DISABLED",
}  # fmt: skip
TEMPLATE_STATUS = {
    "DRAFT": TemplateStatus.DRAFT, "PENDING": TemplateStatus.PENDING,
    "WAITING_FOR_REVIEW": TemplateStatus.PENDING, "IN_APPEAL": TemplateStatus.PENDING,
    "APPROVED": TemplateStatus.APPROVED, "FLAGGED": TemplateStatus.APPROVED,
    "REJECTED": TemplateStatus.REJECTED, "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED, "DELETED": TemplateStatus.DISABLED,
}  # fmt: skip


def template_status(value: Any) -> str:
    if isinstance(value, bool):
        return (TemplateStatus.APPROVED if value else TemplateStatus.UNKNOWN).value
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        value = TEMPLATE_STATUS_CODES.get(int(value), "")
    return TEMPLATE_STATUS.get(text(value).upper().replace(" ", "_"), TemplateStatus.UNKNOWN).value


def _component_text(component: Any) -> str:
    if isinstance(component, dict):
        return text(component.get("text"))
    return text(component)


def _header(component: Any, media: Any = None) -> dict[str, Any]:
    if not component and not media:
        return {}
    component = component if isinstance(component, dict) else {"text": text(component)}
    kind = text(component.get("format") or "text").lower()
    header: dict[str, Any] = {"type": kind}
    if component.get("text"):
        header["text"] = component["text"]
    if isinstance(media, dict) and (media.get("url") or media.get("media") or media.get("external_url")):
        header["url"] = media.get("url") or media.get("media") or media.get("external_url")
    elif isinstance(media, str) and media:
        header["url"] = media
    return header


def _buttons(items: Any) -> list[dict[str, Any]]:
    buttons = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        button = {
            "type": text(item.get("button_type") or item.get("type")).lower(),
            "text": text(item.get("text")),
        }
        for key in ("url", "phone_number", "payload"):
            if item.get(key):
                button[key] = item[key]
        if item.get("order") is not None:
            button["order"] = item["order"]
        buttons.append(button)
    return sorted(buttons, key=lambda b: b.get("order", 0))


def _variables(*texts: str, declared: Any = None) -> list[str]:
    found: list[str] = []
    for code in [PLACEHOLDER.fullmatch(text(v)) for v in declared or []]:
        if code and code.group(1) not in found:
            found.append(code.group(1))
    for chunk in texts:
        for code in PLACEHOLDER.findall(chunk or ""):
            if code not in found:
                found.append(code)
        for number in re.findall(r"\{\{(\d+)\}\}", chunk or ""):  # Meta style in one localization
            if number not in found:
                found.append(number)
    return found


def _localization_to_template(payload: dict, loc: dict) -> RemoteTemplate:
    # Shape 2 (create/update/clone): *_template_component + templatebuttoncomponent_set.
    # Shape 3 (list/retrieve/webhooks): header/body/footer + button_set.
    header_c = loc.get("header_template_component", loc.get("header"))
    body_c = loc.get("body_template_component", loc.get("body"))
    footer_c = loc.get("footer_template_component", loc.get("footer"))
    buttons = loc.get("templatebuttoncomponent_set")
    if buttons is None:
        buttons = loc.get("button_set")
    body = _component_text(body_c)
    header = _header(header_c, loc.get("default_header_media"))
    carousel = loc.get("templatecarouselcomponent_set")
    if carousel is None:
        carousel = loc.get("carouselcomponent_set")
    components = []
    if carousel:
        components.append({"type": "CAROUSEL", "cards": carousel})
    status = template_status(loc.get("status"))
    reason = text(loc.get("rejection_reason"))
    if text(loc.get("status")).upper() == "FLAGGED" or loc.get("status") == 11:
        reason = reason or "Flagged by WhatsApp: sending is limited."
    return RemoteTemplate(
        remote_id=ident(payload.get("id")),
        name=text(payload.get("name")),
        channel=Channel.WHATSAPP.value,
        language=text(loc.get("language")),
        category=text(payload.get("category")).upper(),
        status=status,
        status_reason=reason,
        header=header,
        body=body,
        footer=_component_text(footer_c),
        buttons=_buttons(buttons),
        variables=_variables(header.get("text", ""), body, declared=payload.get("customfield_set")),
        components=components,
        raw=payload,
    )


def _meta_to_template(payload: dict) -> RemoteTemplate:
    # Shape 1 (the create description): Meta-style `components`.
    parts = split_components(payload.get("components") or [], header_keys=("text",))
    return RemoteTemplate(
        remote_id=ident(payload.get("id")),
        name=text(payload.get("name")),
        language=text(payload.get("language")),
        category=text(payload.get("category")).upper(),
        status=template_status(payload.get("status", payload.get("is_approved"))),
        header=parts.header,
        body=parts.body,
        footer=parts.footer,
        buttons=_buttons(parts.buttons),
        variables=_variables(parts.header.get("text", ""), parts.body),
        components=list(payload.get("components") or []),
        raw=payload,
    )


def templates_from_api(payload: dict) -> list[RemoteTemplate]:
    """One RemoteTemplate per localization (status is per language); all share the template's id."""
    localizations = payload.get("templatelocalization_set")
    if localizations:
        return [_localization_to_template(payload, loc) for loc in localizations if isinstance(loc, dict)]
    if payload.get("components") is not None or payload.get("language"):
        return [_meta_to_template(payload)]
    # A template without localizations (e.g. the webhook's template.deleted {id}).
    return [
        RemoteTemplate(
            remote_id=ident(payload.get("id")),
            name=text(payload.get("name")),
            category=text(payload.get("category")).upper(),
            status=template_status(payload.get("is_approved")) if "is_approved" in payload else "unknown",
            raw=payload,
        )
    ]


def template_to_api(template: RemoteTemplate, localization_id: Any = None) -> dict[str, Any]:
    """The documented working body (templatelocalization_set), one localization per call."""

    def component(kind: str, value: str, fmt: str | None = None) -> dict[str, Any] | None:
        if not value and kind != "body":
            return None
        return {"component_type": kind, "parameters": [], "format": fmt, "text": value}

    header = None
    if template.header:
        fmt = text(template.header.get("type") or "text").lower()
        header = {"component_type": "header", "parameters": [], "format": fmt,
                  "text": template.header.get("text", "")}  # fmt: skip
    buttons = [
        {
            "component_type": None,
            "text": b.get("text", ""),
            "order": b.get("order", i),
            "button_type": b.get("type") or b.get("button_type") or "quick_reply",
            "phone_number": b.get("phone_number"),
            "form_id": None,
            "url": b.get("url"),
            "send_as_shortlink": None,
        }
        for i, b in enumerate(template.buttons)
    ]
    localization: dict[str, Any] = {
        "language": template.language or "en",
        "status": 0,
        "header_template_component": header,
        "body_template_component": component("body", template.body),
        "footer_template_component": component("footer", template.footer),
        "templatebuttoncomponent_set": buttons,
        "example_custom_fields": {
            v: str((template.examples or {}).get(v) or v.title())
            for v in template.variables
            if not v.isdigit()
        },
        "example_header_media": template.header.get("url") if template.header else None,
        "default_header_media": None,
        "templatecarouselcomponent_set": None,
    }
    if localization_id is not None:
        localization["id"] = localization_id
    return {
        "name": template.name,
        "category": (template.category or "MARKETING").upper(),
        "subcategory": (template.raw or {}).get("subcategory") or "CLASSIC",
        "templatelocalization_set": [localization],
    }


# --- campaigns -------------------------------------------------------------------------------

# Documented strings: Draft, Scheduled, Processing, Completed (+ "paused" in the webhook docs).
# The retrieve example shows the integer 4 on a finished campaign; the other integers are a guess
# in the same order, and anything unknown stays "unknown" rather than being invented.
CAMPAIGN_STATUS = {
    "DRAFT": CampaignStatus.DRAFT, "SCHEDULED": CampaignStatus.SCHEDULED,
    "PROCESSING": CampaignStatus.SENDING, "RUNNING": CampaignStatus.SENDING,
    "SENDING": CampaignStatus.SENDING, "COMPLETED": CampaignStatus.COMPLETED,
    "DONE": CampaignStatus.COMPLETED, "PAUSED": CampaignStatus.PAUSED,
    "FAILED": CampaignStatus.FAILED, "CANCELLED": CampaignStatus.CANCELLED,
    "CANCELED": CampaignStatus.CANCELLED,
}  # fmt: skip
CAMPAIGN_STATUS_CODES = {1: "DRAFT", 2: "SCHEDULED", 3: "PROCESSING", 4: "COMPLETED", 5: "PAUSED"}
CAMPAIGN_STATUS_OUT = {
    CampaignStatus.DRAFT.value: "Draft", CampaignStatus.SCHEDULED.value: "Scheduled",
    CampaignStatus.SENDING.value: "Processing", CampaignStatus.COMPLETED.value: "Completed",
}  # fmt: skip


def campaign_status(value: Any) -> str:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        value = CAMPAIGN_STATUS_CODES.get(int(value), "")
    return CAMPAIGN_STATUS.get(text(value).upper(), CampaignStatus.UNKNOWN).value


def campaign_from_api(payload: dict) -> RemoteCampaign:
    """Both shapes: read (nested automation/lists) and create/update (ids)."""
    status = payload.get("status", payload.get("new_status"))
    return RemoteCampaign(
        remote_id=ident(payload.get("id")),
        name=text(payload.get("name")),
        status=campaign_status(status),
        channel=Channel.WHATSAPP.value,
        template_id=ident(payload.get("template")),
        list_ids=[ident(item) for item in payload.get("lists") or [] if ident(item)],
        scheduled_at=parse_datetime(payload.get("scheduled_datetime")),
        created_at=parse_datetime(payload.get("created_datetime")),
        raw=payload,
    )


def campaign_to_api(campaign: RemoteCampaign) -> dict[str, Any]:
    body: dict[str, Any] = {"name": campaign.name}
    if campaign.scheduled_at:
        body["scheduled_datetime"] = campaign.scheduled_at.isoformat()
    status = CAMPAIGN_STATUS_OUT.get(campaign.status)
    if status:
        body["status"] = status
    automation = (campaign.raw or {}).get("automation")
    if campaign.template_id:
        # A template link may name one localisation ("id|language"); the campaign takes the id.
        body["template"] = int(str(campaign.template_id).split("|", 1)[0])
    elif automation:
        body["automation"] = int(ident(automation))
    if campaign.list_ids:
        body["lists"] = [int(i) for i in campaign.list_ids]
    return body


def _count(payload: dict, key: str) -> int:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def campaign_stats_from_api(payload: dict) -> CampaignStats:
    """Spoki keeps the counters on the campaign (cached 2 min; 24 h once completed)."""
    recipients = payload.get("contacts_count")
    read = _count(payload, "messages_read")
    return CampaignStats(
        campaign_id=ident(payload.get("id")),
        recipients=recipients if isinstance(recipients, int) else None,
        sent=max(_count(payload, "messages_sent"), read),  # a read message was sent
        read=read,
        failed=_count(payload, "messages_failed"),
        replied=_count(payload, "messages_received"),
        # Spoki's "interacted with" counts button/list taps in the campaign's automation.
        clicked=_count(payload, "automation_interacted_with"),
        raw=payload,
    )


# --- messages and webhooks ---------------------------------------------------------------------

MESSAGE_STATUS = {
    "QUEUED": MessageStatus.QUEUED, "PENDING": MessageStatus.QUEUED, "ACCEPTED": MessageStatus.QUEUED,
    "SCHEDULED": MessageStatus.QUEUED, "WAITING": MessageStatus.QUEUED, "---": MessageStatus.QUEUED,
    "SENT": MessageStatus.SENT, "DELIVERED": MessageStatus.DELIVERED, "READ": MessageStatus.READ,
    "SEEN": MessageStatus.READ, "PLAYED": MessageStatus.READ, "FAILED": MessageStatus.FAILED,
    "ERROR": MessageStatus.FAILED, "UNDELIVERED": MessageStatus.FAILED,
    "REJECTED": MessageStatus.FAILED, "EXPIRED": MessageStatus.FAILED, "DELETED": MessageStatus.FAILED,
}  # fmt: skip


def message_status(value: Any, *, error: Any = None) -> str:
    status = MESSAGE_STATUS.get(text(value).strip().upper(), MessageStatus.UNKNOWN)
    if error and status in (MessageStatus.UNKNOWN, MessageStatus.QUEUED):
        return MessageStatus.FAILED.value
    return status.value


def _reference(data: dict) -> str:
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        for key in ("reference", "switchboard_reference", "ref"):
            if metadata.get(key) not in (None, ""):
                return str(metadata[key])
    return ""


def delivery_from_message(data: dict, *, event_id: str = "", raw: dict | None = None) -> DeliveryUpdate:
    """An outbound message (webhook data, or a row of GET /messages/) as a delivery update."""
    status = data.get("send_status", data.get("status"))
    error = data.get("send_error_message") or data.get("error_code")
    occurred = (
        parse_datetime(data.get("read_datetime"))
        or parse_datetime(data.get("delivered_datetime"))
        or parse_datetime(data.get("sent_datetime"))
        or parse_datetime(data.get("timestamp"))
        or parse_datetime(data.get("created_datetime") or data.get("created_at"))
    )
    return DeliveryUpdate(
        remote_message_id=text(data.get("uuid") or data.get("id")),
        status=message_status(status, error=error),
        occurred_at=occurred,
        reference=_reference(data),
        to=phone(data.get("to_phone") or data.get("phone_number") or data.get("phone")),
        channel=Channel.WHATSAPP.value,
        error_code=text(data.get("error_code")),
        error_message=text(data.get("send_error_message")),
        event_id=event_id,
        raw=raw if raw is not None else data,
    )


def _media_url(data: dict) -> str:
    # Each media arrives twice: first a temporary link with a generic type, then the real one with
    # a MIME type ("image/jpeg"). Take the last one that has a real MIME type.
    url = ""
    for media in data.get("mediamessage_set") or []:
        if isinstance(media, dict) and "/" in text(media.get("content_type")) and media.get("media"):
            url = media["media"]
    return url


def inbound_from_message(data: dict, *, raw: dict | None = None) -> InboundMessage:
    preview = data.get("preview") if isinstance(data.get("preview"), dict) else {}
    return InboundMessage(
        remote_id=text(data.get("uuid") or data.get("id")),
        from_phone=phone(data.get("from_phone") or (data.get("contact") or {}).get("phone")),
        to=phone(data.get("to_phone")),
        channel=Channel.WHATSAPP.value,
        text=text(data.get("text") or preview.get("body") or data.get("payload")),
        media_url=_media_url(data),
        received_at=parse_datetime(data.get("timestamp")) or parse_datetime(data.get("created_datetime")),
        raw=raw if raw is not None else data,
    )


def unwrap_envelope(payload: Any) -> tuple[str, dict, dict]:
    """(event, data, envelope); copes with the double-nested form_answer example."""
    if not isinstance(payload, dict):
        return "", {}, {}
    envelope = payload
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    if "event" in data and isinstance(data.get("data"), dict):
        envelope, data = data, data["data"]
    return text(envelope.get("event") or payload.get("event")), data, envelope


def events_from_webhook(payload: Any) -> list:
    """Normalised events from one webhook envelope (V1 or V2). Events we do not model give []."""
    event, data, envelope = unwrap_envelope(payload)
    event_id = text(envelope.get("event_uuid"))
    if event == "message.inbound":
        return [inbound_from_message(data, raw=payload)]
    if event == "message.outbound":
        return [delivery_from_message(data, event_id=event_id, raw=payload)]
    # message.note is an internal chat note, not a message to a contact; contact/template/campaign
    # events are reconciled by the sync engine's pulls.
    return []

"""Qlara payloads <-> normalised records.

Pure functions, no HTTP: the contract tests feed the vendor's saved examples
straight through them. Qlara's two documents disagree in many places (the
Postman collection, "PM", and the markdown guide, "MD"); every reader here
accepts both spellings, and keeps the raw payload on the record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from ..base import (
    CampaignStats,
    CampaignStatus,
    Channel,
    DeliveryUpdate,
    MessageStatus,
    RemoteCampaign,
    RemoteContact,
    RemoteList,
    RemoteTemplate,
    TemplateStatus,
)

# Qlara bills in euro (an Italian carrier; the guide's credit examples are plain numbers).
CURRENCY = "EUR"

# --- small readers ----------------------------------------------------------------------------


def text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def first(*values: Any) -> Any:
    """The first value that is not None/""/[] (Qlara spells one field several ways)."""
    for value in values:
        if value not in (None, "", [], {}):
            return value
    return None


def to_datetime(value: Any) -> dt.datetime | None:
    """Parse every timestamp style the seeds show; naive values are UTC.

    ISO with Z or an offset, `yyyy-MM-dd HH:mm:ss.SSSZ` (schedule fields), a bare
    date (PM placeholders), or epoch seconds/milliseconds.
    """
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    raw = text(value).strip()
    parsed = None
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        parsed = None
    if parsed is None:
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        if day is None:
            return None
        parsed = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def to_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    moment = to_datetime(value)
    return moment.date() if moment else None


def to_decimal(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def to_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def schedule_format(moment: dt.datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss.SSSZ`, the format Qlara's schedule fields take."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def ids_csv(ids: Iterable[Any]) -> str:
    return ",".join(str(i) for i in ids)


def int_ids(ids: Iterable[Any]) -> list[int | str]:
    """Qlara ids are integers; keep anything non-numeric as is rather than guess."""
    out: list[int | str] = []
    for value in ids:
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            out.append(value)
    return out


# --- collections: every envelope the documents show -------------------------------------------

ITEM_KEYS = ("data", "content", "items", "results", "records", "contacts", "lists", "campaigns", "templates")


def extract_items(body: Any) -> list[dict[str, Any]]:
    """The records of a listing: a bare array (PM), `{data, pagination}` (MD), a Spring page
    (`content`), or the `{}` placeholder PM shows for several listings (no records)."""
    if body is None or body == "":
        return []
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if isinstance(body, dict):
        for key in ITEM_KEYS:
            value = body.get(key)
            if isinstance(value, list):
                return [item for item in value if isinstance(item, dict)]
        if "id" in body:  # a single record where a list was expected (PM's socials example)
            return [body]
    return []


def extract_one(body: Any) -> dict[str, Any]:
    """A single resource: a bare object (PM), `{data: {...}}`, or the first of a one-item list."""
    if isinstance(body, dict):
        inner = body.get("data")
        if isinstance(inner, dict):
            return inner
        if isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0], dict):
            return inner[0]
        return body
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0]
    return {}


def pagination_of(body: Any) -> dict[str, Any] | None:
    """The paging block of an envelope: MD's `pagination{offset,limit,total}` or the exports
    style `{page, limit, totalCount, totalPages}` (also Spring's `totalElements`)."""
    if not isinstance(body, dict):
        return None
    block = body.get("pagination")
    if isinstance(block, dict):
        return block
    if any(key in body for key in ("totalCount", "totalPages", "totalElements", "total")):
        return body
    return None


# --- contacts ----------------------------------------------------------------------------------

CUSTOM_SLOTS = ("customField1", "customField2", "customField3")


def contact_from_api(data: Mapping[str, Any]) -> RemoteContact:
    """A Qlara contact (PM's 51 fields, or MD's `phone`/`birthDate`/`nation`… spelling)."""
    phones = data.get("phoneNumbers") or []
    emails = data.get("emailAddresses") or []
    addresses = data.get("addresses") or []
    first_name = text(data.get("firstName"))
    last_name = text(data.get("lastName"))
    if not (first_name or last_name) and data.get("fullName"):
        first_name, _, last_name = text(data["fullName"]).partition(" ")
    return RemoteContact(
        remote_id=text(data.get("id")),
        phone=text(first(data.get("mobilePhoneNumber"), phones[0] if phones else None, data.get("phone"))),
        first_name=first_name,
        last_name=last_name,
        email=text(first(data.get("mainEmail"), emails[0] if emails else None, data.get("email"))),
        gender=text(data.get("gender")),
        birth_date=to_date(first(data.get("birthday"), data.get("birthDate"))),
        company=text(first(data.get("companyName"), data.get("organization"), data.get("company"))),
        address=text(first(addresses[0] if addresses else None, data.get("address"))),
        city=text(data.get("city")),
        province=text(data.get("province")),
        postal_code=text(data.get("cap")),
        country=text(first(data.get("country"), data.get("nation"))),
        notes=text(data.get("notes")),
        custom_fields={slot: data[slot] for slot in CUSTOM_SLOTS if data.get(slot) not in (None, "")},
        tags=[text(tag) for tag in data.get("tags") or []],
        list_ids=[text(i) for i in data.get("listIds") or []],
        created_at=to_datetime(first(data.get("createdAt"), data.get("creationDate"))),
        updated_at=to_datetime(first(data.get("updatedAt"), data.get("lastUpdateDate"))),
        version=text(first(data.get("updatedAt"), data.get("lastUpdateDate"))),
        raw=dict(data),
    )


def contact_to_api(contact: RemoteContact, *, partial: bool = False) -> dict[str, Any]:
    """The create/update body. PM's field names, plus MD's required `phone`.

    Only fields Qlara stores are sent (see QlaraProvider.contact_fields). On update
    (`partial`), empty strings are sent so a value cleared here is cleared there;
    on create, empty fields are left out.
    """
    full_name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    body: dict[str, Any] = {
        "fullName": full_name,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "gender": contact.gender,
        "mainEmail": contact.email,
        "city": contact.city,
        "country": contact.country,
        "companyName": contact.company,
        "notes": contact.notes,
        "phone": contact.phone,
    }
    raw = contact.raw if isinstance(contact.raw, dict) else {}
    # Qlara keeps several numbers, addresses and e-mails; we manage the main one and keep the rest.
    phones = keep_others(contact.phone, raw.get("phoneNumbers"), raw.get("mobilePhoneNumber"))
    if phones or partial:
        body["phoneNumbers"] = phones
    emails = keep_others(contact.email, raw.get("emailAddresses"), raw.get("mainEmail"))
    if emails or partial:
        body["emailAddresses"] = emails
    addresses = keep_others(contact.address, raw.get("addresses"), None)
    if addresses or partial:
        body["addresses"] = addresses
    if contact.birth_date:
        body["birthday"] = contact.birth_date.isoformat()
    if contact.tags or partial:
        body["tags"] = list(contact.tags)
    for slot in CUSTOM_SLOTS:
        value = contact.custom_fields.get(slot)
        if value not in (None, "") or partial:
            body[slot] = "" if value is None else text(value)
    if not partial:
        body = {key: value for key, value in body.items() if value not in ("", [], None)}
    return body


def keep_others(main: str, values: Any, old_main: Any) -> list[str]:
    """`main` first, then the record's other values, minus the one `main` replaces."""
    values = [text(v) for v in values or [] if v not in (None, "")]
    replaced = text(old_main) if old_main else (values[0] if values else "")
    rest = [v for v in values if v not in (main, replaced)]
    return ([main] if main else []) + rest


def contacts_from_write(body: Any) -> tuple[list[RemoteContact], list[str]]:
    """Create/update answer: PM's `{contacts:[...], errors:[...]}` or MD's bare resource."""
    if isinstance(body, dict) and ("contacts" in body or "errors" in body):
        contacts = [contact_from_api(c) for c in body.get("contacts") or [] if isinstance(c, dict)]
        errors = [text(e) for e in body.get("errors") or [] if e not in (None, "")]
        return contacts, errors
    one = extract_one(body)
    return ([contact_from_api(one)] if one else []), []


# --- lists -------------------------------------------------------------------------------------


def list_from_api(data: Mapping[str, Any]) -> RemoteList:
    """A contact list: PM's `numContact`/`createdAt` or MD's `numContacts`/`creationDate`."""
    count = first(data.get("numContact"), data.get("numContacts"))
    return RemoteList(
        remote_id=text(data.get("id")),
        name=text(data.get("name")),
        description=text(data.get("description")),
        member_count=to_int(count) if count is not None else None,
        created_at=to_datetime(first(data.get("createdAt"), data.get("creationDate"))),
        updated_at=to_datetime(first(data.get("updatedAt"), data.get("lastUpdateDate"))),
        version=text(first(data.get("updatedAt"), data.get("lastUpdateDate"))),
        raw=dict(data),
    )


def list_to_api(remote_list: RemoteList) -> dict[str, Any]:
    return {"name": remote_list.name, "description": remote_list.description}


def is_deleted_list(data: Mapping[str, Any]) -> bool:
    return data.get("isDeleted") is True


# --- templates ---------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{\{?\s*([A-Za-z0-9_]+)\s*\}?\}")
WA_STATUS = {
    "APPROVED": TemplateStatus.APPROVED, "PENDING": TemplateStatus.PENDING,
    "REJECTED": TemplateStatus.REJECTED, "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED, "DRAFT": TemplateStatus.DRAFT,
    "IN_APPEAL": TemplateStatus.PENDING, "PENDING_DELETION": TemplateStatus.DISABLED,
}  # fmt: skip


def template_id(channel: str, remote_id: Any) -> str:
    """Our template remote id: WhatsApp and RCS templates live in two id spaces."""
    return f"{channel}:{remote_id}"


def split_template_id(remote_id: str) -> tuple[str, str]:
    """`whatsapp:42` → ("whatsapp", "42"); a bare id is a WhatsApp template."""
    channel, sep, raw = str(remote_id).partition(":")
    if sep and channel in (Channel.WHATSAPP.value, Channel.RCS.value):
        return channel, raw
    return Channel.WHATSAPP.value, str(remote_id)


def variables_in(*texts: str) -> list[str]:
    seen: list[str] = []
    for value in texts:
        for name in PLACEHOLDER.findall(value or ""):
            if name not in seen:
                seen.append(name)
    return seen


def whatsapp_template_from_api(data: Mapping[str, Any]) -> RemoteTemplate:
    """MD's WhatsApp template fields (no response is documented; the create fields are read)."""
    header: dict[str, Any] = {}
    if data.get("headerText"):
        header = {"type": "text", "text": text(data["headerText"])}
    elif data.get("headerFormat"):
        header = {"type": text(data["headerFormat"]).lower(), "url": text(data.get("headerMediaUrl"))}
    body = data.get("body")
    body_text = body if isinstance(body, str) else text((body or {}).get("text"))
    status = text(data.get("status")).upper()
    return RemoteTemplate(
        remote_id=template_id(Channel.WHATSAPP.value, data.get("id")),
        name=text(data.get("name")),
        channel=Channel.WHATSAPP.value,
        language=text(first(data.get("lang"), data.get("language"))),
        category=text(data.get("category")).upper(),
        status=WA_STATUS.get(status, TemplateStatus.UNKNOWN).value,
        status_reason=text(
            first(data.get("rejectedReason"), data.get("rejectionReason"), data.get("reason"))
        ),
        header=header,
        body=body_text,
        footer=text(data.get("footer")),
        buttons=[_wa_button(b) for b in data.get("buttons") or [] if isinstance(b, dict)],
        variables=variables_in(body_text, header.get("text", "")),
        created_at=to_datetime(first(data.get("createdAt"), data.get("creationDate"))),
        updated_at=to_datetime(first(data.get("updatedAt"), data.get("lastUpdateDate"))),
        raw=dict(data),
    )


def _wa_button(b: Mapping[str, Any]) -> dict[str, Any]:
    """Qlara's {type: URL, phoneNumber} → the normalised {type: url, phone_number}."""
    out = {k: v for k, v in b.items() if k not in ("type", "phoneNumber")}
    out["type"] = text(b.get("type")).lower()
    if b.get("phoneNumber"):
        out["phone_number"] = b["phoneNumber"]
    return out


def whatsapp_template_to_api(template: RemoteTemplate) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": template.name,
        "lang": template.language,
        "category": (template.category or "MARKETING").upper(),
        "body": template.body,
    }
    header = template.header or {}
    if header.get("type") == "text" and header.get("text"):
        body["headerText"] = header["text"]
    elif header.get("type") in ("image", "video", "document"):
        body["headerFormat"] = header["type"].upper()
        if header.get("url"):
            body["headerMediaUrl"] = header["url"]
    if template.footer:
        body["footer"] = template.footer
    if template.buttons:
        body["buttons"] = [
            {
                **{k: v for k, v in b.items() if k in ("text", "url", "phoneNumber")},
                "type": str(b.get("type") or "QUICK_REPLY").upper(),
                **({"phoneNumber": b["phone_number"]} if b.get("phone_number") else {}),
            }
            for b in template.buttons
        ]
    return body


def rcs_template_from_api(data: Mapping[str, Any]) -> RemoteTemplate:
    """An RCS template: TEXT, CARD or CAROUSEL body; buttons are its suggestions (normalised)."""
    body = data.get("body") if isinstance(data.get("body"), dict) else {}
    kind = text(data.get("type")).upper()
    cards: list[dict[str, Any]] = []
    if kind == "CARD":
        cards = [_rcs_card_from_api(body.get("card") or {})]
        body_text = ""
        suggestions = list(body.get("suggestions") or [])
    elif kind == "CAROUSEL":
        cards = [_rcs_card_from_api(c) for c in body.get("cards") or [] if isinstance(c, dict)]
        body_text = ""
        suggestions = list(body.get("suggestions") or [])
    else:
        body_text = text(body.get("text")) if body else text(data.get("body"))
        suggestions = list(body.get("suggestions") or [])
    enabled = data.get("enabled")
    if enabled is not None:
        status = TemplateStatus.APPROVED if str(enabled).lower() in ("1", "true") else TemplateStatus.DISABLED
    else:
        status = WA_STATUS.get(text(data.get("status")).upper(), TemplateStatus.UNKNOWN)
    fallback = body.get("fallbackSms") if isinstance(body.get("fallbackSms"), dict) else {}
    texts = [body_text, text(fallback.get("text"))] + [f"{c['title']} {c['description']}" for c in cards]
    return RemoteTemplate(
        remote_id=template_id(Channel.RCS.value, data.get("id")),
        name=text(data.get("name")),
        channel=Channel.RCS.value,
        category=kind,
        status=status.value,
        body=body_text,
        buttons=[rcs_suggestion_from_api(s) for s in suggestions if isinstance(s, dict)],
        cards=cards,
        fallback_text=text(fallback.get("text")),
        variables=variables_in(*texts),
        created_at=to_datetime(first(data.get("createdAt"), data.get("creationDate"))),
        updated_at=to_datetime(first(data.get("updatedAt"), data.get("lastUpdateDate"))),
        raw=dict(data),
    )


# Normalised RCS suggestions ({"type": "url", "text", "url"}) ↔ Qlara's ({"type": "url", "text",
# "url": {"url"}}); every type the MD documents.
def rcs_suggestion_to_api(s: Mapping[str, Any]) -> dict[str, Any]:
    kind, label = text(s.get("type")).lower(), text(s.get("text"))
    if kind == "url":
        return {"type": "url", "text": label, "url": {"url": text(s.get("url"))}}
    if kind == "dial":
        return {"type": "dial", "text": label, "dial": {"phoneNumber": text(s.get("phone_number"))}}
    if kind in ("location", "share_location") and s.get("query"):
        return {"type": "locationQuery", "text": label, "locationQuery": {"query": text(s["query"])}}
    if kind in ("location", "share_location"):
        return {"type": "locationCoordinates", "text": label, "locationCoordinates": {
            "latitude": s.get("latitude"), "longitude": s.get("longitude"), "label": text(s.get("label"))}}  # fmt: skip
    if kind == "calendar":
        return {"type": "calendar", "text": label, "calendar": {
            "title": text(s.get("title")), "description": text(s.get("description")),
            "startTime": text(s.get("start")), "endTime": text(s.get("end"))}}  # fmt: skip
    return {"type": "reply", "text": label}


def rcs_suggestion_from_api(s: Mapping[str, Any]) -> dict[str, Any]:
    kind, label = text(s.get("type")), text(s.get("text"))
    inner = s.get(kind) if isinstance(s.get(kind), dict) else {}
    if kind == "url":
        return {"type": "url", "text": label, "url": text(inner.get("url") if inner else s.get("url"))}
    if kind == "dial":
        return {"type": "dial", "text": label, "phone_number": text(inner.get("phoneNumber"))}
    if kind == "locationQuery":
        return {"type": "location", "text": label, "query": text(inner.get("query"))}
    if kind == "locationCoordinates":
        return {
            "type": "location",
            "text": label,
            **{k: inner.get(k) for k in ("latitude", "longitude", "label")},
        }
    if kind == "calendar":
        return {"type": "calendar", "text": label, "title": text(inner.get("title")),
                "description": text(inner.get("description")), "start": text(inner.get("startTime")),
                "end": text(inner.get("endTime"))}  # fmt: skip
    return {"type": kind.lower() or "reply", "text": label}


def _rcs_card_to_api(card: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"title": text(card.get("title")), "description": text(card.get("description"))}
    if card.get("media_url"):
        out["media"] = {"height": "MEDIUM", "fileUrl": text(card["media_url"])}
    out["suggestions"] = [
        rcs_suggestion_to_api(x) for x in card.get("suggestions") or [] if isinstance(x, dict)
    ]
    return out


def _rcs_card_from_api(card: Mapping[str, Any]) -> dict[str, Any]:
    media = card.get("media") or {}
    return {
        "title": text(card.get("title")), "description": text(card.get("description")),
        "media_url": text(first(media.get("fileUrl"), media.get("mediaKey"))),
        "suggestions": [rcs_suggestion_from_api(x) for x in card.get("suggestions") or [] if isinstance(x, dict)],
    }  # fmt: skip


def rcs_template_to_api(template: RemoteTemplate, *, sender: str = "") -> dict[str, Any]:
    """TEXT, CARD (one card, or a media header) or CAROUSEL (2+ cards), with the SMS fallback."""
    suggestions = [rcs_suggestion_to_api(b) for b in template.buttons if isinstance(b, dict)]
    header = template.header or {}
    cards = [c for c in template.cards or [] if isinstance(c, dict)]
    if not cards and header.get("url"):
        cards = [{"title": header.get("text", "") or template.name, "description": template.body,
                  "media_url": header["url"]}]  # fmt: skip
    if len(cards) == 1:
        card = _rcs_card_to_api(cards[0])
        card["suggestions"] = card["suggestions"] + suggestions
        orientation = text((template.raw or {}).get("orientation") or "vertical").upper()
        body: dict[str, Any] = {"cardOrientation": orientation, "card": card}
        kind = "CARD"
    elif cards:
        body = {"cardWidth": "MEDIUM", "cards": [_rcs_card_to_api(c) for c in cards]}
        if suggestions:
            body["suggestions"] = suggestions
        kind = "CAROUSEL"
    else:
        body = {"text": template.body}
        if suggestions:
            body["suggestions"] = suggestions
        kind = "TEXT"
    if template.fallback_text:
        body["fallbackSms"] = {"sender": sender, "text": template.fallback_text}
    return {
        "name": template.name,
        "description": template.raw.get("description", ""),
        "type": kind,
        "body": body,
    }


# --- campaigns ---------------------------------------------------------------------------------

CAMPAIGN_STATUS = {
    0: CampaignStatus.DRAFT, 1: CampaignStatus.SCHEDULED, 2: CampaignStatus.SENDING,
    3: CampaignStatus.COMPLETED, 4: CampaignStatus.FAILED,
}  # fmt: skip
CAMPAIGN_STATUS_NAMES = {
    "DRAFT": CampaignStatus.DRAFT, "READY": CampaignStatus.SCHEDULED, "SCHEDULED": CampaignStatus.SCHEDULED,
    "PROGRAMMED": CampaignStatus.SCHEDULED, "SENDING": CampaignStatus.SENDING,
    "RUNNING": CampaignStatus.SENDING, "COMPLETED": CampaignStatus.COMPLETED, "SENT": CampaignStatus.COMPLETED,
    # PM's full example says "ARCHIVED" where every other place uses an integer: a finished campaign.
    "ARCHIVED": CampaignStatus.COMPLETED, "FAILED": CampaignStatus.FAILED, "ERROR": CampaignStatus.FAILED,
    "CANCELED": CampaignStatus.CANCELLED, "CANCELLED": CampaignStatus.CANCELLED,
}  # fmt: skip
SENDING_MODES = ("SMS", "RCS", "RCS_SMS", "WHATSAPP", "WHATSAPP_SMS", "WHATSAPP_RCS", "WHATSAPP_RCS_SMS")


def campaign_status(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return CampaignStatus.UNKNOWN.value
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return CAMPAIGN_STATUS.get(int(value), CampaignStatus.UNKNOWN).value
    return CAMPAIGN_STATUS_NAMES.get(text(value).strip().upper(), CampaignStatus.UNKNOWN).value


def campaign_channel(sending_mode: str) -> str:
    """The first channel of a sending mode (`WHATSAPP_RCS_SMS` → whatsapp; the rest are fallbacks)."""
    head = text(sending_mode).upper().split("_", 1)[0]
    return {"SMS": "sms", "RCS": "rcs", "WHATSAPP": "whatsapp"}.get(head, head.lower())


def sending_mode_for(channel: str, fallback: Iterable[str] = ()) -> str:
    parts = [channel.upper(), *(c.upper() for c in fallback)]
    mode = "_".join(dict.fromkeys(parts))
    return mode if mode in SENDING_MODES else channel.upper()


def campaign_from_api(data: Mapping[str, Any]) -> RemoteCampaign:
    mode = text(data.get("sendingMode"))
    channel = campaign_channel(mode) if mode else ""
    template = ""
    sender = ""
    if channel == "whatsapp":
        template = (
            template_id("whatsapp", data["whatsappTemplateId"]) if data.get("whatsappTemplateId") else ""
        )
        sender = text(data.get("whatsappPhoneNumberId"))
    elif channel == "rcs":
        template = template_id("rcs", data["rcsTemplateId"]) if data.get("rcsTemplateId") else ""
        sender = text(data.get("rcsAgentId"))
    else:
        sender = text(data.get("smsSender"))
    return RemoteCampaign(
        remote_id=text(data.get("id")),
        name=text(data.get("name")),
        status=campaign_status(data.get("status")),
        channel=channel,
        template_id=template,
        list_ids=[text(i) for i in data.get("contactListIds") or []],
        text=text(data.get("smsBody")),
        sender=sender,
        scheduled_at=to_datetime(data.get("scheduledDate")),
        created_at=to_datetime(data.get("creationDate")),
        updated_at=to_datetime(data.get("lastUpdateDate")),
        raw=dict(data),
    )


def campaign_to_api(
    campaign: RemoteCampaign, settings: Mapping[str, Any], *, creating: bool = True
) -> dict[str, Any]:
    """The create/update body. Per channel the ids Qlara requires; extra keys placed in
    `campaign.raw["qlara"]` (e.g. sendingMode with fallbacks, destinations) win.

    An update without a channel changes only what it names (PUT is partial at Qlara), so a
    rename never turns a WhatsApp campaign into an SMS one.
    """
    channel = (campaign.channel or ("sms" if creating else "")).lower()
    body: dict[str, Any] = {}
    if campaign.name or creating:
        body["name"] = campaign.name[:50]
    if channel:
        body["sendingMode"] = sending_mode_for(channel)
    if campaign.list_ids:
        body["destinationType"] = 1
        body["contactListIds"] = int_ids(campaign.list_ids)
    if campaign.text or (channel == "sms" and creating):
        body["smsBody"] = campaign.text
        body["smsSender"] = (campaign.sender if channel == "sms" else "") or settings.get("sender", "")
    if channel == "whatsapp":
        _, raw_id = split_template_id(campaign.template_id) if campaign.template_id else ("", "")
        if raw_id:
            body["whatsappTemplateId"] = to_int(raw_id)
        number = campaign.sender or settings.get("whatsapp_phone_number_id")
        if number:
            body["whatsappPhoneNumberId"] = to_int(number)
    if channel == "rcs":
        _, raw_id = split_template_id(campaign.template_id) if campaign.template_id else ("", "")
        if raw_id:
            body["rcsTemplateId"] = to_int(raw_id)
        agent = campaign.sender or settings.get("rcs_agent_id")
        if agent:
            body["rcsAgentId"] = text(agent)  # a string in campaigns, an int in the send API
    if campaign.scheduled_at:
        body["scheduledDate"] = schedule_format(campaign.scheduled_at)
    extra = campaign.raw.get("qlara") if isinstance(campaign.raw, dict) else None
    if isinstance(extra, dict):
        body.update(extra)
    return body


def campaign_stats_from_api(data: Mapping[str, Any]) -> CampaignStats:
    """Totals from a campaign object (`total*`, `rcs*`, `sms*`, `wa*` counters)."""
    pending = sum(to_int(data.get(key)) for key in ("rcsPending", "smsPending", "waPending"))
    recipients = data.get("totalDestinations")
    return CampaignStats(
        campaign_id=text(data.get("id")),
        recipients=to_int(recipients) if recipients is not None else None,
        queued=pending,
        sent=to_int(data.get("totalSent")),
        delivered=to_int(data.get("totalSuccess")),
        read=to_int(data.get("totalRead")),
        failed=to_int(data.get("totalFailed")),
        cost=to_decimal(data.get("totalPrice")),
        currency=CURRENCY if data.get("totalPrice") is not None else "",
        raw=dict(data),
    )


def stats_bucket_from_api(data: Mapping[str, Any]) -> CampaignStats:
    """One time bucket of /campaigns/stats (names not documented: MD's `timeBucket`, then
    the campaign counters' family, then plain words)."""

    def pick(*keys: str) -> int:
        return to_int(first(*(data.get(key) for key in keys)))

    return CampaignStats(
        campaign_id="",
        bucket_start=to_datetime(first(data.get("timeBucket"), data.get("bucket"), data.get("date"))),
        queued=pick("totalPending", "pending"),
        sent=pick("totalSent", "sent", "numMessageCampaigns"),
        delivered=pick("totalSuccess", "delivered", "success"),
        read=pick("totalRead", "read"),
        failed=pick("totalFailed", "failed"),
        cost=to_decimal(first(data.get("totalPrice"), data.get("price"))),
        raw=dict(data),
    )


# --- messages ----------------------------------------------------------------------------------

DELIVERY_STATUS = {
    "SENT": MessageStatus.SENT, "DELIVERED": MessageStatus.DELIVERED, "READ": MessageStatus.READ,
    # RECEIVED: "acknowledged but not confirmed delivered" — the network has it, the phone may not.
    "RECEIVED": MessageStatus.SENT, "ERROR": MessageStatus.FAILED, "EXPIRED": MessageStatus.FAILED,
    "FAILED": MessageStatus.FAILED, "UNDELIVERED": MessageStatus.FAILED, "QUEUED": MessageStatus.QUEUED,
    "PENDING": MessageStatus.QUEUED, "UNKNOWN": MessageStatus.UNKNOWN,
}  # fmt: skip
STATUS_CODES = {3: MessageStatus.DELIVERED, 6: MessageStatus.FAILED}


def message_status(value: Any) -> str:
    """A delivery state from a polling string (`DELIVERED`) or a webhook code (3 / 6)."""
    if value is None or isinstance(value, bool):
        return MessageStatus.UNKNOWN.value
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return STATUS_CODES.get(int(value), MessageStatus.UNKNOWN).value
    return DELIVERY_STATUS.get(text(value).strip().upper(), MessageStatus.UNKNOWN).value


def delivery_from_status(data: Mapping[str, Any]) -> DeliveryUpdate:
    """A polled status: DeliveryStatusResponse (`/messages/status`, history) or the RCS and
    WhatsApp message-status objects (`messageId`, `status`, `createdAt`)."""
    status = message_status(first(data.get("deliveryStatus"), data.get("status")))
    moment = first(
        data.get("readDate") if status == MessageStatus.READ else None,
        data.get("deliveryDate"),
        data.get("createdAt"),
        data.get("sendDate"),
    )
    return DeliveryUpdate(
        remote_message_id=text(first(data.get("customerMessageId"), data.get("messageId"))),
        status=status,
        occurred_at=to_datetime(moment),
        to=text(data.get("destination")),
        channel=text(data.get("channel")).lower() or ("whatsapp" if "phoneNumberId" in data else ""),
        error_message=(text(data.get("deliveryStatusDescription")) if status == MessageStatus.FAILED else ""),
        raw=dict(data),
    )

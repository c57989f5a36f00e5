"""Between a MessageTemplate and the normalised RemoteTemplate, in our names or a provider's syntax.

`outgoing(template, provider)` gives the record to create/update (in the provider's variable
syntax) and the variable order per part; `incoming(remote, provider, order)` gives the record
back in our names. `content_state()` is the comparable content both sides fingerprint.
"""

from __future__ import annotations

from typing import Any

from messaging.providers.base import RemoteTemplate, TemplateStatus
from messaging.providers.template_syntax import from_provider, to_provider
from messaging.sync.fingerprints import fingerprint

from .models import MessageTemplate, TemplateLink

BUTTON_KEYS = ("type", "text", "url", "phone_number", "example", "payload")
OUR_STATUSES = set(TemplateLink.Status.values)


def to_remote(template: MessageTemplate, remote_id: str = "") -> RemoteTemplate:
    """The template as a normalised record, in our named variables."""
    header = dict(template.header or {}) if template.header_type != "none" else {}
    return RemoteTemplate(
        remote_id=remote_id,
        name=template.name,
        channel=template.kind,
        language=template.language,
        category=(template.category or "").upper(),
        header=header,
        body=template.body,
        footer=template.footer,
        buttons=[dict(b) for b in template.buttons or []],
        variables=template.variables,
        examples={k: str(v) for k, v in (template.samples or {}).items()},
        cards=[dict(c) for c in template.cards or []],
        fallback_text=template.sms_fallback,
    )


def outgoing(template: MessageTemplate, provider, remote_id: str = "") -> tuple[RemoteTemplate, dict]:
    return to_provider(to_remote(template, remote_id), provider.template_syntax(template.kind))


def incoming(remote: RemoteTemplate, provider, order: dict | None = None) -> RemoteTemplate:
    return from_provider(remote, provider.template_syntax(remote.channel or "whatsapp"), order)


def _button(b: dict) -> dict:
    out = {k: str(b[k]) for k in BUTTON_KEYS if b.get(k) not in (None, "")}
    if "type" in out:
        out["type"] = out["type"].lower()
    return out


def content_state(record) -> dict[str, Any]:
    """What a template says (not its status), comparable between a local and a remote record."""
    header = dict(getattr(record, "header", None) or {})
    header_type = str(header.get("type") or "none").lower()
    header_out = {"type": header_type}
    for key in ("text", "url"):
        if header.get(key):
            header_out[key] = str(header[key])
    return {
        "category": str(getattr(record, "category", "") or "").lower(),
        "header": header_out if header_type != "none" else {},
        "body": (record.body or "").strip(),
        "footer": (record.footer or "").strip(),
        "buttons": [_button(b) for b in record.buttons or [] if isinstance(b, dict)],
    }


def content_fingerprint(record) -> str:
    return fingerprint(content_state(record))


def our_status(remote: RemoteTemplate, fallback: str) -> str:
    """The provider package already mapped its words onto TemplateStatus; unknown keeps `fallback`."""
    status = str(remote.status or TemplateStatus.UNKNOWN.value)
    return status if status in OUR_STATUSES else fallback


def apply_remote(template: MessageTemplate, remote: RemoteTemplate) -> list[str]:
    """Copy a (decoded) remote's content onto the template, unsaved; returns changed field names."""
    header = dict(remote.header or {})
    values = {
        "category": (remote.category or "").lower() if template.kind == "whatsapp" else template.category,
        "header": {**header, "type": str(header.get("type") or "text").lower()} if header else {},
        "body": remote.body or "",
        "footer": (remote.footer or "")[:60],
        "buttons": [_button(b) for b in remote.buttons or [] if isinstance(b, dict)],
    }
    if remote.cards:
        values["cards"] = [dict(c) for c in remote.cards]
    if remote.fallback_text:
        values["sms_fallback"] = remote.fallback_text
    if values["category"] not in MessageTemplate.Category.values:
        values["category"] = template.category or ("marketing" if template.kind == "whatsapp" else "")
    samples = dict(template.samples or {})
    for name in remote.variables:
        if remote.examples.get(name) and not samples.get(name):
            samples[name] = remote.examples[name]
    values["samples"] = samples
    changed = []
    for field, value in values.items():
        if getattr(template, field) != value:
            setattr(template, field, value)
            changed.append(field)
    return changed

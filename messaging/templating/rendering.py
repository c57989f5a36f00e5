"""A template filled in for one contact: the text a person reads and what the provider needs.

Values come from, in order: `values` given by the caller, the contact's own fields
(`{{first_name}}`, `{{city}}` …, any Contact attribute), its custom fields by key, and
nothing else: a variable without a value is reported in `missing` (and left empty), never
filled with the sample. `render_template(..., samples=True)` fills with the samples (the
preview).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from messaging.providers.base import OutboundMessage

from .sms import SmsCount, count_sms
from .variables import fill, names_in, variables_of

CONTACT_ATTRIBUTES = (
    "first_name", "last_name", "email", "phone", "language", "gender", "company", "address", "city",
    "province", "postal_code", "country",
)  # fmt: skip


@dataclass
class RenderedTemplate:
    text: str  # what the recipient reads (header, body and footer for WhatsApp; body for SMS/RCS)
    header: str = ""
    body: str = ""
    footer: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # by our variable names
    missing: list[str] = field(default_factory=list)
    # Provider-facing fields of OutboundMessage (template_name, template_language, variables,
    # media_url, channel): variables are in the provider's own order and keys.
    outbound: dict[str, Any] = field(default_factory=dict)
    sms: SmsCount | None = None  # SMS and RCS fallback: characters, encoding and parts

    def to_outbound(
        self, to: str, *, sender: str = "", reference: str = "", fallback=None
    ) -> OutboundMessage:
        """An OutboundMessage for `to` (E.164) carrying this rendering."""
        return OutboundMessage(
            to=to, sender=sender, reference=reference, fallback=list(fallback or []), **self.outbound
        )


def contact_values(contact) -> dict[str, str]:
    """The values a contact gives to variables: its attributes, then its custom fields by key."""
    if contact is None:
        return {}
    values = {k: str(v) for k, v in (getattr(contact, "fields", None) or {}).items() if v not in (None, "")}
    for attr in CONTACT_ATTRIBUTES:
        value = getattr(contact, attr, "")
        if value not in (None, ""):
            values[attr] = str(value)
    return values


def render_template(
    template, *, contact=None, values: dict[str, Any] | None = None, account=None, samples: bool = False
) -> RenderedTemplate:
    """Fill `template` for one contact (and/or explicit `values`); `account` picks the provider's
    variable order and keys for the outbound fields (our names when None)."""
    given = dict(template.samples or {}) if samples else {}
    given.update(contact_values(contact))
    given.update({k: str(v) for k, v in (values or {}).items() if v is not None})
    names = variables_of(template)
    resolved = {n: str(given.get(n, "")) for n in names}
    missing = [n for n in names if not resolved[n]]

    header = template.header or {}
    header_text = fill(str(header.get("text") or ""), resolved) if header.get("type") == "text" else ""
    body = fill(template.body, resolved)
    footer = template.footer or ""
    buttons = [
        {**b, **({"url": fill(str(b["url"]), resolved)} if b.get("url") else {})}
        for b in (template.buttons or []) if isinstance(b, dict)
    ]  # fmt: skip
    kind = template.kind
    text = "\n\n".join(p for p in (header_text, body, footer) if p) if kind == "whatsapp" else body
    if kind == "rcs" and template.rcs_type in ("card", "carousel") and template.cards:
        text = "\n\n".join(
            fill(f"{c.get('title') or ''}\n{c.get('description') or ''}".strip(), resolved)
            for c in template.cards
        )

    body_order = names_in(template.body)
    link = None
    if account is not None:
        syntax = account.get_provider().template_syntax(kind)
        link = template.links.filter(account=account).first() if template.pk else None
        order = ((link.variable_order or {}).get("body") if link else None) or body_order
        variables = syntax.values(order, resolved)
    else:
        variables = {n: resolved[n] for n in body_order}
    outbound: dict[str, Any] = {"channel": kind}
    if kind == "sms":
        outbound["text"] = body
    else:
        outbound.update(
            template_name=template.name,
            template_language=template.language,
            variables=variables,
            text=body,
            buttons=buttons,
        )
        if header.get("type") in ("image", "video", "document"):
            outbound["media_url"] = str(header.get("url") or "")
    sms_text = body if kind == "sms" else fill(template.sms_fallback or "", resolved) if kind == "rcs" else ""
    return RenderedTemplate(
        text=text,
        header=header_text,
        body=body,
        footer=footer,
        buttons=buttons,
        values=resolved,
        missing=missing,
        outbound=outbound,
        sms=count_sms(sms_text) if sms_text else None,
    )

"""Meta's WhatsApp template components, for providers whose API passes them through.

Several providers (their own template APIs, or proxies of Meta's Graph API) describe a
template as Meta does: a list of HEADER / BODY / FOOTER / BUTTONS components. Reading that
list into the normalised RemoteTemplate parts lives here once; each provider's mapping keeps
only what is its own (status vocabulary, ids, extra header keys, placeholder syntax).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")  # {{1}} or {{name}}


@dataclass
class TemplateParts:
    header: dict[str, Any] = field(default_factory=dict)  # {"type": "text"|"image"|…, "text": …}
    body: str = ""
    footer: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)  # placeholder names, first appearance first


def split_components(
    components: Iterable[Any],
    *,
    header_keys: tuple[str, ...] = ("text", "example"),
    placeholder: re.Pattern = PLACEHOLDER,
    variables_in_buttons: bool = False,
) -> TemplateParts:
    """Read Meta-style components (in any order; non-dicts ignored) into the template's parts."""
    parts = TemplateParts()
    for component in components:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type") or "").upper()
        if kind == "HEADER":
            parts.header = {"type": str(component.get("format") or "TEXT").lower()}
            for key in header_keys:
                if component.get(key) not in (None, ""):
                    parts.header[key] = component[key]
        elif kind == "BODY":
            parts.body = str(component.get("text") or "")
        elif kind == "FOOTER":
            parts.footer = str(component.get("text") or "")
        elif kind == "BUTTONS":
            parts.buttons = [b for b in component.get("buttons") or [] if isinstance(b, dict)]
    texts = [str(parts.header.get("text") or ""), parts.body]
    if variables_in_buttons:
        texts += [str(b.get("url") or "") for b in parts.buttons]
    for text in texts:
        for name in placeholder.findall(text):
            if name not in parts.variables:
                parts.variables.append(name)
    return parts


# Our button types → Meta's (the same words, upper case); the keys each one carries.
_META_BUTTON_KEYS = {
    "QUICK_REPLY": ("text",),
    "URL": ("text", "url", "example"),
    "PHONE_NUMBER": ("text", "phone_number"),
    "COPY_CODE": ("example",),
}


def meta_buttons(buttons: Iterable[Any]) -> list[dict[str, Any]]:
    """Normalised buttons ({"type": "url", …}) → Meta's BUTTONS entries ({"type": "URL", …})."""
    out = []
    for button in buttons or []:
        if not isinstance(button, dict):
            continue
        kind = str(button.get("type") or "quick_reply").upper()
        keys = _META_BUTTON_KEYS.get(kind, tuple(k for k in button if k != "type"))
        entry = {"type": kind, **{k: button[k] for k in keys if button.get(k) not in (None, "")}}
        if kind == "URL" and isinstance(entry.get("example"), str):
            entry["example"] = [entry["example"]]
        out.append(entry)
    return out

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

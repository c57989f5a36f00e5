"""Named template variables: `{{first_name}}`, `{{city}}`, custom-field keys or free names.

Core code only ever sees this syntax. A provider's syntax lives in its package
(`messaging/providers/<slug>/templating.py`) as a `VariableSyntax` (see
messaging/providers/template_syntax.py) that maps these names to and from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A well-formed variable: {{name}} with optional inner spaces; names are identifiers
# (or 1, 2, 3 … when someone pastes Meta-style text; validation checks their numbering).
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\s*\}\}")
# Anything that looks like an attempt at a variable, to report malformed ones.
ANY_BRACES = re.compile(r"\{\{(.*?)\}\}|\{\{|\}\}")


def names_in(*texts: str) -> list[str]:
    """Variable names in order of first appearance across `texts`."""
    seen: list[str] = []
    for text in texts:
        for name in VARIABLE.findall(text or ""):
            if name not in seen:
                seen.append(name)
    return seen


def malformed_in(text: str) -> list[str]:
    """Brace groups that are not a valid {{name}} (e.g. "{{first name}}", a lone "{{")."""
    bad = []
    for match in ANY_BRACES.finditer(text or ""):
        if not VARIABLE.fullmatch(match.group(0)):
            bad.append(match.group(0))
    return bad


def fill(text: str, values: dict[str, str]) -> str:
    """Replace every {{name}} with its value ('' when missing)."""
    return VARIABLE.sub(lambda m: str(values.get(m.group(1), "")), text or "")


def texts_of(template) -> list[str]:
    """Every text of a template (or anything shaped like one) that may hold variables, in order."""
    header = getattr(template, "header", None) or {}
    texts = [str(header.get("text") or ""), template.body or ""]
    texts += [str(b.get("url") or "") for b in _dicts(getattr(template, "buttons", None))]
    for card in _dicts(getattr(template, "cards", None)):
        texts += [str(card.get("title") or ""), str(card.get("description") or "")]
    texts.append(getattr(template, "sms_fallback", "") or "")
    return texts


def variables_of(template) -> list[str]:
    return names_in(*texts_of(template))


def _dicts(items: Iterable | None) -> list[dict]:
    return [i for i in items or [] if isinstance(i, dict)]

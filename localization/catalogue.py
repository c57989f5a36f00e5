"""Our translation catalogues: how they are extracted, and what "complete" means (used by the tests).

`manage.py update_translations` = list_derived_names --write + makemessages (these options) +
compilemessages. Our catalogue is locale/<lang>/LC_MESSAGES/django.po; locale/vendor/ holds
translations for django-unfold, which ships none (scripts/extract_vendor_strings.sh).
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

TRANSLATED = ["it"]  # English is the source language
# Directories makemessages must not read: tests, benchmarks, tools, local state, dependencies.
IGNORE = [".venv", "venv", "var", "node_modules", "staticfiles", "media", "tests", "bench", "scripts",
          "locale", "*.egg-info", ".git", ".ci", "bin", "docs"]  # fmt: skip
MAKEMESSAGES_OPTIONS = {"no_location": True, "no_obsolete": True, "ignore_patterns": IGNORE, "verbosity": 0}

_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifrxX]|%[-#0 +]*\d*(?:\.\d+)?[sdifrxX]|\{[^{}]*\}")


def catalogue(language: str, vendor: bool = False) -> Path:
    base = Path(settings.BASE_DIR) / "locale"
    return (base / "vendor" if vendor else base) / language / "LC_MESSAGES" / "django.po"


def placeholders(text: str) -> list[str]:
    """The interpolation placeholders of a message, sorted: %(name)s, %s, {} …; %% is not one."""
    return sorted(_PLACEHOLDER.findall(text.replace("%%", "")) or []) if text else []


def _names(text: str) -> list[str]:
    return sorted(m.group(0) for m in _PLACEHOLDER.finditer(text.replace("%%", "")))


def problems(entry) -> list[str]:
    """Why a catalogue entry is not usable: untranslated, fuzzy, or placeholders that differ."""
    found = []
    label = f"{entry.msgctxt + ' | ' if entry.msgctxt else ''}{entry.msgid!r}"
    if "fuzzy" in entry.flags:
        found.append(f"fuzzy: {label}")
    if entry.msgid_plural:
        forms = [entry.msgstr_plural.get(i, "") for i in sorted(entry.msgstr_plural)] or [""]
        if not all(forms):
            found.append(f"untranslated: {label}")
        # The plural form carries the placeholders of msgid_plural (the singular may spell "1").
        if forms[-1] and _names(forms[-1]) != _names(entry.msgid_plural):
            found.append(f"placeholders differ: {label} → {forms[-1]!r}")
    else:
        if not entry.msgstr:
            found.append(f"untranslated: {label}")
        elif _names(entry.msgstr) != _names(entry.msgid):
            found.append(f"placeholders differ: {label} → {entry.msgstr!r}")
    return found

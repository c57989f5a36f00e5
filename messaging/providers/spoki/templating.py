"""Spoki's template variables and statuses.

Placeholders are custom-field codes `%%CODE%%` (e.g. `%%FIRST_NAME%%`); our `{{first_name}}`
maps to `%%FIRST_NAME%%` and back (the link keeps our exact names). TEMPLATE_STATUS in
mapping.py is the one status table (DRAFT … FLAGGED, by name or integer code).
"""

from __future__ import annotations

from ..template_syntax import PercentCodeSyntax
from .mapping import TEMPLATE_STATUS

TEMPLATE_KINDS = frozenset({"whatsapp"})
__all__ = ["TEMPLATE_KINDS", "TEMPLATE_STATUS", "template_syntax"]


def template_syntax(provider, kind: str) -> PercentCodeSyntax:
    """`%%CODE%%` custom-field codes."""
    return PercentCodeSyntax()

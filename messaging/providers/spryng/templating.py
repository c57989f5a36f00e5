"""Spryng's template variables and statuses (a proxy of Meta's Graph API).

Meta numbers variables `{{1}}`, `{{2}}` … per component with sample values in `example`;
TemplateLink.variable_order keeps which of our names each number is. _TEMPLATE_STATUS in
mapping.py is the one status table (Meta's words, PENDING_DELETION included).
"""

from __future__ import annotations

from ..template_syntax import PositionalSyntax
from .mapping import _TEMPLATE_STATUS

TEMPLATE_STATUS = _TEMPLATE_STATUS
TEMPLATE_KINDS = frozenset({"whatsapp"})


def template_syntax(provider, kind: str) -> PositionalSyntax:
    """Meta's positional `{{1}}`."""
    return PositionalSyntax()

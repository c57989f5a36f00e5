"""Qlara's template variables and statuses.

WhatsApp and RCS templates both write `{placeholderName}` (single braces, MD §2.17); our
named `{{first_name}}` maps to `{first_name}` and back. Status words: WA_STATUS in
mapping.py is the one table (APPROVED, PENDING, REJECTED, PAUSED, DISABLED; RCS templates
have only `enabled`).
"""

from __future__ import annotations

from ..template_syntax import SingleBraceSyntax
from .mapping import WA_STATUS

TEMPLATE_STATUS = WA_STATUS
TEMPLATE_KINDS = frozenset({"whatsapp", "rcs"})


def template_syntax(provider, kind: str) -> SingleBraceSyntax:
    """`{name}` placeholders on both template kinds."""
    return SingleBraceSyntax()

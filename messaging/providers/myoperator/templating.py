"""MyOperator's template variables and statuses.

Variables are named `{{name}}` placeholders with an `example` object of name → sample, so
our names pass through unchanged. _TEMPLATE_STATUS in mapping.py is the one status table
(Meta's waba_template_status words). MyOperator cannot edit a template: an edit is delete +
create after staff confirm it (Provider.can_update_templates = False).
"""

from __future__ import annotations

from ..template_syntax import VariableSyntax
from .mapping import _TEMPLATE_STATUS

TEMPLATE_STATUS = _TEMPLATE_STATUS
TEMPLATE_KINDS = frozenset({"whatsapp"})


def template_syntax(provider, kind: str) -> VariableSyntax:
    """Named `{{name}}` placeholders, as ours."""
    return VariableSyntax()

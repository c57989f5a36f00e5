"""Who uses a template: a registry other apps fill, so deleting one in use can be refused.

The campaigns app (and automations) register a function at start-up (AppConfig.ready):

    from messaging.templating.usage import register_template_users

    def campaigns_using(template):  # -> iterable of (label, blocking)
        for c in Campaign.objects.filter(template=template, status__in=["scheduled", "sending"]):
            yield f"campaign “{c.name}” ({c.get_status_display()})", True

    register_template_users(campaigns_using)

`blocking=True` refuses the deletion and names the user; `False` is only shown as a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

_USERS: list[Callable] = []


@dataclass(frozen=True)
class TemplateUse:
    label: str  # e.g. 'campaign “Natale 2026” (scheduled)'
    blocking: bool


def register_template_users(func: Callable[[object], Iterable[tuple[str, bool]]]) -> Callable:
    """Add a function template → [(label, blocking)]; usable as a decorator; idempotent."""
    if func not in _USERS:
        _USERS.append(func)
    return func


def template_uses(template) -> list[TemplateUse]:
    return [TemplateUse(str(label), bool(blocking)) for func in _USERS for label, blocking in func(template)]

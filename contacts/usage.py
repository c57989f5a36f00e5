"""Who uses a list: other apps register a function list → [(label, blocking)] (no imports back).

Deleting a list that something active uses (an automation that is switched on) is refused,
naming it; the admin shows the labels as protected objects, the API answers 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_USERS: list[Callable[[object], Iterable[tuple[str, bool]]]] = []


def register_list_users(func: Callable[[object], Iterable[tuple[str, bool]]]) -> Callable:
    """Add a function contact_list → [(label, blocking)]; usable as a decorator; idempotent."""
    if func not in _USERS:
        _USERS.append(func)
    return func


def blocking_list_uses(contact_lists: Iterable) -> list[str]:
    """Labels of the active uses that forbid deleting any of `contact_lists`."""
    return [str(label) for cl in contact_lists for func in _USERS for label, blocking in func(cl) if blocking]

"""Choosing the time zone a staff member reads and enters dates in: remembered per user, carried in the session.

The same path as the language (localization.services): chosen in the user menu, saved on the
user's UserLanguage row, copied into the session at login, activated for every request by
UserTimeZoneMiddleware (no query: the session holds it). Unset: settings.TIME_ZONE. The API,
which may authenticate by token (after middleware), asks `zone_for_user` instead.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django.conf import settings

from .models import UserLanguage

SESSION_KEY = "_switchboard_time_zone"
# Offered in the user menu (any IANA name is accepted by the view and the API); the default zone
# and the person's own are added when missing.
COMMON_ZONES = (
    "Europe/Rome", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Madrid", "Europe/Paris",
    "Europe/Berlin", "Europe/Zurich", "Europe/Amsterdam", "Europe/Vienna", "Europe/Warsaw", "Europe/Athens",
    "Europe/Bucharest", "Europe/Istanbul", "Europe/Moscow", "UTC", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "Africa/Cairo", "Asia/Dubai", "Asia/Kolkata",
    "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
)  # fmt: skip


@lru_cache(maxsize=1)
def _available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def valid_zone(name) -> bool:
    return isinstance(name, str) and name in _available()


def default_zone() -> str:
    return settings.TIME_ZONE


def remember_time_zone(user, name: str, session=None) -> bool:
    """Save `name` as `user`'s time zone (and in their session); False (nothing saved) for an unknown name."""
    if not valid_zone(name):
        return False
    if user is not None and user.is_authenticated:
        UserLanguage.objects.update_or_create(user=user, defaults={"time_zone": name})
    if session is not None:
        session[SESSION_KEY] = name
    return True


def remembered_time_zone(user) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    name = UserLanguage.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return name if valid_zone(name) else None


def zone_for_user(user) -> zoneinfo.ZoneInfo:
    """The zone `user` works in (theirs, else settings.TIME_ZONE)."""
    return zoneinfo.ZoneInfo(remembered_time_zone(user) or default_zone())


def load_into_session(sender, request, user, **kwargs) -> None:
    """user_logged_in: the zone chosen on another browser follows the person here."""
    name = remembered_time_zone(user)
    if name and hasattr(request, "session"):
        request.session[SESSION_KEY] = name


def menu_choices(current: str) -> list[str]:
    zones = list(COMMON_ZONES)
    for name in (default_zone(), current):
        if name and name not in zones:
            zones.insert(0, name)
    return zones

"""API fields that follow the caller's time zone."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from .timezones import zone_for_user


class UserZoneDateTimeField(serializers.DateTimeField):
    """ISO 8601 in and out. A value with an offset means that instant; a naive one is read in the caller's
    time zone (their choice in the user menu, else settings.TIME_ZONE). Output carries the caller's offset.

    Token-authenticated calls are authenticated after the middleware, so the zone is looked up here.
    """

    def default_timezone(self):
        request = self.context.get("request") if hasattr(self, "context") else None
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return zone_for_user(user)
        return timezone.get_current_timezone()

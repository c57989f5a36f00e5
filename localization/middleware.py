"""After authentication: a logged-in person's remembered language and time zone win over the defaults."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone, translation

from .services import SESSION_KEY, supported
from .timezones import SESSION_KEY as TZ_SESSION_KEY
from .timezones import valid_zone


class UserLanguageMiddleware:
    """Goes after LocaleMiddleware and AuthenticationMiddleware; costs no query (the session holds it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if (
            session is not None
            and user is not None
            and not request.path.startswith("/api/")  # the API follows Accept-Language
            and user.is_authenticated
        ):
            code = session.get(SESSION_KEY)
            if supported(code) and code != getattr(request, "LANGUAGE_CODE", None):
                translation.activate(code)
                request.LANGUAGE_CODE = code
        return self.get_response(request)


class UserTimeZoneMiddleware:
    """Every date a logged-in person sees or enters is in their time zone (settings.TIME_ZONE when unset).

    Goes after AuthenticationMiddleware; costs no query (the session holds the zone). Token-authenticated
    API calls are authenticated later, by DRF: their serializers ask localization.timezones.zone_for_user.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        name = None
        if session is not None and user is not None and user.is_authenticated:
            name = session.get(TZ_SESSION_KEY)
        if valid_zone(name):
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

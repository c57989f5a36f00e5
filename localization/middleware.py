"""After authentication: a logged-in person's remembered language wins over their browser's."""

from __future__ import annotations

from django.utils import translation

from .services import SESSION_KEY, supported


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

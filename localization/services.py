"""Choosing the language a staff member sees: remembered per user, carried in their session.

Order (first that applies): the user's remembered choice (after login), the language cookie set by
the switcher, the browser's Accept-Language, settings.LANGUAGE_CODE. The API follows the cookie or
Accept-Language only, so scripts get validation messages in the language they ask for.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import check_for_language

from .models import UserLanguage

SESSION_KEY = "_switchboard_language"


def supported(code: str | None) -> bool:
    return bool(code) and code in dict(settings.LANGUAGES) and check_for_language(code)


def remember_language(user, code: str, session=None) -> None:
    """Save `code` as `user`'s language (and in their current session); unknown codes are ignored."""
    if not supported(code):
        return
    if user is not None and user.is_authenticated:
        UserLanguage.objects.update_or_create(user=user, defaults={"language": code})
    if session is not None:
        session[SESSION_KEY] = code


def remembered_language(user) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    code = UserLanguage.objects.filter(user=user).values_list("language", flat=True).first()
    return code if supported(code) else None


def load_into_session(sender, request, user, **kwargs) -> None:
    """user_logged_in: the language chosen on another browser follows the person here."""
    code = remembered_language(user)
    if code:
        request.session[SESSION_KEY] = code

"""The user menu's language switcher posts here: Django's set_language, remembered for the user."""

from __future__ import annotations

from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from .services import remember_language


@require_POST
def set_language(request):
    response = django_set_language(request)  # sets the cookie and redirects back to the page
    remember_language(request.user, request.POST.get("language", ""), getattr(request, "session", None))
    return response

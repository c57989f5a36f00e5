"""The user menu's language and time zone switchers post here; both are remembered for the user."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from .services import remember_language
from .timezones import remember_time_zone


@require_POST
def set_language(request):
    response = django_set_language(request)  # sets the cookie and redirects back to the page
    remember_language(request.user, request.POST.get("language", ""), getattr(request, "session", None))
    return response


@require_POST
def set_time_zone(request):
    """The user menu's time zone form: remember the zone for the user, then back to the page they were on."""
    next_url = request.POST.get("next") or request.META.get("HTTP_REFERER") or "/admin/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):  # fmt: skip
        next_url = "/admin/"
    name = request.POST.get("time_zone", "")
    if remember_time_zone(request.user, name, getattr(request, "session", None)):
        messages.success(request, _("Dates are now shown in %(zone)s.") % {"zone": name})
    else:
        messages.error(request, _("“%(zone)s” is not a time zone we know.") % {"zone": name[:64]})
    return HttpResponseRedirect(next_url)

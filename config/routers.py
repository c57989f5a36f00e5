"""The project's DRF router.

DRF's DefaultRouter, plus: the API root needs a login like the schema (setting
SWITCHBOARD_API_SCHEMA_PUBLIC), and a pk route whose viewset sets no lookup_value_regex
matches digits only (at most 18), so an id like 1e999 or 99999999999999999999999 is a 404
before any query. Kept apart from config/hardening.py: DRF's parser setting imports that one.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import permissions, routers


class LoggedInAPIRoot(routers.APIRootView):
    """The API root lists every endpoint: logged-in users only, like the schema."""

    def get_permissions(self):
        if settings.SWITCHBOARD_API_SCHEMA_PUBLIC:
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]


class Router(routers.DefaultRouter):
    """The project router (see module docstring)."""

    APIRootView = LoggedInAPIRoot

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        if getattr(viewset, "lookup_value_regex", None) is None and getattr(viewset, "lookup_field", "pk") in (
            "pk",
            "id",
        ):
            viewset.lookup_value_regex = r"[0-9]{1,18}"
        return super().get_lookup_regex(viewset, lookup_prefix)

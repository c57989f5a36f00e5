"""Spoki provider (being built: see the provider-layer issue)."""

from ..base import Provider


class SpokiProvider(Provider):
    slug = "spoki"
    display_name = "Spoki"

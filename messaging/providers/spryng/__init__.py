"""Spryng provider (being built: see the provider-layer issue)."""

from ..base import Provider


class SpryngProvider(Provider):
    slug = "spryng"
    display_name = "Spryng"

"""Qlara (Agile Telecom) provider (being built: see the provider-layer issue)."""

from ..base import Provider


class QlaraProvider(Provider):
    slug = "qlara"
    display_name = "Qlara (Agile Telecom)"

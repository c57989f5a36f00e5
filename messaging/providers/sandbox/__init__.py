"""Sandbox provider (being built: see the provider-layer issue)."""

from ..base import Provider


class SandboxProvider(Provider):
    slug = "sandbox"
    display_name = "Sandbox"

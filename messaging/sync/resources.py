"""The built-in sync resources; importing this module registers them (see core.register_resource)."""

from . import contacts, lists, templates  # noqa: F401

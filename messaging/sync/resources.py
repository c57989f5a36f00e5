"""The built-in sync resources; importing this module registers them (see core.register_resource)."""

from messaging.senders import sync as senders  # noqa: F401

from . import contacts, lists, templates  # noqa: F401

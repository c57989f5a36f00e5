"""Spryng (SMS, voice, WhatsApp via Meta's proxy): see provider.py for the API's shape."""

from .provider import SpryngProvider

__all__ = ["SpryngProvider"]

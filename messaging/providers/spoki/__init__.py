"""Spoki (WhatsApp): the provider class lives in provider.py, payload mapping in mapping.py."""

from .provider import SpokiProvider

__all__ = ["SpokiProvider"]

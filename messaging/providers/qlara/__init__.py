"""Qlara (Agile Telecom): SMS, RCS and WhatsApp with contacts, lists, templates and campaigns.

The registry loads `messaging.providers.qlara.QlaraProvider`; the package splits into
`provider.py` (the hooks and HTTP), `mapping.py` (payloads <-> normalised records)
and `webhooks.py` (callback authentication and parsing).
"""

from .provider import QlaraProvider

__all__ = ["QlaraProvider"]

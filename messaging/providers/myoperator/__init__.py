"""MyOperator (WhatsApp Business + contacts): see provider.py for the API's shape."""

from .provider import MyOperatorProvider

__all__ = ["MyOperatorProvider"]

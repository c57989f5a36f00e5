"""One exception tree for everything a provider can do wrong (anymail-style).

ProviderError
├── AuthError         401/403: the key or password was refused; never retried
├── RateLimited       429 after our retries ran out; carries retry_after
├── Rejected          other 4xx: the provider refused what we sent (its message says why)
│   └── NotFound      404
├── Unavailable       5xx, timeouts, connection errors, unreadable bodies
└── NotSupported      the provider has no such operation (raised before any request)
"""

from __future__ import annotations


class ProviderError(Exception):
    """A provider call failed. str() is a sentence staff can read."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str = "",
        request_id: str = "",
        body: str = "",
        method: str = "",
        path: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.provider = provider
        self.request_id = request_id
        self.body = body
        self.method = method
        self.path = path

    def __str__(self):
        parts = [self.message]
        if self.request_id:
            parts.append(f"(request id {self.request_id})")
        return " ".join(parts)


class AuthError(ProviderError):
    pass


class RateLimited(ProviderError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Rejected(ProviderError):
    pass


class NotFound(Rejected):
    pass


class Unavailable(ProviderError):
    pass


class NotSupported(ProviderError):
    pass


class WebhookRejected(Exception):
    """A webhook failed verification (bad or missing signature/secret, stale timestamp)."""

"""/hooks/<token>/ — as a Django view (runserver, tests) and as a lean WSGI front (gunicorn).

Both call receive.receive_webhook, so they answer alike. The WSGI front (config/wsgi.py wraps
Django with it) serves only paths under /hooks/ and skips Django's middleware, URL resolver and
request objects: on two cores that overhead alone would cap the hot path below the goal. It needs
none of them: no session, no CSRF (providers are not browsers), no user, no templates.
"""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .receive import receive_webhook

TOKEN_RE = re.compile(r"^/hooks/([A-Za-z0-9_-]{16,64})/?$")


@csrf_exempt
def webhook_view(request, token: str):
    """Every method: the receiver decides what each provider's method means."""
    headers = dict(request.headers.items())
    answer = receive_webhook(
        token, request.method, headers, request.body, request.META.get("QUERY_STRING", "")
    )
    response = HttpResponse(answer.body, status=answer.status, content_type="text/plain; charset=utf-8")
    if answer.event_id:
        response["X-Switchboard-Event"] = str(answer.event_id)
    if answer.retry_after:
        response["Retry-After"] = str(answer.retry_after)
    return response


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 503: "Service Unavailable"}  # fmt: skip


def _environ_headers(environ) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers


def _read_body(environ, limit: int) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    return environ["wsgi.input"].read(min(length, limit + 1))


class WebhookWSGI:
    """WSGI middleware: /hooks/<token>/ straight to the receiver, everything else to Django."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/hooks/"):
            return self.app(environ, start_response)
        match = TOKEN_RE.match(path)
        if match is None:
            answer_status, body = 404, b"Unknown webhook address.\n"
            event_id = retry_after = None
        else:
            from django.conf import settings

            limit = getattr(settings, "WEBHOOK_MAX_BODY_BYTES", 256 * 1024)
            answer = receive_webhook(
                match.group(1), environ.get("REQUEST_METHOD", "GET"), _environ_headers(environ),
                _read_body(environ, limit), environ.get("QUERY_STRING", ""),
            )  # fmt: skip
            answer_status, body, event_id = answer.status, answer.body, answer.event_id
            retry_after = answer.retry_after
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        if event_id:
            headers.append(("X-Switchboard-Event", str(event_id)))
        if retry_after:
            headers.append(("Retry-After", str(retry_after)))
        start_response(f"{answer_status} {_REASONS.get(answer_status, 'Error')}", headers)
        return [body]

"""A tiny framework for stateful provider fakes served over real HTTP.

Each fake is a `FakeAPI` subclass: routes declared with @route(method, pattern),
state in plain dicts, and switches to inject faults. `serve(fake)` runs it on a
threaded WSGI server on 127.0.0.1 with a random port, so the clients' real
`requests` code path runs end to end.

Fault switches (set on the instance, consumed in order):
    fake.fail_next(429, times=2)          # with the provider's retry hint (see retry_hint())
    fake.fail_next(503)
    fake.fail_next("timeout", delay=2.0)  # sleep before answering
    fake.fail_next("truncate")            # cut the JSON body in half
    fake.rate_limit = (calls, per_seconds)  # enforce a limit like the provider does (429 past it)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)


def route(method: str, pattern: str):
    """Declare a handler: @route("GET", "/api/contacts/{id}")."""

    def decorate(func):
        func._route = (method.upper(), pattern)
        return func

    return decorate


class FakeAPI:
    """Base for a provider fake: routing, auth hook, fault injection, request journal."""

    name = "fake"

    def __init__(self):
        self._routes: list[tuple[str, re.Pattern, Callable]] = []
        for attr in dir(type(self)):
            func = getattr(type(self), attr)
            spec = getattr(func, "_route", None)
            if spec:
                method, pattern = spec
                regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/")) + "/?$"
                self._routes.append((method, re.compile(regex), getattr(self, attr)))
        # Longest patterns first so /contacts/bulk wins over /contacts/{id}.
        self._routes.sort(key=lambda r: (-len(r[1].pattern.replace("(?P<", "")), r[1].pattern))
        self._faults: deque[tuple[Any, dict]] = deque()
        self.journal: list[Request] = []
        self.lock = threading.RLock()
        self.rate_limit: tuple[int, float] | None = None
        self._window: deque[float] = deque()
        self.rate_limited_count = 0

    # -- hooks for subclasses ------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        """Return an error Response when the request's credentials are wrong."""
        return None

    def retry_hint(self, seconds: int) -> Response:
        """The provider's own 429 (status, body, headers)."""
        return Response(429, {"message": "Too Many Requests"}, {"Retry-After": str(seconds)})

    def server_error(self, status: int) -> Response:
        return Response(status, {"message": "Internal error"})

    def not_found(self, request: Request) -> Response:
        return Response(404, {"message": f"No route for {request.method} {request.path}"})

    # -- fault injection -------------------------------------------------------------------

    def fail_next(self, kind: int | str, times: int = 1, **options) -> None:
        for _ in range(times):
            self._faults.append((kind, options))

    def requests_to(self, method: str, path_regex: str) -> list[Request]:
        pattern = re.compile(path_regex)
        return [r for r in self.journal if r.method == method and pattern.search(r.path)]

    # -- WSGI --------------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        with self.lock:
            self.journal.append(request)
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            kind, options = fault
            if kind == "timeout":
                time.sleep(options.get("delay", 2.0))
            elif kind == 429:
                return self.retry_hint(options.get("retry_after", 1))
            elif isinstance(kind, int):
                return self.server_error(kind)
        if self.rate_limit and self._over_limit():
            self.rate_limited_count += 1
            return self.retry_hint(1)
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                with self.lock:
                    response = handler(request)
                if fault is not None and fault[0] == "truncate":
                    text = json.dumps(response.body)
                    return Response(response.status, text[: max(1, len(text) // 2)], response.headers)
                return response
        return self.not_found(request)

    def _over_limit(self) -> bool:
        calls, per = self.rate_limit
        now = time.monotonic()
        with self.lock:
            while self._window and now - self._window[0] >= per:
                self._window.popleft()
            if len(self._window) >= calls:
                return True
            self._window.append(now)
            return False

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = Request(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", "/"),
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers=headers,
            body=body,
        )
        try:
            response = self.dispatch(request)
        except Exception as exc:  # a bug in the fake should read as a 500, not hang the client
            response = Response(500, {"message": f"fake crashed: {exc!r}"})
        if isinstance(response.body, (dict, list)):
            payload = json.dumps(response.body).encode()
            content_type = "application/json"
        elif isinstance(response.body, str):
            payload = response.body.encode()
            content_type = "application/json"
        elif response.body is None:
            payload = b""
            content_type = "application/json"
        else:
            payload = response.body
            content_type = "application/octet-stream"
        out_headers = {"Content-Type": content_type, **response.headers}
        out_headers["Content-Length"] = str(len(payload))
        start_response(
            f"{response.status} {STATUS_TEXT.get(response.status, 'Status')}",
            list(out_headers.items()),
        )
        return [payload]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep test output readable
        pass


class RunningFake:
    def __init__(self, fake: FakeAPI, server, thread):
        self.fake = fake
        self.server = server
        self.thread = thread
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def serve(fake: FakeAPI, host: str = "127.0.0.1", port: int = 0) -> RunningFake:
    """Serve `fake` in a background thread; returns the running server with its .url."""
    server = make_server(host, port, fake, server_class=_ThreadingServer, handler_class=_QuietHandler)
    # A short poll interval: stop() waits for the serving loop to notice, 0.5 s by default per test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-{fake.name}", daemon=True
    )
    thread.start()
    return RunningFake(fake, server, thread)

"""The one place provider HTTP happens: session, timeouts, retries, rate limits, logging, paging.

Retries: 429, 5xx and connection errors only, with exponential backoff and
jitter, honouring Retry-After / retryAfter / X-RateLimit-Reset. A request that
may have had a side effect (a non-idempotent POST that reached the server) is
never retried on a 5xx or a read timeout: it is reported, so a message is
never sent twice. 400/401/403/404 are never retried.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import hashlib
import itertools
import json
import logging
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from django.conf import settings

from .base import Page, RateLimit
from .errors import AuthError, NotFound, RateLimited, Rejected, Unavailable

logger = logging.getLogger("switchboard.providers.http")

USER_AGENT = "Switchboard/1.0 (+https://github.com/switchboard)"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
LOG_BODY_LIMIT = 4000
SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|api[-_]?key|apikey|authorization|auth|signature|credential)", re.I
)

# Links HTTP log rows to whatever caused them (a sync run, a connection test…).
log_correlation: contextvars.ContextVar[str] = contextvars.ContextVar("log_correlation", default="")


@contextlib.contextmanager
def correlate(tag: str):
    """Tag every HTTP log row written inside the block, e.g. correlate(f"syncrun:{run.pk}")."""
    token = log_correlation.set(tag)
    try:
        yield
    finally:
        log_correlation.reset(token)


# --- rate limiting ------------------------------------------------------------------------


def transit_margin(per_seconds: float) -> float:
    """How much longer than documented our windows are: 30 ms at least (per-second limits feel
    transit jitter most), 1 % of longer windows, never more than half a second."""
    return min(0.5, max(0.03, per_seconds * 0.01))


class SlidingWindow:
    """At most `calls` calls in ANY window of `per_seconds` seconds (a sliding log), thread-safe.

    reserve() books the earliest allowed moment for the next call and returns how long to
    wait for it. Unlike a token bucket that starts full, this never lets through more than
    the documented limit in any window, and it still runs at the full rate.
    """

    def __init__(self, calls: int, per_seconds: float, clock=time.monotonic, margin: float | None = None):
        self.calls = calls
        # A hair longer than documented: a call booked at t reaches the provider a little after t,
        # so two calls `per` apart here can land slightly less than `per` apart there.
        self.per = per_seconds + (transit_margin(per_seconds) if margin is None else margin)
        self.clock = clock
        self.booked: deque[float] = deque()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        with self.lock:
            now = self.clock()
            while self.booked and self.booked[0] <= now - self.per:
                self.booked.popleft()
            at = now
            if len(self.booked) >= self.calls:
                at = max(now, self.booked[-self.calls] + self.per)
            self.booked.append(at)
            return at - now


class TokenBucket:
    """A thread-safe token bucket: `calls` per `per_seconds`, starting full (allows a burst)."""

    def __init__(self, calls: int, per_seconds: float, clock=time.monotonic):
        self.capacity = float(calls)
        self.rate = calls / per_seconds
        self.tokens = float(calls)
        self.clock = clock
        self.updated = clock()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; return how long to wait before using it."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class RedisSlidingWindow:
    """The same sliding window kept in Redis, so every worker process shares one account's budget."""

    SCRIPT = """
    local key, calls, per, now, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
    local count = redis.call('ZCARD', key)
    local at = now
    if count >= calls then
      local edge = redis.call('ZRANGE', key, count - calls, count - calls, 'WITHSCORES')
      at = math.max(now, tonumber(edge[2]) + per)
    end
    redis.call('ZADD', key, at, member)
    redis.call('PEXPIRE', key, math.ceil((at - now + per) * 1000) + 1000)
    return tostring(at - now)
    """

    def __init__(self, client, key: str, calls: int, per_seconds: float):
        self.client = client
        self.key = key
        self.calls = calls
        self.per = per_seconds + transit_margin(per_seconds)  # see SlidingWindow
        self.script = client.register_script(self.SCRIPT)
        self._seq = itertools.count()

    def reserve(self) -> float:
        member = f"{os.getpid()}:{threading.get_ident()}:{next(self._seq)}:{random.random()}"
        return float(self.script(keys=[self.key], args=[self.calls, self.per, time.time(), member]))


_buckets: dict[tuple, Any] = {}
_buckets_lock = threading.Lock()


def _redis_client():
    url = getattr(settings, "RATE_LIMIT_REDIS_URL", "") or ""
    if not url:
        broker = getattr(settings, "CELERY_BROKER_URL", "") or ""
        url = broker if broker.startswith(("redis://", "rediss://")) else ""
    if not url:
        return None
    import redis

    return redis.Redis.from_url(url)


def get_bucket(scope: str, limit: RateLimit):
    """The shared bucket for (scope, limit): in Redis when there is one, else in this process."""
    key = (scope, limit.bucket, limit.calls, limit.per_seconds)
    with _buckets_lock:
        bucket = _buckets.get(key)
        if bucket is None:
            client = _redis_client()
            if client is not None:
                bucket = RedisSlidingWindow(
                    client,
                    f"sb:rl:{scope}:{limit.bucket}:{limit.calls}/{limit.per_seconds}",
                    limit.calls,
                    limit.per_seconds,
                )
            else:
                bucket = SlidingWindow(limit.calls, limit.per_seconds)
            _buckets[key] = bucket
        return bucket


def database_tag() -> str:
    """Short, stable name of this install's database: budgets are per account *per database*."""
    return hashlib.sha1(str(settings.DATABASES["default"]["NAME"]).encode()).hexdigest()[:6]  # noqa: S324


def reset_rate_limiters():
    """Forget every bucket (tests, and after settings change), this database's Redis windows too."""
    with _buckets_lock:
        _buckets.clear()
    client = _redis_client()
    if client is None:
        return
    import redis

    try:
        for key in client.scan_iter(f"sb:rl:{database_tag()}:*", count=500):
            client.delete(key)
    except redis.RedisError:
        logger.warning("could not clear the shared rate-limit windows in Redis")


# --- helpers ---------------------------------------------------------------------------


# user:password@ inside a URL (e.g. a webhook callback URL that carries its secret as Basic auth).
URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@\"]*:)[^@/\s\"]+@", re.I)


def redact(value: Any) -> Any:
    """Replace anything that looks like a secret in a JSON-ish value."""
    if isinstance(value, dict):
        return {k: ("***" if SECRET_KEYS.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value[:50]]
    if isinstance(value, str):
        return URL_CREDENTIALS.sub(r"\1***@", value)
    return value


def trim_body(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    body = (
        redact(body) if isinstance(body, str) else json.dumps(redact(body), ensure_ascii=False, default=str)
    )
    return body if len(body) <= LOG_BODY_LIMIT else body[:LOG_BODY_LIMIT] + f"… ({len(body)} chars)"


def parse_retry_after(headers: Mapping[str, str], body: Any, now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date), a body's retryAfter, or X-RateLimit-Reset."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    if isinstance(body, dict):
        for key in ("retryAfter", "retry_after", "retry-after"):
            if body.get(key) is not None:
                with contextlib.suppress(TypeError, ValueError):
                    return max(0.0, float(body[key]))
    reset = headers.get("X-RateLimit-Reset") or headers.get("X-Ratelimit-Reset")
    if reset:
        with contextlib.suppress(ValueError):
            reset_value = float(reset)
            # A Unix timestamp (Qlara) or a number of seconds (others).
            return max(0.0, reset_value - now) if reset_value > 1e9 else reset_value
    return None


# --- the client ------------------------------------------------------------------------------


class HttpClient:
    """One requests.Session per provider client, with everything the providers need around it."""

    def __init__(
        self,
        *,
        base_url: str,
        provider: str,
        display_name: str = "",
        account=None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        timeout: float | None = None,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        rate_limits: tuple[RateLimit, ...] = (),
        error_parser: Callable[[int, Any, Mapping[str, str]], tuple[str, str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: bool = True,
    ):
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self.display_name = display_name or provider.capitalize()
        self.account = account
        self.timeout = timeout if timeout is not None else getattr(settings, "PROVIDER_HTTP_TIMEOUT", 10.0)
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate_limits = tuple(rate_limits)
        self.error_parser = error_parser or (lambda status, body, headers: (f"HTTP {status}", ""))
        self.sleep = sleep
        self.log = log
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        if headers:
            self.session.headers.update(headers)
        self.session.auth = auth
        # One budget per account of one database: account ids repeat across databases (two
        # installs, or parallel test databases) that may share a Redis.
        who = getattr(account, "pk", None) or hashlib.sha1(base_url.encode()).hexdigest()[:8]  # noqa: S324
        self._scope = f"{database_tag()}:{provider}:{who}"

    # -- public --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        bucket: str = "default",
        idempotent: bool | None = None,
        timeout: float | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send one logical request (retrying where safe) and return the successful response.

        Raises the ProviderError subclass matching the failure, with the provider's own message.
        """
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        attempt = 0
        while True:
            attempt += 1
            self._throttle(bucket)
            started = time.monotonic()
            response = None
            try:
                response = self.session.request(
                    method, url, params=params, json=json_body, data=data, files=files, headers=headers,
                    timeout=timeout or self.timeout,
                )  # fmt: skip
            except requests.ConnectionError as exc:
                # A refused connection never reached the server: safe to retry even a send.
                reached = isinstance(exc, requests.exceptions.ReadTimeout) or "Read timed out" in str(exc)
                error = Unavailable(
                    f"{self._name()} unreachable: {self._why(exc)}",
                    provider=self.provider, method=method, path=path,
                )  # fmt: skip
                self._record(method, url, params, json_body or data, None, started, str(error))
                if (idempotent or not reached) and attempt <= self.max_retries:
                    self.sleep(self._delay(attempt, None))
                    continue
                raise error from None
            except requests.Timeout as exc:
                error = Unavailable(
                    f"{self._name()} unreachable: timeout after {timeout or self.timeout:g} s",
                    provider=self.provider, method=method, path=path,
                )  # fmt: skip
                self._record(method, url, params, json_body or data, None, started, str(error))
                connect_only = isinstance(exc, requests.exceptions.ConnectTimeout)
                if (idempotent or connect_only) and attempt <= self.max_retries:
                    self.sleep(self._delay(attempt, None))
                    continue
                raise error from None
            except (requests.RequestException, ValueError) as exc:
                # InvalidHeader, InvalidURL, …: the request never left. Their text can quote a header
                # value (an API key), so only the exception's type is kept, never its message.
                error = Unavailable(
                    f"{self._name()} request could not be sent ({type(exc).__name__}): check the "
                    "account's address and credentials",
                    provider=self.provider, method=method, path=path,
                )  # fmt: skip
                self._record(method, url, params, json_body or data, None, started, str(error))
                raise error from None

            self._record(method, url, params, json_body or data, response, started, "")
            status = response.status_code
            if status < 400 or status in ok_statuses:
                return response

            body = self._body(response)
            message, request_id = self.error_parser(status, body, response.headers)
            common = {
                "status": status, "provider": self.provider, "request_id": request_id,
                "body": response.text[:2000], "method": method, "path": path,
            }  # fmt: skip
            if status == 429:
                retry_after = parse_retry_after(response.headers, body)
                if attempt <= self.max_retries:
                    # A 429 was refused before anything happened, so even a send may be retried.
                    self.sleep(self._delay(attempt, retry_after))
                    continue
                raise RateLimited(f"{self._name()} rate limit: {message}", retry_after=retry_after, **common)
            if status >= 500:
                if idempotent and attempt <= self.max_retries:
                    self.sleep(self._delay(attempt, parse_retry_after(response.headers, body)))
                    continue
                raise Unavailable(f"{self._name()} error {status}: {message}", **common)
            if status in (401, 403):
                what = "refused the credentials" if status == 401 else "denied access"
                raise AuthError(f"{self._name()} {what} ({status}): {message}", **common)
            if status == 404:
                raise NotFound(f"Not found at {self._name()} (404): {message}", **common)
            raise Rejected(f"{self._name()} rejected the request ({status}): {message}", **common)

    def json(self, method: str, path: str, **kwargs) -> Any:
        """request() and decode JSON; an unreadable body is Unavailable (retried when safe)."""
        attempts = 0
        while True:
            attempts += 1
            response = self.request(method, path, **kwargs)
            if not response.content or response.status_code == 204:
                return None
            try:
                return response.json()
            except ValueError:
                idempotent = kwargs.get("idempotent")
                idempotent = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
                if idempotent and attempts <= self.max_retries:
                    self.sleep(self._delay(attempts, None))
                    continue
                raise Unavailable(
                    f"{self._name()} sent a response that is not valid JSON "
                    f"({len(response.content)} bytes, starts {response.text[:60]!r})",
                    status=response.status_code,
                    provider=self.provider,
                    method=method.upper(),
                    path=path,
                ) from None

    def get(self, path: str, **kwargs) -> Any:
        return self.json("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Any:
        return self.json("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> Any:
        return self.json("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> Any:
        return self.json("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> Any:
        return self.json("DELETE", path, **kwargs)

    # -- internals -------------------------------------------------------------------------

    def _name(self) -> str:
        return self.display_name or "Provider"

    @staticmethod
    def _why(exc: Exception) -> str:
        text = str(exc)
        if "Read timed out" in text:
            return "timeout while waiting for the answer"
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "host name not found"
        # Our words only: a library's message may quote the URL or a header.
        return f"connection failed ({type(exc).__name__})"

    def _throttle(self, bucket: str) -> None:
        for limit in self.rate_limits:
            if limit.bucket not in ("default", bucket):
                continue
            wait = get_bucket(self._scope, limit).reserve()
            if wait > 0:
                self.sleep(wait)

    def _delay(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return min(self.max_backoff, hint) + random.uniform(0, 0.25)
        base = self.backoff * (2 ** (attempt - 1))
        return min(self.max_backoff, base) + random.uniform(0, 0.5)

    @staticmethod
    def _body(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return response.text

    def _record(self, method, url, params, sent, response, started, error: str) -> None:
        duration_ms = int((time.monotonic() - started) * 1000)
        status = response.status_code if response is not None else None
        logger.debug(
            "%s %s %s %s → %s in %d ms", self.provider, method, url.split("?")[0], "", status, duration_ms
        )
        if not self.log:
            return
        from messaging.models import HttpLog

        try:
            HttpLog.record(
                account=self.account,
                provider=self.provider,
                method=method,
                url=url,
                params=redact(dict(params or {})),
                status=status,
                duration_ms=duration_ms,
                request_body=trim_body(sent),
                response_body=trim_body(response.content if response is not None else ""),
                request_id=(response.headers.get("X-Request-Id", "") if response is not None else ""),
                error=error,
                correlation=log_correlation.get(),
            )
        except Exception:  # logging must never break a sync; say so in the process log instead
            logger.exception("could not write the HTTP log row")


# --- paging -----------------------------------------------------------------------------------


def iter_pages(
    fetch: Callable[[Any], tuple[list, Any]],
    *,
    start: Any,
    page_size: int | None = None,
    key: Callable[[Any], Any] = lambda item: item,
    max_pages: int = 1_000_000,
) -> Iterator[Page]:
    """Yield pages from `fetch(cursor) -> (items, next_cursor)` until the listing really ends.

    Stops on an empty page, a short page (fewer than page_size), a page identical to the
    previous one (a provider ignoring our paging parameter), next_cursor None, or max_pages:
    a lying `total` can never make it loop forever. Each Page carries the cursor to resume at.
    """
    cursor = start
    previous = None
    for _ in range(max_pages):
        items, next_cursor = fetch(cursor)
        if not items:
            return
        fingerprint = hashlib.sha1(repr([key(i) for i in items]).encode()).hexdigest()  # noqa: S324
        if fingerprint == previous:
            logger.warning("paging stopped: the provider returned the same page twice (cursor %r)", cursor)
            return
        previous = fingerprint
        last = next_cursor is None or (page_size is not None and len(items) < page_size)
        yield Page(items=items, cursor=None if last else _cursor_str(next_cursor))
        if last:
            return
        cursor = next_cursor


def _cursor_str(cursor: Any) -> str:
    return cursor if isinstance(cursor, str) else json.dumps(cursor)


def load_cursor(cursor: str | None, default: Any) -> Any:
    """The inverse of the cursor strings iter_pages yields."""
    if cursor is None:
        return default
    try:
        return json.loads(cursor)
    except ValueError:
        return cursor

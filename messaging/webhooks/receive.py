"""The hot path of /hooks/<token>/: authenticate, read, and store in ONE INSERT before answering.

Budget: thousands of requests a second on two cores, durably (every 2xx means the row is
committed with synchronous_commit on). So per request this module does, in memory, the provider's
check and parse, and then hands one prepared row to the process's group-commit writer
(group_commit.py: many requests' rows in ONE statement and one commit, each request answered only
after that commit) — no ORM, no broker round trip (the drainer is nudged at most once a second
per process). On SQLite, or inside a caller's transaction, the row is written by this thread in
one statement instead. A row that cannot be committed is answered 503 with Retry-After.

- The account behind a token is cached per process for ACCOUNT_TTL seconds, but the INSERT
  re-checks the token and the stored (encrypted) secret itself, so a rotated token or a changed
  secret takes effect on the very next request: the statement inserts nothing, the cache is
  refreshed, and the request is judged again.
- The dedupe key (dedupe_key()) survives provider retries; the partial unique index over
  (account, dedupe_key) among originals turns a retry into a counted `duplicate` row, inside
  the same statement, and concurrent copies of one event count once.
- A request that fails the provider's check (401/403) or cannot be read (400) is stored too, with
  the reason, as a row that never holds the dedupe key and is never applied.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.translation import gettext as _

from ..crypto import SecretUnreadable, decrypt
from ..providers.base import DeliveryUpdate, InboundMessage, Provider, WebhookRead
from ..providers.errors import WebhookRejected
from ..providers.http import SECRET_KEYS
from ..providers.registry import get_provider_class
from . import group_commit
from .group_commit import WriterUnavailable

log = logging.getLogger(__name__)

ACCOUNT_TTL = 30.0
RETRY_AFTER = 5  # seconds a provider is asked to wait when the request could not be stored
MAX_HEADERS = 40
TABLE = "messaging_webhookevent"
ACCOUNTS = "messaging_provideraccount"


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    event_id: int | None = None
    retry_after: int | None = None  # seconds, sent as Retry-After (503 only)

    @property
    def body(self) -> bytes:
        return (self.text + "\n").encode()


@dataclass(frozen=True)
class CachedAccount:
    id: int
    slug: str
    secret_token: str  # the encrypted column as stored: the INSERT compares it
    secret: str
    provider: Provider
    loaded_at: float


_accounts: dict[str, CachedAccount] = {}
_lock = threading.Lock()
_load_lock = threading.Lock()
_last_kick = 0.0


def forget_accounts() -> None:
    """Drop the per-process account cache (tests; rotating a token does not need it)."""
    _accounts.clear()


def _load_account(token: str) -> CachedAccount | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, provider, webhook_secret, settings FROM {ACCOUNTS} WHERE webhook_token = %s",  # noqa: S608
            [token],
        )
        row = cursor.fetchone()
    if row is None:
        _accounts.pop(token, None)
        return None
    account_id, slug, secret_token, raw_settings = row
    if isinstance(raw_settings, str):
        raw_settings = json.loads(raw_settings or "{}")
    try:
        secret = decrypt(secret_token) if secret_token else ""
    except SecretUnreadable:
        secret = ""  # refused below, with words, rather than a 500
    try:
        provider = get_provider_class(slug)(credentials={}, settings=raw_settings or {})
    except Exception:  # an account of a provider no longer installed
        log.warning("Webhook for account %s of unknown provider %r", account_id, slug)
        return None
    cached = CachedAccount(account_id, slug, secret_token or "", secret, provider, time.monotonic())
    with _lock:
        _accounts[token] = cached
    return cached


def _account(token: str, *, fresh: bool = False) -> CachedAccount | None:
    cached = None if fresh else _accounts.get(token)
    if cached is not None and time.monotonic() - cached.loaded_at <= ACCOUNT_TTL:
        return cached
    # One loader per process at a time: when the cache is cold or expires under load, dozens of
    # request threads would otherwise each open a database connection for the same row.
    with _load_lock:
        cached = None if fresh else _accounts.get(token)
        if cached is not None and time.monotonic() - cached.loaded_at <= ACCOUNT_TTL:
            return cached
        try:
            return _load_account(token)
        finally:
            if _use_group_commit():
                # The writer owns the process's connection for the hot path; a request thread
                # keeps none of its own between these rare loads.
                connection.close()


# --- reading the request ---------------------------------------------------------------------------


def clean_headers(headers: Mapping[str, str], secret: str) -> dict[str, str]:
    """The headers worth keeping for inspection: never a credential, a signature or a cookie."""
    kept: dict[str, str] = {}
    secrets = [s for s in (secret or "").splitlines() if len(s) >= 4]
    for name, value in list(headers.items())[:MAX_HEADERS]:
        value = str(value)
        if name.upper() == "QUERY_STRING":
            kept[name] = redact_query(value)
        elif SECRET_KEYS.search(name) or name.lower() == "cookie" or any(s in value for s in secrets):
            kept[name] = "***"
        else:
            kept[name] = value[:500]
    return kept


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "***" if SECRET_KEYS.search(k) else v) for k, v in pairs])


def dedupe_key(read: WebhookRead, body: bytes) -> str:
    """What makes this request the event it is, so a provider's retry gets the same key.

    Message events: the provider's message id, recipient and state (a message reaches a state once
    per recipient: Spryng's one id covers up to 50), not the provider's event id, which some
    providers renew on a retry. Inbound: the message id, sender and content (Spoki repeats an inbound
    event when its media arrives). Other events: the provider's event id where it has one, else
    the body itself.
    """
    parts = []
    for event in read.events:
        if isinstance(event, DeliveryUpdate) and (event.remote_message_id or event.reference):
            parts.append(
                f"d|{event.remote_message_id}|{event.reference}|{event.to}|{event.status}|{event.error_code}"
            )
        elif isinstance(event, InboundMessage) and event.remote_id:
            parts.append(f"i|{event.remote_id}|{event.from_phone}|{event.text}|{event.media_url}")
        else:
            parts = []
            break
    if parts and not read.changes:
        digest = hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()
        return f"m:{digest[:48]}"
    if read.event_id:
        return f"e:{read.event_type[:40]}:{read.event_id[:120]}"
    return f"b:{hashlib.sha256(body).hexdigest()[:48]}"


# --- storing ---------------------------------------------------------------------------------------

_COLUMNS = (
    "account_id, provider, event_type, event_id, dedupe_key, is_original, status, http_status, "
    "method, headers, body, error, outcome, attempts, received_at"
)

_PG_INSERT = f"""
WITH acc AS (
    SELECT id FROM {ACCOUNTS} WHERE webhook_token = %s AND webhook_secret = %s
), ins AS (
    INSERT INTO {TABLE} ({_COLUMNS})
    SELECT id, %s, %s, %s, %s, true, 'received', 200, %s, %s::jsonb, %s, '', '{{}}'::jsonb, 0, %s FROM acc
    ON CONFLICT (account_id, dedupe_key) WHERE is_original DO NOTHING
    RETURNING id
), dup AS (
    INSERT INTO {TABLE} ({_COLUMNS})
    SELECT id, %s, %s, %s, %s, false, 'duplicate', 200, %s, %s::jsonb, %s, '', '{{}}'::jsonb, 0, %s FROM acc
    WHERE NOT EXISTS (SELECT 1 FROM ins)
    RETURNING id
)
SELECT (SELECT id FROM ins), (SELECT id FROM dup)
"""  # noqa: S608  (names are constants; every value is a parameter)

_SQLITE_INSERT = f"""
INSERT INTO {TABLE} ({_COLUMNS})
SELECT id, %s, %s, %s, %s, 1, 'received', 200, %s, %s, %s, '', '{{}}', 0, %s
FROM {ACCOUNTS} WHERE webhook_token = %s AND webhook_secret = %s
ON CONFLICT (account_id, dedupe_key) WHERE is_original DO NOTHING
RETURNING id
"""  # noqa: S608

_SQLITE_DUPLICATE = f"""
INSERT INTO {TABLE} ({_COLUMNS})
SELECT id, %s, %s, %s, %s, 0, 'duplicate', 200, %s, %s, %s, '', '{{}}', 0, %s
FROM {ACCOUNTS} WHERE webhook_token = %s AND webhook_secret = %s
RETURNING id
"""  # noqa: S608

_PLAIN_INSERT = f"""
INSERT INTO {TABLE} ({_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s)
"""  # noqa: S608


def _execute(sql: str, params: list[Any], *, prepare: bool = False) -> tuple | None:
    """One statement in autocommit; a dropped connection is reopened once.

    prepare=True (PostgreSQL): run it as a server-side prepared statement on the raw psycopg
    connection — parameters travel apart from the SQL and PostgreSQL plans the CTE once per
    connection, instead of Django's client-side binding quoting a 2 kB body into the text.
    """
    for attempt in (1, 2):
        try:
            if prepare:
                return _execute_prepared(sql, params)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone() if cursor.description else None
        except DatabaseError:
            if attempt == 2 or connection.in_atomic_block or connection.is_usable():
                raise
            connection.close()
        except Exception as exc:  # psycopg's own errors, raised outside Django's wrapper
            if attempt == 2 or connection.in_atomic_block or not _is_connection_error(exc):
                raise
            connection.close()
    return None


def _execute_prepared(sql: str, params: list[Any]) -> tuple | None:
    import psycopg

    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if connection.queries_logged:  # DEBUG / assertNumQueries see this statement like any other
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return row


def _is_connection_error(exc: Exception) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def _now():
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _use_group_commit() -> bool:
    """The shared writer serves PostgreSQL callers outside a transaction (group_commit.py says why)."""
    return (
        connection.vendor == "postgresql"
        and getattr(settings, "WEBHOOK_GROUP_COMMIT", True)
        and not connection.in_atomic_block
    )


def _commit_timeout() -> float:
    return float(getattr(settings, "WEBHOOK_COMMIT_TIMEOUT", 10.0))


def store_event(account: CachedAccount, token: str, event: dict[str, Any]) -> tuple[str, int | None]:
    """Insert the event as an original, or as a duplicate when its key is taken.

    → ("received" | "duplicate", row id), or ("gone", None) when the token or the secret changed
    since the account was cached (nothing was written).
    """
    if _use_group_commit():
        row = (
            token, account.secret_token, account.slug, event["event_type"][:100], event["event_id"][:200],
            event["dedupe_key"][:200], event["method"], json.dumps(event["headers"]), event["body"],
            timezone.now(),
        )  # fmt: skip
        outcome, row_id = group_commit.writer().submit("event", row, _commit_timeout())
        return outcome, row_id
    values = [
        account.slug, event["event_type"][:100], event["event_id"][:200], event["dedupe_key"][:200],
        event["method"], json.dumps(event["headers"]), event["body"], _now(),
    ]  # fmt: skip
    if connection.vendor == "postgresql":
        row = _execute(_PG_INSERT, [token, account.secret_token, *values, *values], prepare=True)
        if row is None or (row[0] is None and row[1] is None):
            return "gone", None
        return ("received", row[0]) if row[0] is not None else ("duplicate", row[1])
    row = _execute(_SQLITE_INSERT, [*values, token, account.secret_token])
    if row is not None:
        return "received", row[0]
    row = _execute(_SQLITE_DUPLICATE, [*values, token, account.secret_token])
    return ("duplicate", row[0]) if row is not None else ("gone", None)


def store_refusal(account: CachedAccount, event: dict[str, Any], http_status: int, reason: str) -> None:
    """Keep a refused or unreadable request for inspection; it never holds the dedupe key."""
    if _use_group_commit():
        row = (
            account.id, account.slug, event.get("event_type", "")[:100], event.get("event_id", "")[:200],
            event.get("dedupe_key", "")[:200], http_status, event["method"], json.dumps(event["headers"]),
            event["body"], reason[:2000], timezone.now(),
        )  # fmt: skip
        group_commit.writer().submit("refusal", row, _commit_timeout())
        return
    _execute(
        _PLAIN_INSERT,
        [
            account.id, account.slug, event.get("event_type", "")[:100], event.get("event_id", "")[:200],
            event.get("dedupe_key", "")[:200], False, "failed", http_status, event["method"],
            json.dumps(event["headers"]), event["body"], reason[:2000], "{}", _now(),
        ],
    )  # fmt: skip


# --- the whole request -----------------------------------------------------------------------------


def receive_webhook(
    token: str, method: str, headers: Mapping[str, str], body: bytes, query: str = ""
) -> Answer:
    """Judge and store one request to /hooks/<token>/; the answer is what the provider gets.

    Nothing is answered 2xx before its row is committed. When the database cannot take it now
    (down, or the shared writer failed or is too slow) the answer is 503 with Retry-After, which
    every provider retries, never a 500.
    """
    try:
        return _receive_webhook(token, method, headers, body, query)
    except WriterUnavailable as exc:
        log.warning("Webhook not stored, answered 503: %s", exc)
    except Exception as exc:
        # A caller's own transaction must see its failure; a provider's request gets a 503.
        if connection.in_atomic_block or not (isinstance(exc, DatabaseError) or _is_connection_error(exc)):
            raise
        log.warning("Webhook not stored, answered 503: %s", exc)
    return Answer(503, _("Not stored this time; please retry."), retry_after=RETRY_AFTER)


def _receive_webhook(token: str, method: str, headers: Mapping[str, str], body: bytes, query: str) -> Answer:
    account = _account(token)
    if account is None:
        return Answer(404, _("Unknown webhook address."))
    for _attempt in (1, 2):
        answer = _receive(account, token, method.upper(), headers, body, query)
        if answer is not None:
            return answer
        account = _account(token, fresh=True)  # the token was rotated or the secret changed
        if account is None:
            return Answer(404, _("Unknown webhook address."))
    return Answer(503, _("The account changed while the request arrived; please retry."))


def _receive(account: CachedAccount, token, method, headers, body, query) -> Answer | None:
    provider = account.provider
    headers = dict(headers)
    if query:
        headers["QUERY_STRING"] = query
    if method == "HEAD" or (
        method not in provider.webhook_methods
        or (method == "GET" and not provider.is_webhook_event(headers, body))
    ):
        if method in ("GET", "HEAD"):
            return Answer(200, "ok")  # a reachability check: answered, nothing stored
        return Answer(
            405, _("This address accepts %(methods)s.") % {"methods": ", ".join(provider.webhook_methods)}
        )
    event = {
        "method": method,
        "headers": {
            k: v.replace("\x00", "\ufffd") for k, v in clean_headers(headers, account.secret).items()
        },
        # PostgreSQL text and jsonb hold no NUL: one in a body would fail the whole shared batch.
        "body": body.decode("utf-8", "replace").replace("\x00", "\ufffd"),
        "event_type": "",
        "event_id": "",
    }
    limit = getattr(settings, "WEBHOOK_MAX_BODY_BYTES", 256 * 1024)
    if len(body) > limit:
        event["body"] = event["body"][:limit]
        store_refusal(account, event, 413, _("The body is larger than %(limit)s bytes.") % {"limit": limit})
        return Answer(413, _("Body too large."))
    if account.secret or provider.webhook_secret_required:
        try:
            provider.verify_webhook(headers, body, account.secret)
        except WebhookRejected as exc:
            status = 401 if account.secret else 403
            store_refusal(account, event, status, str(exc))
            return Answer(status, str(exc))
    try:
        read = provider.read_webhook(headers, body)
    except (WebhookRejected, ValueError, TypeError, AttributeError, KeyError) as exc:
        store_refusal(account, event, 400, _("Malformed body: %(error)s") % {"error": exc})
        return Answer(400, _("Malformed body."))
    event.update(event_type=read.event_type, event_id=read.event_id, dedupe_key=dedupe_key(read, body))
    outcome, row_id = store_event(account, token, event)
    if outcome == "gone":
        return None
    if outcome == "received":
        kick_drainer()
        return Answer(200, "ok", row_id)
    return Answer(200, "duplicate", row_id)


def kick_drainer() -> None:
    """Ask a worker to drain, at most once per WEBHOOK_KICK_SECONDS in this process (0/None: never)."""
    global _last_kick
    every = getattr(settings, "WEBHOOK_KICK_SECONDS", 1.0)
    now = time.monotonic()
    if not every or now - _last_kick < every:
        return
    _last_kick = now
    try:
        from .tasks import process_webhook_events

        process_webhook_events.apply_async()
    except Exception:  # the broker being down never costs a provider its 2xx: beat drains too
        log.warning("Could not enqueue the webhook drainer", exc_info=True)

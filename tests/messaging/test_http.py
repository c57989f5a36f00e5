"""The HTTP layer against a real local server: retries, hints, errors, logging, paging."""

import bisect

import pytest

from messaging.models import HttpLog
from messaging.providers.base import RateLimit
from messaging.providers.errors import AuthError, NotFound, RateLimited, Rejected, Unavailable
from messaging.providers.http import HttpClient, SlidingWindow, TokenBucket, iter_pages, parse_retry_after
from tests.fakes.base import FakeAPI, Response, route


class EchoFake(FakeAPI):
    name = "echo"

    def __init__(self):
        super().__init__()
        self.sent = 0

    def authenticate(self, request):
        if request.header("x-api-key") != "good":
            return Response(401, {"message": "Invalid API key", "requestId": "req-1"})
        return None

    def retry_hint(self, seconds):
        return Response(429, {"status": 429, "message": "Slow down", "retryAfter": seconds})

    @route("GET", "/items")
    def items(self, request):
        page = int(request.arg("page", "0"))
        data = [{"id": i} for i in range(page * 10, min(25, page * 10 + 10))]
        return Response(200, data)

    @route("POST", "/send")
    def send(self, request):
        self.sent += 1
        return Response(201, {"id": self.sent})

    @route("GET", "/missing")
    def missing(self, request):
        return Response(404, {"message": "No such contact"})

    @route("POST", "/bad")
    def bad(self, request):
        return Response(400, {"message": "phoneNumbers is required"})


def client(url, key="good", **kw):
    sleeps = []
    http = HttpClient(
        base_url=url,
        provider="echo",
        headers={"X-Api-Key": key},
        sleep=sleeps.append,
        error_parser=lambda s, b, h: (
            b.get("message", "") if isinstance(b, dict) else str(b),
            (b or {}).get("requestId", "") if isinstance(b, dict) else "",
        ),
        **kw,
    )
    return http, sleeps


@pytest.mark.django_db
def test_retries_429_with_the_providers_hint_then_succeeds(serve_fake):
    server = serve_fake(EchoFake())
    server.fake.fail_next(429, times=2, retry_after=7)
    http, sleeps = client(server.url)
    assert http.get("/items") == [{"id": i} for i in range(10)]
    assert len(sleeps) == 2 and all(7 <= s < 7.3 for s in sleeps)
    assert HttpLog.objects.filter(status=429).count() == 2


@pytest.mark.django_db
def test_send_is_not_retried_after_a_5xx(serve_fake):
    server = serve_fake(EchoFake())
    server.fake.fail_next(503)
    http, _ = client(server.url)
    with pytest.raises(Unavailable) as err:
        http.post("/send", json_body={"to": "+39333"})
    assert err.value.status == 503
    assert len(server.fake.requests_to("POST", "/send")) == 1


@pytest.mark.django_db
def test_gets_are_retried_after_5xx_and_truncated_json(serve_fake):
    server = serve_fake(EchoFake())
    server.fake.fail_next(502)
    server.fake.fail_next("truncate")
    http, sleeps = client(server.url)
    assert http.get("/items", params={"page": 1})[0] == {"id": 10}
    assert len(sleeps) == 2


@pytest.mark.django_db
def test_errors_carry_the_providers_message_and_are_not_retried(serve_fake):
    server = serve_fake(EchoFake())
    http, sleeps = client(server.url, key="bad")
    with pytest.raises(AuthError) as err:
        http.get("/items")
    assert "Invalid API key" in str(err.value) and err.value.request_id == "req-1"
    http, sleeps = client(server.url)
    with pytest.raises(NotFound, match="No such contact"):
        http.get("/missing")
    with pytest.raises(Rejected, match="phoneNumbers is required"):
        http.post("/bad", json_body={})
    assert sleeps == []


@pytest.mark.django_db
def test_rate_limited_after_retries_run_out(serve_fake):
    server = serve_fake(EchoFake())
    server.fake.fail_next(429, times=3, retry_after=1)
    http, _ = client(server.url, max_retries=2)
    with pytest.raises(RateLimited) as err:
        http.get("/items")
    assert err.value.retry_after == 1


@pytest.mark.django_db
def test_unreachable_host_says_so():
    http, sleeps = client("http://127.0.0.1:9", max_retries=1)
    with pytest.raises(Unavailable, match="unreachable"):
        http.get("/items")
    assert len(sleeps) == 1


@pytest.mark.django_db
def test_log_redacts_secrets(serve_fake):
    server = serve_fake(EchoFake())
    http, _ = client(server.url)
    http.post("/send", json_body={"to": "+39333", "apiKey": "s3cret", "nested": {"password": "pw"}})
    row = HttpLog.objects.get(path="/send")
    assert "s3cret" not in row.request_body and 'pw"' not in row.request_body
    assert row.status == 201 and row.method == "POST"


def test_iter_pages_stops_on_short_empty_and_repeated_pages():
    data = list(range(25))
    pages = list(iter_pages(lambda p: (data[p * 10 : p * 10 + 10], p + 1), start=0, page_size=10))
    assert [len(p.items) for p in pages] == [10, 10, 5] and pages[-1].cursor is None
    # a provider that ignores the page parameter and lies about totals
    pages = list(iter_pages(lambda p: (data[:10], p + 1), start=0, page_size=10))
    assert len(pages) == 1
    # next: null
    pages = list(iter_pages(lambda p: (data[:10], None), start=0))
    assert len(pages) == 1


def test_retry_after_forms():
    assert parse_retry_after({"Retry-After": "12"}, None) == 12
    assert parse_retry_after({}, {"retryAfter": 3}) == 3
    assert parse_retry_after({"X-RateLimit-Reset": "1060"}, None, now=1000) == 1060  # seconds form
    assert parse_retry_after({"X-RateLimit-Reset": str(2_000_000_000)}, None, now=1_999_999_990) == 10


def test_token_bucket_limits_rate():
    now = [0.0]
    bucket = TokenBucket(5, 1.0, clock=lambda: now[0])
    waits = [bucket.reserve() for _ in range(7)]
    assert waits[:5] == [0, 0, 0, 0, 0] and waits[5] == pytest.approx(0.2) and waits[6] == pytest.approx(0.4)
    assert RateLimit(5, 1.0).bucket == "default"


def test_sliding_window_never_exceeds_the_limit_in_any_window_and_runs_at_full_rate():
    now = [0.0]
    window = SlidingWindow(100, 60.0, clock=lambda: now[0])
    stamps = []
    while now[0] < 600:
        now[0] += window.reserve()
        stamps.append(now[0])
        now[0] += 0.001  # the call itself takes a moment
    busiest = max(bisect.bisect_left(stamps, t + 60.0) - i for i, t in enumerate(stamps))
    assert busiest <= 100  # a full-start token bucket would allow 200 in the first minute
    assert len(stamps) / 10 >= 0.95 * 100


@pytest.mark.redis
def test_redis_window_is_shared_by_every_client_of_an_account():
    import uuid

    import redis

    from messaging.providers.http import RedisSlidingWindow

    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    key = f"sb:test:{uuid.uuid4().hex}"
    # two "worker processes" sharing one account's 5-per-second budget
    first, second = RedisSlidingWindow(client, key, 5, 1.0), RedisSlidingWindow(client, key, 5, 1.0)
    waits = [w.reserve() for w in (first, second, first, second, first, second, first)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert 0.9 < waits[5] <= 1.04 and 0.9 < waits[6] <= 1.04
    client.delete(key)

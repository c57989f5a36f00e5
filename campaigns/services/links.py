"""Click tracking: links in SMS/RCS texts become short redirect links, one per recipient and link.

`LinkTracker` is the fan-out's hook: `rewrite()` swaps each http(s) URL in a recipient's text
for `SWITCHBOARD_PUBLIC_URL/r/<code>` (a fresh random code) and remembers it; `flush()`, called
once the writer has written a batch of message rows, finds their ids with one query and writes
the batch's links with one bulk insert — no query per recipient.

`record_click` is the redirect's write: every visit adds one to the link's `clicks`; the first
visit to any link of a message marks that recipient as clicked (Message.clicked_at and the
`clicked` counter, moved together in one transaction by a conditional UPDATE, so concurrent
clicks count the recipient once and the counter always equals a count over the messages).

Only texts that go out as they are written are rewritten: SMS and RCS messages without a
provider template. A WhatsApp (or RCS) template was approved by Meta/the carrier word for word,
so its links are left alone and are not tracked.
"""

from __future__ import annotations

import re
import secrets
import string

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging.message_models import Message
from messaging.stats import StatDeltas

from ..models import Campaign, TrackedLink

ALPHABET = string.ascii_letters + string.digits  # base62
CODE_LENGTH = 8  # 2**48 ≈ 2.8e14 random codes: unguessable by enumeration, collisions vanishingly rare
CODE_RE = re.compile(rf"^[0-9A-Za-z]{{{CODE_LENGTH}}}$")
TRACKED_CHANNELS = ("sms", "rcs")
MAX_URL_LENGTH = 2000  # longer "links" are left as written
# An http(s) URL up to the next space or quote; punctuation that usually ends a sentence is not part of it.
URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""
INSERT_ATTEMPTS = 5
INSERT_BATCH = 8000  # rows per INSERT: 6 parameters each stays below PostgreSQL's 65,535


def public_base() -> str:
    return str(getattr(settings, "SWITCHBOARD_PUBLIC_URL", "") or "http://127.0.0.1:8000").rstrip("/")


def short_url(code: str) -> str:
    return f"{public_base()}/r/{code}"


def tracked_link_length() -> int:
    """How many characters a tracked link takes in the text: len(public URL) + len('/r/') + the code."""
    return len(public_base()) + len("/r/") + CODE_LENGTH


def new_code() -> str:
    """CODE_LENGTH base62 characters from the OS's CSPRNG (48 random bits; one call, not one per character)."""
    number = int.from_bytes(secrets.token_bytes(6), "big")
    chars = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(chars)


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http(s) link in `text`, sentence punctuation trimmed."""
    found = []
    for match in URL_RE.finditer(text or ""):
        url = match.group(0)
        while url and url[-1] in TRAILING:
            # A closing bracket that the URL itself opened belongs to it (wikipedia-style links).
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        if len(url) > len("https://") and len(url) <= MAX_URL_LENGTH:
            found.append((match.start(), match.start() + len(url), url))
    return found


def replace_urls(text: str, code_for) -> str:
    """`text` with each link replaced by short_url(code_for(url)) (same link, same code)."""
    urls = find_urls(text)
    if not urls:
        return text
    out, last = [], 0
    for start, end, url in urls:
        out.append(text[last:start])
        out.append(short_url(code_for(url)))
        last = end
    out.append(text[last:])
    return "".join(out)


def tracks_links(campaign: Campaign, rendered: dict | None = None) -> bool:
    """Whether this campaign's messages (this rendered one) get tracked links."""
    if not campaign.track_clicks or campaign.channel not in TRACKED_CHANNELS:
        return False
    return not (rendered or {}).get("template_name")


def sample_text(campaign: Campaign, rendered: dict) -> str:
    """What a recipient reads (the preview): links replaced by short links of the real length; nothing stored."""
    if not tracks_links(campaign, rendered):
        return rendered["text"]
    codes: dict[str, str] = {}
    return replace_urls(rendered["text"], lambda url: codes.setdefault(url, new_code()))


def counted_text(campaign: Campaign, text: str) -> str:
    """`text` as the SMS counter must see it: each link as long as the short link that replaces it."""
    if not campaign.track_clicks or campaign.channel not in TRACKED_CHANNELS or campaign.template_id:
        return text
    return replace_urls(text, lambda url: "x" * CODE_LENGTH)


class LinkTracker:
    """The fan-out's hook: rewrite texts per recipient, then write the batch's links in bulk."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.enabled = tracks_links(campaign)
        self.pending: dict[str, list[tuple[str, str]]] = {}  # message reference → [(code, url)]
        self.written = 0

    def rewrite(self, reference: str, rendered: dict) -> dict:
        """The recipient's rendered fields with their links replaced (unchanged when not tracking)."""
        if not self.enabled or not tracks_links(self.campaign, rendered):
            return rendered
        links: dict[str, str] = {}
        text = replace_urls(rendered["text"], lambda url: links.setdefault(url, new_code()))
        if links:
            self.pending[reference] = [(code, url) for url, code in links.items()]
        return {**rendered, "text": text}

    def flush(self) -> int:
        """Write the links of the messages written since the last flush (their rows must exist now).

        A few statements per batch, whatever its size: the message ids by reference, then one COPY
        (PostgreSQL) or bulk INSERT, in a savepoint. A code that collides with a stored one (the unique
        constraint) undoes the savepoint; the clashing links get new codes, their messages' texts are
        corrected (one UPDATE each: a 1-in-10^9 event), and the batch is written again.
        """
        if not self.pending:
            return 0
        pending, self.pending = self.pending, {}
        ids = dict(Message.objects.filter(reference__in=list(pending)).values_list("reference", "pk"))
        rows = [[code, ids[ref], url] for ref, links in pending.items() if ref in ids for code, url in links]
        for attempt in range(INSERT_ATTEMPTS):
            try:
                with transaction.atomic():
                    self._insert(rows)
                break
            except IntegrityError:
                if attempt == INSERT_ATTEMPTS - 1:
                    raise
                self._redraw(rows)
        self.written += len(rows)
        return len(rows)

    def _insert(self, rows: list[list]) -> None:
        now = timezone.now()
        if connection.vendor == "postgresql":
            table = TrackedLink._meta.db_table
            sql = f"COPY {table} (code, message_id, campaign_id, url, clicks, created_at) FROM STDIN"
            # wrap_database_errors: a clash inside COPY is raised as Django's IntegrityError, like an INSERT's.
            with (
                connection.wrap_database_errors,
                connection.cursor() as cursor,
                cursor.cursor.copy(sql) as copy,
            ):
                for code, message_id, url in rows:
                    copy.write_row((code, message_id, self.campaign.pk, url, 0, now))
            return
        TrackedLink.objects.bulk_create(
            [TrackedLink(code=code, message_id=message_id, campaign_id=self.campaign.pk, url=url, created_at=now)
             for code, message_id, url in rows],
            batch_size=INSERT_BATCH,
        )  # fmt: skip

    @staticmethod
    def _redraw(rows: list[list]) -> None:
        """A code clashed with one already stored: give the clashing links new codes, and their texts too."""
        taken = set(TrackedLink.objects.filter(code__in=[r[0] for r in rows]).values_list("code", flat=True))
        for row in rows:
            if row[0] not in taken:
                continue
            old, row[0] = row[0], new_code()
            message = Message.objects.only("text").get(pk=row[1])
            Message.objects.filter(pk=row[1]).update(
                text=message.text.replace(short_url(old), short_url(row[0]))
            )


def resolve(code: str) -> dict | None:
    """The link behind a code, with what counting a click needs (one query); None when unknown."""
    if not isinstance(code, str) or not CODE_RE.match(code):
        return None
    return (
        TrackedLink.objects.filter(code=code)
        .values("pk", "url", "message_id", "campaign_id", "message__account_id", "message__channel")
        .first()
    )


def record_click(link: dict, *, at=None) -> bool:
    """Count one click on `link` (from resolve); True when it made its recipient "clicked" for the first time.

    Safe under concurrency: the link's counter is an atomic increment, and only the UPDATE that
    finds the message's clicked_at still empty moves the `clicked` counter.
    """
    at = at or timezone.now()
    with transaction.atomic():
        TrackedLink.objects.filter(pk=link["pk"]).update(
            clicks=F("clicks") + 1, first_clicked_at=Coalesce(F("first_clicked_at"), at)
        )
        first = Message.objects.filter(pk=link["message_id"], clicked_at__isnull=True).update(
            clicked_at=at, updated_at=at
        )
        if first:
            deltas = StatDeltas()
            probe = Message(campaign_id=link["campaign_id"], account_id=link["message__account_id"],
                            channel=link["message__channel"])  # fmt: skip
            deltas.add(probe, "clicked", 1, at=at)
            deltas.flush()
    return bool(first)

"""The provider interface: normalised records and the Provider base class.

Everything outside `messaging/providers/` speaks only these records and asks
`Provider.capabilities` what an account can do; nothing outside knows a
provider's paths, field names or paging. A provider package implements the
hooks its capability table declares and leaves the rest to raise NotSupported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from .errors import NotSupported, WebhookRejected

if TYPE_CHECKING:
    from .http import HttpClient
    from .template_syntax import VariableSyntax

T = TypeVar("T")


# --- Capabilities -------------------------------------------------------------


class Resource(StrEnum):
    CONTACTS = "contacts"
    LISTS = "lists"
    CUSTOM_FIELDS = "custom_fields"
    TEMPLATES = "templates"
    CAMPAIGNS = "campaigns"
    AUTOMATIONS = "automations"
    SENDERS = "senders"  # SMS originators, WhatsApp numbers, RCS agents (pull only)


class Op(StrEnum):
    PULL = "pull"  # list/iterate and get
    PUSH = "push"  # create and update
    DELETE = "delete"
    MEMBERSHIP = "membership"  # lists: add/remove/list members
    BULK = "bulk"  # push many in one call (see Provider.bulk_limit)
    STATS = "stats"  # campaigns: statistics
    START = "start"  # campaigns/automations: start or confirm


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    RCS = "rcs"
    VOICE = "voice"


@dataclass(frozen=True)
class Capabilities:
    """What a provider supports. The UI and the sync engine ask this, never the provider's name."""

    resources: Mapping[Resource, frozenset[Op]] = field(default_factory=dict)
    send: frozenset[Channel] = frozenset()
    webhooks: bool = False
    balance: bool = False

    def supports(self, resource: Resource | str, op: Op | str) -> bool:
        return Op(op) in self.resources.get(Resource(resource), frozenset())

    def can_send(self, channel: Channel | str) -> bool:
        return Channel(channel) in self.send

    def as_dict(self) -> dict[str, Any]:
        return {
            "resources": {r.value: sorted(o.value for o in ops) for r, ops in self.resources.items()},
            "send": sorted(c.value for c in self.send),
            "webhooks": self.webhooks,
            "balance": self.balance,
        }


def caps(**resources: Iterable[Op | str]) -> dict[Resource, frozenset[Op]]:
    """caps(contacts=["pull", "push"], lists=[...]) → the mapping Capabilities expects."""
    return {Resource(name): frozenset(Op(o) for o in ops) for name, ops in resources.items()}


@dataclass(frozen=True)
class ConfigField:
    """One credential or setting an account of this provider needs (drives forms and the API)."""

    key: str
    label: str
    required: bool = True
    help: str = ""
    secret: bool = False


@dataclass(frozen=True)
class RateLimit:
    """`calls` per `per_seconds` seconds, for one bucket (an endpoint group or the whole account)."""

    calls: int
    per_seconds: float
    bucket: str = "default"


# --- Normalised records ---------------------------------------------------------

# Contact attributes a provider may store; Provider.contact_fields names the subset it keeps,
# so sync leaves the others alone instead of blanking them.
CONTACT_FIELDS = frozenset(
    {
        "phone", "first_name", "last_name", "email", "language", "gender", "birth_date", "company",
        "address", "city", "province", "postal_code", "country", "notes", "custom_fields", "tags",
        "opted_out", "blocked",
    }
)  # fmt: skip


@dataclass
class RemoteContact:
    remote_id: str = ""
    phone: str = ""  # E.164 where the provider gives one; the sync engine normalises
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    language: str = ""
    gender: str = ""
    birth_date: dt.date | None = None
    company: str = ""
    address: str = ""
    city: str = ""
    province: str = ""
    postal_code: str = ""
    country: str = ""
    notes: str = ""
    custom_fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    list_ids: list[str] = field(default_factory=list)
    opted_out: bool | None = None  # None: the provider does not say
    blocked: bool | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class RemoteList:
    remote_id: str = ""
    name: str = ""
    description: str = ""
    member_count: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class RemoteSender:
    """Something the account sends from: an SMS originator, a WhatsApp number, an RCS agent.

    `address` is what a send names as OutboundMessage.sender (the originator text, the phone
    number id, the agent id); `label` is what staff read (a name and/or the number).
    """

    channel: str = Channel.SMS.value
    address: str = ""
    label: str = ""
    active: bool = True
    status: str = ""  # the provider's own word for it, shown to staff
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class RemoteCustomField:
    remote_id: str = ""
    key: str = ""  # the provider's code/name
    label: str = ""
    type: str = "text"  # text | number | date | boolean | choice
    choices: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class TemplateStatus(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAUSED = "paused"
    DISABLED = "disabled"
    UNKNOWN = "unknown"


@dataclass
class RemoteTemplate:
    remote_id: str = ""
    name: str = ""
    channel: str = Channel.WHATSAPP.value
    language: str = ""
    category: str = ""  # MARKETING | UTILITY | AUTHENTICATION | …
    status: str = TemplateStatus.UNKNOWN.value
    status_reason: str = ""
    header: dict[str, Any] = field(default_factory=dict)  # {"type": "text"|"image"|…, "text"/"url": …}
    body: str = ""
    footer: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)  # Meta-style, when given
    examples: dict[str, str] = field(default_factory=dict)  # sample value per variable key
    cards: list[dict[str, Any]] = field(default_factory=list)  # RCS rich card / carousel cards
    fallback_text: str = ""  # RCS: the SMS sent where RCS is not available
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


@dataclass
class RemoteCampaign:
    remote_id: str = ""
    name: str = ""
    status: str = CampaignStatus.UNKNOWN.value
    channel: str = ""
    template_id: str = ""
    list_ids: list[str] = field(default_factory=list)
    text: str = ""
    sender: str = ""
    scheduled_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class RemoteAutomation:
    """A flow that runs at the provider (e.g. a Spoki automation), started per contact from here."""

    remote_id: str = ""
    name: str = ""
    is_active: bool = True
    fields: list[str] = field(default_factory=list)  # the contact/custom fields it uses
    trigger_id: str = ""  # what start calls address (Spoki: the webhook uuid)
    trigger_secret: str = field(default="", repr=False)  # kept encrypted at rest by the caller
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class CampaignStats:
    campaign_id: str = ""
    bucket_start: dt.datetime | None = None  # None: totals for the whole campaign
    recipients: int | None = None
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    clicked: int = 0
    replied: int = 0
    cost: Decimal | None = None
    currency: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class MessageStatus(StrEnum):
    """Normalised delivery states, in the order they can only move forward (failed aside)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNKNOWN = "unknown"


# A later state never goes back to an earlier one ("late delivered never overwrites read").
STATUS_RANK = {
    MessageStatus.UNKNOWN: 0, MessageStatus.QUEUED: 1, MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3, MessageStatus.READ: 4, MessageStatus.FAILED: 3,
}  # fmt: skip


@dataclass
class OutboundMessage:
    """What we ask a provider to send."""

    to: str  # E.164
    channel: str = Channel.SMS.value
    text: str = ""
    template_name: str = ""
    template_language: str = ""
    variables: list[str] | dict[str, str] = field(default_factory=list)
    media_url: str = ""
    buttons: list[dict[str, Any]] = field(default_factory=list)
    sender: str = ""  # SMS sender, WhatsApp phone number id, RCS agent
    reference: str = ""  # our id, echoed back in delivery updates where the provider allows
    fallback: list[str] = field(default_factory=list)  # channels to fall back to, in order


@dataclass
class SendResult:
    accepted: bool
    remote_id: str = ""
    to: str = ""
    channel: str = ""
    status: str = MessageStatus.QUEUED.value
    reference: str = ""
    price: Decimal | None = None
    currency: str = ""
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class DeliveryUpdate:
    remote_message_id: str
    status: str
    occurred_at: dt.datetime | None = None
    reference: str = ""
    to: str = ""
    channel: str = ""
    error_code: str = ""
    error_message: str = ""
    price: Decimal | None = None
    currency: str = ""
    event_id: str = ""  # the provider's event id when it has one (never the only dedupe key)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class InboundMessage:
    remote_id: str
    from_phone: str
    to: str = ""
    channel: str = ""
    text: str = ""
    media_url: str = ""
    received_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class ResourceChange:
    """A provider says one of its records changed (a contact edited in its console, a template approved).

    `record` is the normalised record when the webhook carries it (RemoteContact, RemoteTemplate…);
    the sync engine applies it by its own rules, or pulls the resource when it is None.
    """

    resource: str  # a Resource value
    action: str  # created | updated | deleted
    remote_id: str = ""
    record: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class WebhookRead:
    """What one webhook request holds: the provider's name for it, its event id and the normalised events."""

    event_type: str = ""
    event_id: str = ""
    events: list[DeliveryUpdate | InboundMessage] = field(default_factory=list)
    changes: list[ResourceChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.events and not self.changes


@dataclass
class AccountInfo:
    """The outcome of a connection test or a balance read, in words staff understand."""

    ok: bool
    detail: str
    balance: Decimal | None = None
    currency: str = ""
    subscription: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class Page(Generic[T]):
    """One page of a listing; `cursor` resumes at the page after it (None: this was the last)."""

    items: list[T]
    cursor: str | None = None


# --- The provider --------------------------------------------------------------------


class Provider:
    """Base class for one messaging provider. One instance talks for one ProviderAccount.

    Subclasses set the class attributes and override the hooks they support;
    every hook they leave alone raises NotSupported. Hooks receive and return
    normalised records only.
    """

    slug: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    credential_fields: ClassVar[tuple[ConfigField, ...]] = ()
    setting_fields: ClassVar[tuple[ConfigField, ...]] = ()
    contact_fields: ClassVar[frozenset[str]] = frozenset()
    rate_limits: ClassVar[tuple[RateLimit, ...]] = ()
    bulk_limit: ClassVar[int] = 1  # records per bulk push call
    # True where a contact's phone cannot change once created (it is the provider's key):
    # sync then creates a new remote contact for a new number and unlinks the old one.
    contact_phone_immutable: ClassVar[bool] = False
    page_size: ClassVar[int] = 100
    # Sending (campaigns): recipients per send_batch call, and whether the provider would rather
    # run a campaign itself (create it remotely, start it, report totals) than take one send each.
    batch_send_limit: ClassVar[int] = 1
    runs_campaigns: ClassVar[bool] = False

    def __init__(self, account=None, *, credentials=None, settings=None, base_url=None, http=None):
        self.account = account
        self.credentials: dict[str, Any] = dict(
            credentials if credentials is not None else getattr(account, "credentials", {}) or {}
        )
        self.settings: dict[str, Any] = dict(
            settings if settings is not None else getattr(account, "settings", {}) or {}
        )
        self.base_url = (base_url or getattr(account, "base_url", "") or self.default_base_url).rstrip("/")
        self._http = http

    # -- plumbing ----------------------------------------------------------------------

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = self.build_http()
        return self._http

    def build_http(self) -> HttpClient:
        """Build the HTTP client (auth headers, limits, error parsing) for this account."""
        from .http import HttpClient

        return HttpClient(
            base_url=self.base_url,
            provider=self.slug,
            display_name=self.display_name,
            account=self.account,
            headers=self.auth_headers(),
            rate_limits=self.rate_limits,
            error_parser=self.parse_error,
        )

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate every request."""
        return {}

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> tuple[str, str]:
        """Return (the provider's own message, its request id) from an error response."""
        if isinstance(body, dict):
            for key in ("message", "error_description", "error", "detail", "errors", "msg"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value, _request_id(body, headers)
                if isinstance(value, dict) and isinstance(value.get("message"), str):
                    return value["message"], _request_id(body, headers)
                if isinstance(value, list) and value:
                    first = value[0]
                    text = first.get("message") if isinstance(first, dict) else str(first)
                    return str(text), _request_id(body, headers)
        text = body if isinstance(body, str) else ""
        return (text[:300] or f"HTTP {status}"), _request_id(body, headers)

    def unsupported(self, what: str) -> NotSupported:
        return NotSupported(f"{self.display_name} does not support {what}.", provider=self.slug)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "slug": cls.slug,
            "name": cls.display_name,
            "default_base_url": cls.default_base_url,
            "capabilities": cls.capabilities.as_dict(),
            "credentials": [f.__dict__ for f in cls.credential_fields],
            "settings": [f.__dict__ for f in cls.setting_fields],
        }

    # -- account ---------------------------------------------------------------------------

    def check_connection(self) -> AccountInfo:
        """Call the cheapest authenticated endpoint and say what happened."""
        raise self.unsupported("connection tests")

    def get_balance(self) -> AccountInfo:
        """Credit, balance or subscription, where the provider has one."""
        raise self.unsupported("reading the balance")

    def iter_senders(self) -> Iterator[RemoteSender]:
        """The senders the provider lists for this account (Resource.SENDERS, Op.PULL)."""
        raise self.unsupported("listing senders")

    # -- contacts ----------------------------------------------------------------------------

    def iter_contact_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteContact]]:
        """Stream every contact, a page at a time, from `cursor` (None: the start)."""
        raise self.unsupported("listing contacts")

    def iter_contacts(self) -> Iterator[RemoteContact]:
        for page in self.iter_contact_pages():
            yield from page.items

    def get_contact(self, remote_id: str) -> RemoteContact:
        """One contact by its remote id (NotFound when gone)."""
        raise self.unsupported("reading a contact")

    def create_contact(self, contact: RemoteContact) -> RemoteContact:
        """Create and return it with its remote_id."""
        raise self.unsupported("creating contacts")

    def update_contact(self, contact: RemoteContact) -> RemoteContact:
        """Update the contact with contact.remote_id."""
        raise self.unsupported("updating contacts")

    def upsert_contacts(self, contacts: list[RemoteContact]) -> list[RemoteContact]:
        """Create-or-update up to bulk_limit contacts in one call; return them with remote ids."""
        raise self.unsupported("bulk contact upload")

    def delete_contacts(self, remote_ids: list[str]) -> None:
        """Delete these contacts remotely."""
        raise self.unsupported("deleting contacts")

    def set_contact_blocked(self, remote_id: str, blocked: bool) -> None:
        """Block or unblock a contact."""
        raise self.unsupported("blocking contacts")

    # -- custom fields -------------------------------------------------------------------------

    def iter_custom_fields(self) -> Iterator[RemoteCustomField]:
        """Every contact custom field defined on the account."""
        raise self.unsupported("custom fields")

    def create_custom_field(self, custom_field: RemoteCustomField) -> RemoteCustomField:
        """Define a custom field remotely."""
        raise self.unsupported("creating custom fields")

    def delete_custom_field(self, remote_id: str) -> None:
        """Remove a custom field remotely."""
        raise self.unsupported("deleting custom fields")

    # -- lists -----------------------------------------------------------------------------------

    def iter_list_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteList]]:
        """Stream every list, a page at a time."""
        raise self.unsupported("listing lists")

    def iter_lists(self) -> Iterator[RemoteList]:
        for page in self.iter_list_pages():
            yield from page.items

    def get_list(self, remote_id: str) -> RemoteList:
        """One list by remote id."""
        raise self.unsupported("reading a list")

    def create_list(self, remote_list: RemoteList) -> RemoteList:
        """Create a list and return it with its remote_id."""
        raise self.unsupported("creating lists")

    def update_list(self, remote_list: RemoteList) -> RemoteList:
        """Rename or describe a list."""
        raise self.unsupported("updating lists")

    def delete_list(self, remote_id: str) -> None:
        """Delete a list (not its contacts)."""
        raise self.unsupported("deleting lists")

    def iter_list_member_pages(self, list_id: str, cursor: str | None = None) -> Iterator[Page[str]]:
        """Stream the remote contact ids in a list."""
        raise self.unsupported("listing list members")

    def iter_list_members(self, list_id: str) -> Iterator[str]:
        for page in self.iter_list_member_pages(list_id):
            yield from page.items

    def add_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """Add remote contacts to a list (up to bulk_limit per call)."""
        raise self.unsupported("adding list members")

    def remove_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """Remove remote contacts from a list."""
        raise self.unsupported("removing list members")

    # -- templates -------------------------------------------------------------------------------

    def template_syntax(self, kind: str) -> VariableSyntax:
        """How this provider writes variables in templates of `kind` (default: Meta's {{1}})."""
        from .template_syntax import PositionalSyntax

        return PositionalSyntax()

    template_kinds: ClassVar[frozenset[str]] = frozenset({"whatsapp"})  # kinds it can hold

    can_update_templates: ClassVar[bool] = True  # False: an edit is delete + create (after a confirmation)
    template_ids_per_language: ClassVar[bool] = False  # True: one remote id holds every language
    template_delete_can_force: ClassVar[bool] = False  # True: delete_template_for(force=True) exists

    def submit_template(self, remote_id: str) -> None:
        """Send a created template for review, where creating does not already (no-op here)."""

    def get_template_for(self, remote_id: str, *, language: str = "") -> RemoteTemplate:
        """One template localisation (providers that share ids across languages override)."""
        return self.get_template(remote_id)

    def delete_template_for(self, remote_id: str, *, language: str = "", force: bool = False) -> None:
        """Delete a template; `force` where the provider refuses while something of its own uses it."""
        self.delete_template(remote_id)

    def iter_templates(self) -> Iterator[RemoteTemplate]:
        """Every message template on the account."""
        raise self.unsupported("listing templates")

    def get_template(self, remote_id: str) -> RemoteTemplate:
        """One template by remote id (or name, where the provider keys them by name)."""
        raise self.unsupported("reading a template")

    def create_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """Create (and, where the provider needs it, submit) a template."""
        raise self.unsupported("creating templates")

    def update_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """Edit a template."""
        raise self.unsupported("updating templates")

    def delete_template(self, remote_id: str) -> None:
        """Delete a template."""
        raise self.unsupported("deleting templates")

    # -- campaigns -------------------------------------------------------------------------------

    def iter_campaigns(self) -> Iterator[RemoteCampaign]:
        """Every campaign on the account."""
        raise self.unsupported("listing campaigns")

    def get_campaign(self, remote_id: str) -> RemoteCampaign:
        """One campaign."""
        raise self.unsupported("reading a campaign")

    def create_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """Create a campaign (as a draft where the provider has drafts)."""
        raise self.unsupported("creating campaigns")

    def update_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """Edit a campaign."""
        raise self.unsupported("updating campaigns")

    def delete_campaign(self, remote_id: str) -> None:
        """Delete a campaign."""
        raise self.unsupported("deleting campaigns")

    def start_campaign(self, remote_id: str) -> RemoteCampaign:
        """Start, confirm or schedule a campaign."""
        raise self.unsupported("starting campaigns")

    def get_campaign_stats(self, remote_id: str) -> CampaignStats:
        """The provider's own totals for one campaign."""
        raise self.unsupported("campaign statistics")

    def get_campaign_progress(self, remote_id: str) -> tuple[RemoteCampaign, CampaignStats]:
        """The campaign's state and its totals (providers that hold both in one record read it once)."""
        return self.get_campaign(remote_id), self.get_campaign_stats(remote_id)

    # -- provider automations (issue 12) ----------------------------------------------------------

    automation_bulk_limit: ClassVar[int] = 1  # contacts per start_provider_automation call

    def iter_provider_automations(self) -> Iterator[RemoteAutomation]:
        """Every automation on the account, with the fields it uses and its trigger secret."""
        raise self.unsupported("pulling automations")

    def start_provider_automation(
        self, automation: RemoteAutomation, contacts: list[RemoteContact], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Start `automation` for up to automation_bulk_limit contacts in one call (never retried)."""
        raise self.unsupported("starting automations")

    # -- sending and webhooks --------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message on message.channel. Never retried when it may have gone out."""
        raise self.unsupported(f"sending {message.channel} messages")

    def send_batch(self, messages: list[OutboundMessage]) -> list[SendResult]:
        """Send ≤ batch_send_limit messages sharing channel, text and sender in one call; one result each, in order."""
        raise self.unsupported("batch sends")

    def quote(self, channel: str, messages: int, parts: int = 1) -> tuple[Decimal, str]:
        """What sending `messages` messages (of `parts` SMS parts each) would cost: (amount, currency)."""
        raise self.unsupported("price quotes")

    def fetch_delivery_updates(self, remote_ids: list[str], channel: str = "") -> list[DeliveryUpdate]:
        """Polling: the current status of these sent messages (for accounts without webhooks)."""
        raise self.unsupported("polling message statuses")

    def lookup_message(self, reference: str, to: str = "") -> DeliveryUpdate | None:
        """Where did a send we are unsure about end up? Found by our reference; None: never arrived."""
        raise self.unsupported("looking up a message by reference")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Raise WebhookRejected unless the request is authentic. A missing secret refuses."""
        raise WebhookRejected(f"{self.display_name} webhooks are not supported.")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
        """Turn a verified webhook body into normalised events (may be empty for events we ignore)."""
        raise self.unsupported("webhooks")

    # True: a request is refused unless verify_webhook accepts it, even with no secret set (the
    # provider signs). False: the unguessable /hooks/<token>/ URL authenticates the request and
    # verify_webhook runs only when the account has a webhook secret (a header or URL credential).
    webhook_secret_required: ClassVar[bool] = True
    # HTTP methods that carry events (others, and bodiless GET/HEAD, are verification pings).
    webhook_methods: ClassVar[tuple[str, ...]] = ("POST",)

    def read_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookRead:
        """The event type, provider event id and normalised events of a verified request."""
        events = self.parse_webhook(headers, body)
        kinds = sorted({type(e).__name__ for e in events})
        event_ids = [getattr(e, "event_id", "") for e in events]
        return WebhookRead(
            event_type="+".join(kinds),
            event_id=event_ids[0] if len(event_ids) == 1 else "",
            events=list(events),
        )

    def is_webhook_event(self, headers: Mapping[str, str], body: bytes) -> bool:
        """False for a request in one of webhook_methods that is only a reachability check."""
        return True

    def webhook_instructions(self, url: str) -> list[str]:
        """Steps staff follow in the provider's console when the URL cannot be registered by API."""
        return []

    def register_webhooks(self, url: str, current: Mapping[str, Any]) -> dict[str, Any]:
        """Point the provider at `url`; return the state to keep (ids; secrets under "secrets")."""
        raise self.unsupported("registering webhooks by API")

    def rotate_webhook_secrets(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """Ask the provider for new signing secrets; return the new state as register_webhooks does."""
        raise self.unsupported("rotating webhook secrets")


def _request_id(body: Any, headers: Mapping[str, str]) -> str:
    for key in ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Correlation-Id", "X-Amzn-RequestId"):
        value = headers.get(key) if hasattr(headers, "get") else None
        if value:
            return str(value)
    if isinstance(body, dict):
        for key in ("requestId", "request_id", "traceId", "trace_id", "correlationId"):
            if body.get(key):
                return str(body[key])
    return ""

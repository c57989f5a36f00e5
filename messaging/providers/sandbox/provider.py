"""The sandbox: an in-process provider with every capability, no network, deterministic outcomes.

Like Django's locmem e-mail backend, it lets the whole product run end to end with
no credentials: a fresh install's default account is a sandbox. Its "remote"
state lives in the SandboxObject table (one row per remote object, per account),
so the web process and the Celery worker see the same server.

Outcomes are deterministic: a hash of (seed, recipient, reference) decides whether
a message ends up delivered (most), read (some) or failed (a few), so tests and
demos are repeatable. Listings page by keyset with resumable cursors, the way
the real clients do, so the sync engine's resume path is exercised here too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, fields
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from localization.formatting import format_money

from ..base import (
    CONTACT_FIELDS,
    AccountInfo,
    CampaignStats,
    CampaignStatus,
    Capabilities,
    Channel,
    ConfigField,
    DeliveryUpdate,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
    Page,
    Provider,
    RemoteCampaign,
    RemoteContact,
    RemoteCustomField,
    RemoteList,
    RemoteTemplate,
    SendResult,
    TemplateStatus,
    caps,
)
from ..errors import NotFound, ProviderError, Rejected, WebhookRejected
from ..http import iter_pages, load_cursor
from .automations import SandboxAutomationsMixin
from .senders import SandboxSendersMixin
from .webhooks import SandboxWebhooksMixin

PRICE = Decimal("0.05")  # per message, so balance and campaign cost move visibly in demos
STARTING_CREDIT = Decimal("100.00")
CURRENCY = "EUR"
SIGNATURE_HEADER = "X-Sandbox-Signature"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ALL_CHANNELS = frozenset(Channel)

# Share of outcomes, in percent: the rest is "delivered".
FAILED_PERCENT = 5
READ_PERCENT = 25


def outcome_for(seed: str, to: str, reference: str) -> str:
    """The final status a message reaches: the same inputs always give the same answer."""
    digest = hashlib.sha256(f"{seed}|{to}|{reference}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 100
    if bucket < FAILED_PERCENT:
        return MessageStatus.FAILED.value
    if bucket < FAILED_PERCENT + READ_PERCENT:
        return MessageStatus.READ.value
    return MessageStatus.DELIVERED.value


def sign(body: bytes, secret: str) -> str:
    """The signature the sandbox puts on its webhooks (HMAC-SHA256, hex)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxProvider(SandboxWebhooksMixin, SandboxAutomationsMixin, SandboxSendersMixin, Provider):
    slug = "sandbox"
    display_name = "Sandbox"
    default_base_url = ""
    capabilities = Capabilities(
        resources=caps(
            contacts=["pull", "push", "delete", "bulk"],
            lists=["pull", "push", "delete", "membership"],
            custom_fields=["pull", "push", "delete"],
            templates=["pull", "push", "delete"],
            campaigns=["pull", "push", "delete", "stats", "start"],
            automations=["pull", "start", "bulk"],
            senders=["pull"],
        ),
        send=ALL_CHANNELS,
        webhooks=True,
        balance=True,
    )
    credential_fields = ()
    setting_fields = (
        ConfigField(
            "seed",
            _("Outcome seed"),
            required=False,
            help=_("Changes which simulated messages are delivered, read or failed."),
        ),
        ConfigField("sender", _("Default sender"), required=False, help=_("Shown on simulated messages.")),
    )
    contact_fields = CONTACT_FIELDS
    bulk_limit = 500
    batch_send_limit = 50
    page_size = 100

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Tests shrink pages to exercise paging without creating hundreds of rows.
        if self.settings.get("page_size"):
            self.page_size = int(self.settings["page_size"])

    # -- plumbing ------------------------------------------------------------------------

    @property
    def seed(self) -> str:
        return str(self.settings.get("seed") or "sandbox")

    def _objects(self, kind: str):
        from messaging.models import SandboxObject

        if getattr(self.account, "pk", None) is None:
            raise ProviderError("The sandbox keeps its state per account: save the account first.")
        return SandboxObject.objects.filter(account_id=self.account.pk, kind=kind)

    def _create(self, kind: str, data: dict, parent: str = "", prefix: str = ""):
        from messaging.models import SandboxObject

        self._objects(kind)  # checks the account
        now = timezone.now()
        with transaction.atomic():
            obj = SandboxObject.objects.create(
                account_id=self.account.pk,
                kind=kind,
                remote_id=f"tmp-{uuid.uuid4().hex}",  # replaced by the row id below
                parent=parent,
                data=data,
                created_at=now,
                updated_at=now,
            )
            obj.remote_id = f"{prefix or kind[:3]}_{obj.pk}"
            obj.save(update_fields=["remote_id"])
        return obj

    def _get(self, kind: str, remote_id: str):
        obj = self._objects(kind).filter(remote_id=str(remote_id)).first()
        if obj is None:
            raise NotFound(
                f"Not found at Sandbox (404): no {kind.replace('_', ' ')} {remote_id}",
                status=404,
                provider=self.slug,
            )
        return obj

    def _save(self, obj, data: dict) -> None:
        obj.data = data
        obj.updated_at = timezone.now()
        obj.save(update_fields=["data", "updated_at"])

    def _pages(self, kind: str, convert, cursor: str | None, parent: str | None = None) -> Iterator[Page]:
        """Keyset paging over one kind of object; each page's cursor is the last id it held."""
        page_size = self.page_size

        def fetch(after):
            rows = self._objects(kind).filter(id__gt=int(after)).order_by("id")
            if parent is not None:
                rows = rows.filter(parent=parent)
            batch = list(rows[: page_size + 1])
            more = len(batch) > page_size
            batch = batch[:page_size]
            return convert(batch), (batch[-1].id if more else None)

        return iter_pages(fetch, start=load_cursor(cursor, 0), page_size=page_size, key=repr)

    # -- account -------------------------------------------------------------------------

    def check_connection(self) -> AccountInfo:
        """Always connected; reports the simulated credit."""
        info = self.get_balance()
        return AccountInfo(
            ok=True,
            detail=gettext("Connected — sandbox (no real messages are sent)"),
            balance=info.balance,
            currency=info.currency,
            raw=info.raw,
        )

    def get_balance(self) -> AccountInfo:
        """Starting credit minus what simulated messages cost."""
        spent = PRICE * self._objects("message").count()
        balance = max(Decimal("0"), STARTING_CREDIT - spent)
        return AccountInfo(
            ok=True,
            detail=gettext("Credit %(amount)s (simulated)") % {"amount": format_money(balance, "EUR")},
            balance=balance,
            currency=CURRENCY,
            raw={"credit": str(balance)},
        )

    # -- contacts ----------------------------------------------------------------------------

    def _contact_data(self, contact: RemoteContact) -> dict:
        data = {}
        for f in fields(RemoteContact):
            if f.name in ("remote_id", "raw", "created_at", "updated_at", "version", "list_ids"):
                continue
            value = getattr(contact, f.name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            data[f.name] = value
        return data

    def _contacts(self, rows) -> list[RemoteContact]:
        memberships: dict[str, list[str]] = {}
        ids = [r.remote_id for r in rows]
        if ids:
            for member in self._objects("member").filter(data__contact_id__in=ids).order_by("id"):
                memberships.setdefault(member.data["contact_id"], []).append(member.parent)
        return [self._contact(r, memberships.get(r.remote_id, [])) for r in rows]

    def _contact(self, row, list_ids: list[str] | None = None) -> RemoteContact:
        data = dict(row.data)
        version = data.pop("version", 1)
        birth = data.pop("birth_date", None)
        known = {f.name for f in fields(RemoteContact)}
        contact = RemoteContact(
            remote_id=row.remote_id,
            birth_date=dt.date.fromisoformat(birth) if birth else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=str(version),
            list_ids=list(list_ids or []),
            raw={"id": row.remote_id, **row.data},
            **{k: v for k, v in data.items() if k in known},
        )
        return contact

    def _check_phone(self, phone: str) -> None:
        if not E164.match(phone or ""):
            raise Rejected(
                f"Sandbox rejected the request (400): phone {phone!r} is not in E.164 (+393331234567)",
                status=400,
                provider=self.slug,
            )

    def iter_contact_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteContact]]:
        """Contacts in creation order, page_size at a time; the cursor is the last row's id."""
        return self._pages("contact", self._contacts, cursor)

    def get_contact(self, remote_id: str) -> RemoteContact:
        """One contact, with the lists it belongs to."""
        return self._contacts([self._get("contact", remote_id)])[0]

    def create_contact(self, contact: RemoteContact) -> RemoteContact:
        """Create a contact; a phone already present is refused, as real providers do."""
        self._check_phone(contact.phone)
        if self._objects("contact").filter(data__phone=contact.phone).exists():
            raise Rejected(
                f"Sandbox rejected the request (409): a contact with phone {contact.phone} already exists",
                status=409,
                provider=self.slug,
            )
        data = self._contact_data(contact) | {"version": 1}
        return self._contact(self._create("contact", data, prefix="c"))

    def update_contact(self, contact: RemoteContact) -> RemoteContact:
        """Replace the contact's fields and bump its version."""
        row = self._get("contact", contact.remote_id)
        self._check_phone(contact.phone)
        clash = self._objects("contact").filter(data__phone=contact.phone).exclude(pk=row.pk)
        if clash.exists():
            raise Rejected(
                f"Sandbox rejected the request (409): phone {contact.phone} belongs to another contact",
                status=409,
                provider=self.slug,
            )
        self._save(row, self._contact_data(contact) | {"version": int(row.data.get("version", 1)) + 1})
        return self.get_contact(row.remote_id)

    def upsert_contacts(self, contacts: list[RemoteContact]) -> list[RemoteContact]:
        """Create-or-update by remote id, else by phone (up to bulk_limit per call)."""
        if len(contacts) > self.bulk_limit:
            raise Rejected(
                f"Sandbox rejected the request (400): at most {self.bulk_limit} contacts per call",
                status=400,
                provider=self.slug,
            )
        out = []
        with transaction.atomic():
            for contact in contacts:
                self._check_phone(contact.phone)
                row = None
                if contact.remote_id:
                    row = self._objects("contact").filter(remote_id=contact.remote_id).first()
                if row is None:
                    row = self._objects("contact").filter(data__phone=contact.phone).first()
                if row is None:
                    out.append(self.create_contact(contact))
                else:
                    contact = RemoteContact(**{**asdict(contact), "remote_id": row.remote_id})
                    out.append(self.update_contact(contact))
        return out

    def delete_contacts(self, remote_ids: list[str]) -> None:
        """Delete contacts and their list memberships; unknown ids are ignored, like a bulk delete."""
        ids = [str(i) for i in remote_ids]
        with transaction.atomic():
            self._objects("member").filter(data__contact_id__in=ids).delete()
            self._objects("contact").filter(remote_id__in=ids).delete()

    def set_contact_blocked(self, remote_id: str, blocked: bool) -> None:
        """Block or unblock a contact."""
        row = self._get("contact", remote_id)
        self._save(row, {**row.data, "blocked": blocked, "version": int(row.data.get("version", 1)) + 1})

    # -- custom fields ---------------------------------------------------------------------------

    def _custom_field(self, row) -> RemoteCustomField:
        return RemoteCustomField(
            remote_id=row.remote_id,
            key=row.data.get("key", ""),
            label=row.data.get("label", ""),
            type=row.data.get("type", "text"),
            choices=list(row.data.get("choices", [])),
            raw={"id": row.remote_id, **row.data},
        )

    def iter_custom_fields(self) -> Iterator[RemoteCustomField]:
        """Every custom field, in creation order."""
        for row in self._objects("custom_field").order_by("id").iterator():
            yield self._custom_field(row)

    def create_custom_field(self, custom_field: RemoteCustomField) -> RemoteCustomField:
        """Define a field; its key must be new."""
        if not custom_field.key:
            raise Rejected(
                "Sandbox rejected the request (400): key is required", status=400, provider=self.slug
            )
        if self._objects("custom_field").filter(data__key=custom_field.key).exists():
            raise Rejected(
                f"Sandbox rejected the request (409): custom field {custom_field.key!r} exists",
                status=409,
                provider=self.slug,
            )
        data = {
            "key": custom_field.key,
            "label": custom_field.label or custom_field.key,
            "type": custom_field.type,
            "choices": list(custom_field.choices),
        }
        return self._custom_field(self._create("custom_field", data, prefix="cf"))

    def delete_custom_field(self, remote_id: str) -> None:
        """Remove a field definition."""
        self._get("custom_field", remote_id).delete()

    # -- lists -----------------------------------------------------------------------------------

    def _lists(self, rows) -> list[RemoteList]:
        from django.db.models import Count

        ids = [r.remote_id for r in rows]
        counts = dict(
            self._objects("member")
            .filter(parent__in=ids)
            .values("parent")
            .annotate(n=Count("id"))
            .values_list("parent", "n")
        )
        return [
            RemoteList(
                remote_id=r.remote_id,
                name=r.data.get("name", ""),
                description=r.data.get("description", ""),
                member_count=counts.get(r.remote_id, 0),
                created_at=r.created_at,
                updated_at=r.updated_at,
                version=str(r.data.get("version", 1)),
                raw={"id": r.remote_id, **r.data},
            )
            for r in rows
        ]

    def iter_list_pages(self, cursor: str | None = None) -> Iterator[Page[RemoteList]]:
        """Lists in creation order, a page at a time."""
        return self._pages("list", self._lists, cursor)

    def get_list(self, remote_id: str) -> RemoteList:
        """One list with its member count."""
        return self._lists([self._get("list", remote_id)])[0]

    def create_list(self, remote_list: RemoteList) -> RemoteList:
        """Create a list (names need not be unique, as on most providers)."""
        if not remote_list.name:
            raise Rejected(
                "Sandbox rejected the request (400): name is required", status=400, provider=self.slug
            )
        data = {"name": remote_list.name, "description": remote_list.description, "version": 1}
        return self._lists([self._create("list", data, prefix="l")])[0]

    def update_list(self, remote_list: RemoteList) -> RemoteList:
        """Rename or describe a list."""
        row = self._get("list", remote_list.remote_id)
        version = int(row.data.get("version", 1)) + 1
        self._save(
            row, {"name": remote_list.name, "description": remote_list.description, "version": version}
        )
        return self.get_list(row.remote_id)

    def delete_list(self, remote_id: str) -> None:
        """Delete a list and its memberships, not its contacts."""
        row = self._get("list", remote_id)
        with transaction.atomic():
            self._objects("member").filter(parent=row.remote_id).delete()
            row.delete()

    def iter_list_member_pages(self, list_id: str, cursor: str | None = None) -> Iterator[Page[str]]:
        """The contact ids in a list, in the order they were added."""
        self._get("list", list_id)
        return self._pages(
            "member", lambda rows: [r.data["contact_id"] for r in rows], cursor, parent=list_id
        )

    def add_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """Add contacts to a list; adding one twice is harmless."""
        from messaging.models import SandboxObject

        if len(contact_ids) > self.bulk_limit:
            raise Rejected(
                f"Sandbox rejected the request (400): at most {self.bulk_limit} contacts per call",
                status=400,
                provider=self.slug,
            )
        self._get("list", list_id)
        ids = [str(c) for c in contact_ids]
        known = set(self._objects("contact").filter(remote_id__in=ids).values_list("remote_id", flat=True))
        missing = [c for c in ids if c not in known]
        if missing:
            raise NotFound(
                f"Not found at Sandbox (404): no contact {', '.join(missing[:5])}",
                status=404,
                provider=self.slug,
            )
        now = timezone.now()
        SandboxObject.objects.bulk_create(
            [
                SandboxObject(
                    account_id=self.account.pk,
                    kind="member",
                    remote_id=f"{list_id}:{c}",
                    parent=list_id,
                    data={"contact_id": c},
                    created_at=now,
                    updated_at=now,
                )
                for c in dict.fromkeys(ids)
            ],
            ignore_conflicts=True,
        )

    def remove_list_members(self, list_id: str, contact_ids: list[str]) -> None:
        """Remove contacts from a list; ids not in it are ignored."""
        self._get("list", list_id)
        self._objects("member").filter(remote_id__in=[f"{list_id}:{c}" for c in contact_ids]).delete()

    # -- templates -------------------------------------------------------------------------------

    # A simulated review: a created or edited template is pending for `review_seconds`
    # (account setting, default 5), then approved — or rejected when its body says "REJECT",
    # so staff can try the unhappy path. The status is worked out when read, from the time.
    REVIEW_SECONDS = 5
    REJECT_WORD = "REJECT"
    REJECT_REASON = "INVALID_FORMAT: the sandbox rejects templates whose body contains the word REJECT."
    # The sandbox's status words are ours already; its one table maps them onto ours.
    TEMPLATE_STATUS = {s.value: s.value for s in TemplateStatus}

    template_kinds = frozenset({"whatsapp", "rcs"})

    def template_syntax(self, kind: str):
        """The sandbox keeps our named {{variables}} as they are."""
        from ..template_syntax import VariableSyntax

        return VariableSyntax()

    @property
    def review_seconds(self) -> float:
        value = self.settings.get("review_seconds")
        return float(value) if value not in (None, "") else self.REVIEW_SECONDS

    def _template(self, row) -> RemoteTemplate:
        data = dict(row.data)
        reviewed = data.get("review_at") and dt.datetime.fromisoformat(data["review_at"]) <= timezone.now()
        if data.get("status") == TemplateStatus.PENDING.value and reviewed:
            rejected = self.REJECT_WORD in (data.get("body") or "")
            data["status"] = (TemplateStatus.REJECTED if rejected else TemplateStatus.APPROVED).value
            data["status_reason"] = self.REJECT_REASON if rejected else ""
        known = {f.name for f in fields(RemoteTemplate)} - {"remote_id", "raw", "created_at", "updated_at"}
        return RemoteTemplate(
            remote_id=row.remote_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            raw={"id": row.remote_id, **row.data},
            **{k: self.TEMPLATE_STATUS.get(v, "unknown") if k == "status" else v
               for k, v in data.items() if k in known},
        )  # fmt: skip

    def _template_data(self, template: RemoteTemplate) -> dict:
        if not template.name or not (template.body or template.components or template.cards):
            raise Rejected(
                "Sandbox rejected the request (400): a template needs a name and a body",
                status=400,
                provider=self.slug,
            )
        data = asdict(template)
        for key in ("remote_id", "raw", "created_at", "updated_at"):
            data.pop(key, None)
        if not data["variables"]:
            data["variables"] = sorted(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", template.body)), key=_num_first)
        # Under review until review_at (see REVIEW_SECONDS).
        data["status"] = TemplateStatus.PENDING.value
        data["status_reason"] = ""
        data["review_at"] = (timezone.now() + dt.timedelta(seconds=self.review_seconds)).isoformat()
        return data

    def finish_review(self, remote_id: str) -> RemoteTemplate:
        """Sandbox-only helper for demos: end the simulated review now (approved, or rejected)."""
        row = self._get("template", remote_id)
        if row.data.get("status") == TemplateStatus.PENDING.value:
            row.data = {**row.data, "review_at": timezone.now().isoformat()}
            row.save(update_fields=["data"])
        return self._template(row)

    def iter_templates(self) -> Iterator[RemoteTemplate]:
        """Every template, in creation order."""
        for row in self._objects("template").order_by("id").iterator():
            yield self._template(row)

    def get_template(self, remote_id: str) -> RemoteTemplate:
        """A template by id, or by name."""
        row = self._objects("template").filter(remote_id=str(remote_id)).first()
        row = row or self._objects("template").filter(data__name=str(remote_id)).order_by("id").first()
        if row is None:
            raise NotFound(
                f"Not found at Sandbox (404): no template {remote_id}", status=404, provider=self.slug
            )
        return self._template(row)

    def create_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """Create a template; pending, then approved (or rejected) after the simulated review."""
        data = self._template_data(template)
        duplicate = self._objects("template").filter(
            data__name=template.name, data__language=template.language
        )
        if duplicate.exists():
            raise Rejected(
                f"Sandbox rejected the request (409): template {template.name!r} ({template.language}) exists",
                status=409,
                provider=self.slug,
            )
        return self._template(self._create("template", data, prefix="t"))

    def update_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """Edit a template (it goes back to review)."""
        row = self._get("template", template.remote_id)
        self._save(row, self._template_data(template))
        return self._template(row)

    def delete_template(self, remote_id: str) -> None:
        """Delete a template."""
        self._get("template", remote_id).delete()

    # -- campaigns -------------------------------------------------------------------------------

    def _campaign(self, row) -> RemoteCampaign:
        data = row.data
        scheduled = data.get("scheduled_at")
        return RemoteCampaign(
            remote_id=row.remote_id,
            name=data.get("name", ""),
            status=data.get("status", CampaignStatus.DRAFT.value),
            channel=data.get("channel", ""),
            template_id=data.get("template_id", ""),
            list_ids=list(data.get("list_ids", [])),
            text=data.get("text", ""),
            sender=data.get("sender", ""),
            scheduled_at=dt.datetime.fromisoformat(scheduled) if scheduled else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            raw={"id": row.remote_id, **data},
        )

    def _campaign_data(self, campaign: RemoteCampaign, status: str) -> dict:
        if not campaign.name:
            raise Rejected(
                "Sandbox rejected the request (400): name is required", status=400, provider=self.slug
            )
        return {
            "name": campaign.name,
            "status": status,
            "channel": campaign.channel or Channel.SMS.value,
            "template_id": campaign.template_id,
            "list_ids": list(campaign.list_ids),
            "text": campaign.text,
            "sender": campaign.sender or self.settings.get("sender", ""),
            "scheduled_at": campaign.scheduled_at.isoformat() if campaign.scheduled_at else None,
        }

    def iter_campaigns(self) -> Iterator[RemoteCampaign]:
        """Every campaign, in creation order."""
        for row in self._objects("campaign").order_by("id").iterator():
            yield self._campaign(row)

    def get_campaign(self, remote_id: str) -> RemoteCampaign:
        """One campaign."""
        return self._campaign(self._get("campaign", remote_id))

    def create_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """Create a campaign as a draft."""
        data = self._campaign_data(campaign, CampaignStatus.DRAFT.value)
        return self._campaign(self._create("campaign", data, prefix="cmp"))

    def update_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """Edit a campaign that has not started."""
        row = self._get("campaign", campaign.remote_id)
        if row.data.get("status") not in (CampaignStatus.DRAFT.value, CampaignStatus.SCHEDULED.value):
            raise Rejected(
                "Sandbox rejected the request (409): a campaign that has started cannot be edited",
                status=409,
                provider=self.slug,
            )
        self._save(row, {**row.data, **self._campaign_data(campaign, row.data.get("status", "draft"))})
        return self._campaign(row)

    def delete_campaign(self, remote_id: str) -> None:
        """Delete a campaign."""
        self._get("campaign", remote_id).delete()

    def start_campaign(self, remote_id: str) -> RemoteCampaign:
        """Send to every member of the campaign's lists at once; outcomes are the usual simulated ones.

        Starting twice does nothing the second time (no duplicate messages).
        """
        row = self._get("campaign", remote_id)
        if row.data.get("status") != CampaignStatus.DRAFT.value:
            return self._campaign(row)
        list_ids = row.data.get("list_ids", [])
        contact_ids = list(
            dict.fromkeys(
                m.data["contact_id"]
                for m in self._objects("member").filter(parent__in=list_ids).order_by("id").iterator()
            )
        )
        phones = dict(
            self._objects("contact").filter(remote_id__in=contact_ids).values_list("remote_id", "data__phone")
        )
        stats = {"recipients": len(contact_ids), "sent": 0, "delivered": 0, "read": 0, "failed": 0}
        for contact_id in contact_ids:
            phone = phones.get(contact_id, "")
            outcome = outcome_for(self.seed, phone, f"{row.remote_id}:{contact_id}")
            stats["sent"] += 1
            stats[outcome] += 1
            if outcome == MessageStatus.READ.value:
                stats["delivered"] += 1  # read messages were delivered first
        stats["cost"] = str(PRICE * stats["sent"])
        self._save(row, {**row.data, "status": CampaignStatus.COMPLETED.value, "stats": stats})
        return self._campaign(row)

    def get_campaign_stats(self, remote_id: str) -> CampaignStats:
        """The campaign's totals (zeros until it is started)."""
        row = self._get("campaign", remote_id)
        stats = row.data.get("stats") or {}
        return CampaignStats(
            campaign_id=row.remote_id,
            recipients=stats.get("recipients", 0),
            sent=stats.get("sent", 0),
            delivered=stats.get("delivered", 0),
            read=stats.get("read", 0),
            failed=stats.get("failed", 0),
            cost=Decimal(stats["cost"]) if "cost" in stats else None,
            currency=CURRENCY,
            raw=dict(stats),
        )

    # -- sending -----------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """Accept the message and fix its final outcome; the same reference twice is one message."""
        channel = Channel(message.channel)
        self._check_phone(message.to)
        if not (message.text or message.template_name or message.media_url):
            raise Rejected(
                "Sandbox rejected the request (400): a message needs text, a template or media",
                status=400,
                provider=self.slug,
            )
        if message.reference:
            # The reference is kept in `parent` too: an indexed lookup, not a scan of JSON.
            existing = self._objects("message").filter(parent=message.reference[:64]).first()
            if existing is not None:
                return self._send_result(existing)
        outcome = outcome_for(self.seed, message.to, message.reference)
        data = {
            "to": message.to,
            "channel": channel.value,
            "text": message.text,
            "template_name": message.template_name,
            "variables": message.variables,
            "sender": message.sender or self.settings.get("sender", ""),
            "reference": message.reference,
            "outcome": outcome,
        }
        return self._send_result(self._create("message", data, parent=message.reference[:64], prefix="msg"))

    def send_batch(self, messages: list[OutboundMessage]) -> list[SendResult]:
        """Up to batch_send_limit messages in one "call"; each keeps its own reference."""
        if len(messages) > self.batch_send_limit:
            raise Rejected(
                f"Sandbox rejected the request (400): at most {self.batch_send_limit} recipients per call",
                status=400,
                provider=self.slug,
            )
        from messaging.models import SandboxObject

        for message in messages:
            self._check_phone(message.to)
            if not (message.text or message.template_name or message.media_url):
                return [self.send(m) for m in messages]  # the one-by-one path says what is wrong
        refs = [m.reference[:64] for m in messages if m.reference]
        existing = {o.parent: o for o in self._objects("message").filter(parent__in=refs)} if refs else {}
        now = timezone.now()
        new_rows = []
        for message in messages:
            if message.reference and message.reference[:64] in existing:
                continue
            new_rows.append(SandboxObject(
                account_id=self.account.pk, kind="message", remote_id=f"msg_{uuid.uuid4().hex[:16]}",
                parent=message.reference[:64], created_at=now, updated_at=now,
                data={"to": message.to, "channel": Channel(message.channel).value, "text": message.text,
                      "template_name": message.template_name, "variables": message.variables,
                      "sender": message.sender or self.settings.get("sender", ""), "reference": message.reference,
                      "outcome": outcome_for(self.seed, message.to, message.reference)},
            ))  # fmt: skip
        with transaction.atomic():
            SandboxObject.objects.bulk_create(new_rows)
        made = iter(new_rows)
        return [
            self._send_result(
                existing[m.reference[:64]] if m.reference and m.reference[:64] in existing else next(made)
            )
            for m in messages
        ]

    def quote(self, channel: str, messages: int, parts: int = 1) -> tuple[Decimal, str]:
        """The sandbox's flat price per message (per SMS part)."""
        per = max(1, parts) if channel == Channel.SMS else 1
        return PRICE * messages * per, CURRENCY

    def fetch_delivery_updates(self, remote_ids: list[str], channel: str = "") -> list[DeliveryUpdate]:
        """Every simulated step of these messages (unknown ids are absent, like a real status call)."""
        known = set(
            self._objects("message").filter(remote_id__in=remote_ids).values_list("remote_id", flat=True)
        )
        return [update for rid in remote_ids if rid in known for update in self.delivery_updates(rid)]

    def lookup_message(self, reference: str, to: str = "") -> DeliveryUpdate | None:
        """The message with our reference, as "sent" (None: the sandbox never received it)."""
        row = self._objects("message").filter(parent=reference[:64]).first() if reference else None
        if row is None:
            return None
        return DeliveryUpdate(
            remote_message_id=row.remote_id, status=MessageStatus.SENT.value, reference=reference,
            to=row.data["to"], channel=row.data["channel"], price=PRICE, currency=CURRENCY,
        )  # fmt: skip

    def _send_result(self, row) -> SendResult:
        return SendResult(
            accepted=True,
            remote_id=row.remote_id,
            to=row.data["to"],
            channel=row.data["channel"],
            status=MessageStatus.SENT.value,
            reference=row.data.get("reference", ""),
            price=PRICE,
            currency=CURRENCY,
            raw={"id": row.remote_id, **row.data},
        )

    def delivery_updates(self, remote_message_id: str) -> list[DeliveryUpdate]:
        """What the sandbox "reports" for a message: delivered (then read), or failed.

        Sandbox-only helper: demos and tests feed these to the webhook pipeline
        through webhook_request().
        """
        row = self._get("message", remote_message_id)
        outcome = row.data["outcome"]
        steps = {
            MessageStatus.FAILED.value: [MessageStatus.FAILED],
            MessageStatus.READ.value: [MessageStatus.DELIVERED, MessageStatus.READ],
        }.get(outcome, [MessageStatus.DELIVERED])
        updates = []
        for n, status in enumerate(steps, start=1):
            failed = status == MessageStatus.FAILED
            updates.append(
                DeliveryUpdate(
                    remote_message_id=row.remote_id,
                    status=status.value,
                    occurred_at=row.created_at + dt.timedelta(seconds=5 * n),
                    reference=row.data.get("reference", ""),
                    to=row.data["to"],
                    channel=row.data["channel"],
                    error_code="sandbox-failed" if failed else "",
                    error_message="Simulated failure: the handset did not answer" if failed else "",
                    price=PRICE,
                    currency=CURRENCY,
                    event_id=f"{row.remote_id}:{status.value}",
                )
            )
        return updates

    # -- webhooks ------------------------------------------------------------------------------------

    def webhook_request(
        self, events: list[DeliveryUpdate | InboundMessage], secret: str
    ) -> tuple[dict[str, str], bytes]:
        """Build a signed webhook (headers, body) as the sandbox would post it."""
        items: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, DeliveryUpdate):
                items.append(
                    {
                        "type": "status",
                        "event_id": event.event_id,
                        "message_id": event.remote_message_id,
                        "status": event.status,
                        "reference": event.reference,
                        "to": event.to,
                        "channel": event.channel,
                        "error_code": event.error_code,
                        "error_message": event.error_message,
                        "price": str(event.price) if event.price is not None else None,
                        "currency": event.currency,
                        "at": event.occurred_at.isoformat() if event.occurred_at else None,
                    }
                )
            else:
                items.append(
                    {
                        "type": "inbound",
                        "id": event.remote_id,
                        "from": event.from_phone,
                        "to": event.to,
                        "channel": event.channel,
                        "text": event.text,
                        "media_url": event.media_url,
                        "at": event.received_at.isoformat() if event.received_at else None,
                    }
                )
        body = json.dumps({"events": items}).encode()
        return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}, body

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """HMAC-SHA256 of the raw body with the account's webhook secret; no secret, no entry."""
        if not secret:
            raise WebhookRejected("The sandbox account has no webhook secret: refusing the request.")
        given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        if not given or not hmac.compare_digest(given, sign(body, secret)):
            raise WebhookRejected("The sandbox webhook signature does not match.")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[DeliveryUpdate | InboundMessage]:
        """Turn the sandbox's {"events": [...]} into normalised events."""
        try:
            payload = json.loads(body)
        except ValueError:
            raise WebhookRejected("The sandbox webhook body is not JSON.") from None
        events: list[DeliveryUpdate | InboundMessage] = []
        for item in payload.get("events", []):
            at = dt.datetime.fromisoformat(item["at"]) if item.get("at") else None
            if item.get("type") == "status":
                events.append(
                    DeliveryUpdate(
                        remote_message_id=item["message_id"],
                        status=item["status"],
                        occurred_at=at,
                        reference=item.get("reference", ""),
                        to=item.get("to", ""),
                        channel=item.get("channel", ""),
                        error_code=item.get("error_code", ""),
                        error_message=item.get("error_message", ""),
                        price=Decimal(item["price"]) if item.get("price") else None,
                        currency=item.get("currency", ""),
                        event_id=item.get("event_id", ""),
                        raw=item,
                    )
                )
            elif item.get("type") == "inbound":
                events.append(
                    InboundMessage(
                        remote_id=item["id"],
                        from_phone=item["from"],
                        to=item.get("to", ""),
                        channel=item.get("channel", ""),
                        text=item.get("text", ""),
                        media_url=item.get("media_url", ""),
                        received_at=at,
                        raw=item,
                    )
                )
        return events


def _num_first(name: str):
    return (0, int(name), "") if name.isdigit() else (1, 0, name)

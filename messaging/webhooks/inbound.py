"""record_inbound: a message a contact sent us becomes an inbound Message on their conversation.

Called by the webhook drainer (and by anything else that learns of an inbound message, e.g. a
provider poll). Idempotent per provider message id: a provider repeating an inbound event (Spoki
does when media arrives) updates the row instead of adding one, and counts nothing twice.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.phones import PhoneError, normalize_phone

from ..message_models import Message
from ..providers.base import InboundMessage
from ..stats import StatDeltas

_SPACES = re.compile(r"\s+")


@dataclass
class InboundResult:
    message: Message
    created: bool
    contact_created: bool = False
    opted_out: bool = False
    opted_in: bool = False
    replied_to: int | None = None  # the campaign message marked as replied


def keyword_of(text: str) -> str:
    """The message as a keyword: upper case, accents and punctuation gone, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in text)
    return _SPACES.sub(" ", text).strip().upper()


def _keywords(setting: str, default: list[str]) -> set[str]:
    return {keyword_of(k) for k in getattr(settings, setting, default) if keyword_of(k)}


def opt_out_keywords() -> set[str]:
    return _keywords("INBOUND_OPT_OUT_KEYWORDS", ["STOP", "ARRESTA", "STOP ALL", "UNSUBSCRIBE", "CANCELLAMI"])


def opt_in_keywords() -> set[str]:
    return _keywords("INBOUND_OPT_IN_KEYWORDS", ["START", "ISCRIVIMI"])


def _contact_for(phone: str) -> tuple[Contact | None, bool]:
    from contacts.services import DuplicatePhone, create_contact

    contact = Contact.objects.filter(phone=phone).first()
    if contact is not None:
        return contact, False
    try:
        with transaction.atomic():
            return create_contact({"phone": phone}, source="inbound"), True
    except DuplicatePhone:  # created by a concurrent drainer a moment ago
        return Contact.objects.filter(phone=phone).first(), False
    except ValidationError:
        return None, False


@transaction.atomic
def record_inbound(account, inbound: InboundMessage) -> InboundResult:
    """Store one inbound message for its contact (created when new, source "inbound").

    Then, once per message: the contact's latest campaign message within
    INBOUND_REPLY_WINDOW_HOURS counts as replied; an opt-out keyword (INBOUND_OPT_OUT_KEYWORDS)
    opts the contact out with this message as the reason, an opt-in keyword opts them back in;
    an `inbound_message` contact event is recorded for automations. Runs in one transaction.
    """
    received_at = inbound.received_at or timezone.now()
    if timezone.is_naive(received_at):
        received_at = timezone.make_aware(received_at, dt.UTC)
    try:
        phone = normalize_phone(inbound.from_phone)
    except PhoneError:
        phone = (inbound.from_phone or "")[:20]
    media = {"media_url": inbound.media_url} if inbound.media_url else {}
    existing = None
    if inbound.remote_id:
        existing = (
            Message.objects.select_for_update()
            .filter(
                account=account,
                direction=Message.Direction.INBOUND,
                provider_message_id=inbound.remote_id[:200],
            )
            .first()
        )
    if existing is not None:
        changed = []
        if inbound.text and inbound.text != existing.text:
            existing.text = inbound.text
            changed.append("text")
        if media and media != existing.variables:
            existing.variables = media
            changed.append("variables")
        if changed:
            existing.save(update_fields=[*changed, "updated_at"])
        return InboundResult(existing, created=False)

    contact, contact_created = _contact_for(phone) if phone.startswith("+") else (None, False)
    message = Message.objects.create(
        account=account, contact=contact, phone=phone, direction=Message.Direction.INBOUND,
        channel=(inbound.channel or "")[:16], sender=(inbound.to or "")[:100], text=inbound.text or "",
        variables=media, status=Message.Status.RECEIVED, source="inbound",
        provider_message_id=(inbound.remote_id or "")[:200], reference=None, created_at=received_at,
    )  # fmt: skip
    deltas = StatDeltas()
    deltas.add(message, "inbound", 1, at=received_at)
    deltas.flush()
    result = InboundResult(message, created=True, contact_created=contact_created)
    if contact is None:
        return result
    _apply_keywords(contact, message, result)
    result.replied_to = _mark_replied(account, contact, received_at)
    _record_event(account, contact, message)
    return result


def _apply_keywords(contact: Contact, message: Message, result: InboundResult) -> None:
    from contacts.services import opt_in_contacts, opt_out_contacts

    keyword = keyword_of(message.text)
    if not keyword:
        return
    one = Contact.objects.filter(pk=contact.pk)
    if keyword in opt_out_keywords() and not contact.opted_out:
        reason = _("Replied “%(keyword)s” (message #%(id)s)") % {"keyword": keyword, "id": message.pk}
        result.opted_out = bool(opt_out_contacts(one, reason=reason))
    elif keyword in opt_in_keywords() and contact.opted_out:
        result.opted_in = bool(opt_in_contacts(one))


def _mark_replied(account, contact: Contact, at) -> int | None:
    from ..status import mark_replied

    hours = getattr(settings, "INBOUND_REPLY_WINDOW_HOURS", 72)
    marked = mark_replied(account, contact, at=at, within_days=hours / 24)
    return marked.pk if marked is not None else None


def _record_event(account, contact: Contact, message: Message) -> None:
    try:
        from contacts.events import record_events
    except ImportError:  # pragma: no cover - the events module ships with automations
        return
    record_events(
        "inbound_message", [contact.pk], source=account.provider,
        data={"message_id": message.pk, "text": message.text[:500], "account_id": account.pk,
              "channel": message.channel},
        dedupe_key=f"inbound:{message.pk}",
    )  # fmt: skip

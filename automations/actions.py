"""The actions an automation performs, each for a whole group of runs at once.

`perform(automation, action, runs)` → {run id: Outcome}. Writes go through the owning services
(contacts.services for lists and tags, messaging.sending for messages, the provider interface
for provider automations), so events they raise can trigger further automations.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import lru_cache
from types import SimpleNamespace

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import services as contact_services
from contacts.events import ContactEvent
from contacts.models import Contact, ContactList, CustomField
from messaging.models import ProviderAccount
from messaging.providers.base import RemoteAutomation, RemoteContact
from messaging.providers.errors import ProviderError, RateLimited, Unavailable

from .engine import Outcome
from .models import ProviderAutomation

SOURCE = "automation"
_PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def perform(automation, action: dict, runs: list) -> dict[int, Outcome]:
    handler = HANDLERS[action["type"]]
    return handler(automation, action, runs)


def _ids(runs) -> list[int]:
    return [r.contact_id for r in runs]


def _all(runs, outcome_factory=Outcome) -> dict[int, Outcome]:
    return {r.pk: outcome_factory() for r in runs}


# --- lists, tags, fields ----------------------------------------------------------------------------


def add_to_list(automation, action, runs):
    contact_list = ContactList.objects.get(pk=action["list"])
    contact_services.add_to_list(contact_list, _ids(runs), source=SOURCE)
    return _all(runs)


def remove_from_list(automation, action, runs):
    contact_list = ContactList.objects.get(pk=action["list"])
    contact_services.remove_from_list(contact_list, _ids(runs), source=SOURCE)
    return _all(runs)


def add_tag(automation, action, runs):
    contact_services.tag_contacts(Contact.objects.filter(pk__in=_ids(runs)), [action["tag"]], source=SOURCE)
    return _all(runs)


def remove_tag(automation, action, runs):
    contact_services.untag_contacts(Contact.objects.filter(pk__in=_ids(runs)), [action["tag"]])
    return _all(runs)


def set_field(automation, action, runs):
    """Set one attribute or custom field on every contact of the group (two queries)."""
    key, value = action["field"], action.get("value")
    qs = Contact.objects.filter(pk__in=_ids(runs))
    if not CustomField.objects.filter(key=key).exists():
        qs.update(**{key: value or ""}, updated_at=timezone.now())
        return _all(runs)
    contacts = list(qs.only("pk", "fields"))
    now = timezone.now()
    for contact in contacts:
        fields = dict(contact.fields or {})
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
        contact.fields, contact.updated_at = fields, now
    Contact.objects.bulk_update(contacts, ["fields", "updated_at"], batch_size=2000)
    return _all(runs)


def notify(automation, action, runs):
    """One e-mail per group to the staff addresses, naming up to 50 contacts."""
    contacts = list(Contact.objects.filter(pk__in=_ids(runs)).order_by("pk")[:50])
    lines = [f"- {c.display_name}" for c in contacts]
    if len(runs) > len(contacts):
        lines.append(_("… and %(n)s more") % {"n": len(runs) - len(contacts)})
    subject = _("Automation “%(name)s”: %(n)s contacts") % {"name": automation.name, "n": len(runs)}
    body = _("The automation “%(name)s” ran for:") % {"name": automation.name} + "\n" + "\n".join(lines)
    send_mail(subject, body, None, action["emails"])
    return _all(runs, lambda: Outcome(detail={"emails": len(action["emails"])}))


# --- variables ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _contact_attributes() -> frozenset[str]:
    """The Contact fields a placeholder may name (computed once, not per contact and placeholder)."""
    return frozenset(f.name for f in Contact._meta.fields)


def render_variables(variables: dict, contact: Contact) -> dict:
    """{{first_name}}, {{city}}, {{fields.tier}} or {{tier}} in each value, filled from the contact."""

    attributes = _contact_attributes()

    def value_of(name: str) -> str:
        if name.startswith("fields."):
            name = name[7:]
        if name in attributes:
            return str(getattr(contact, name) or "")
        return str((contact.fields or {}).get(name, ""))

    out = {}
    for key, value in (variables or {}).items():
        out[key] = (
            _PLACEHOLDER.sub(lambda m: value_of(m.group(1)), value) if isinstance(value, str) else value
        )
    return out


# --- provider automations -----------------------------------------------------------------------------


def start_provider_automation(automation, action, runs):
    """Start the provider's automation for every sendable contact, in calls of its bulk limit."""
    remote = ProviderAutomation.objects.select_related("account").get(pk=action["automation"])
    if not remote.has_secret:
        return _all(runs, lambda: Outcome("failed", _("The automation has no API trigger secret.")))
    provider = remote.account.get_provider()
    target = RemoteAutomation(remote_id=remote.remote_id, name=remote.name, trigger_id=remote.trigger_id,
                              trigger_secret=remote.secret)  # fmt: skip
    columns = _START_COLUMNS | _placeholder_columns(action.get("variables") or {})
    # Plain rows, not model instances: only the columns this action reads, for thousands of contacts.
    contacts = {row["id"]: SimpleNamespace(pk=row["id"], **row)
                for row in Contact.objects.filter(pk__in=_ids(runs)).values(*columns)}  # fmt: skip
    outcomes, ready = {}, []
    for run in runs:
        contact = contacts.get(run.contact_id)
        refusal = _refusal(contact)
        if refusal:
            outcomes[run.pk] = Outcome("skipped", refusal)
            continue
        ready.append((run, contact))
    limit = max(1, int(getattr(provider, "automation_bulk_limit", 1) or 1))
    for start in range(0, len(ready), limit):
        chunk = ready[start : start + limit]
        people = [
            RemoteContact(phone=c.phone, first_name=c.first_name, last_name=c.last_name, email=c.email,
                          language=c.language, custom_fields=render_variables(action.get("variables") or {}, c))
            for _run, c in chunk
        ]  # fmt: skip
        try:
            provider.start_provider_automation(target, people, {"switchboard_automation": automation.pk})
        except RateLimited as exc:  # refused before doing anything: try again later
            for run, _c in chunk:
                outcomes[run.pk] = Outcome("failed", str(exc)[:500])
            continue
        except ProviderError as exc:
            # Starting sends messages and is not idempotent: after a timeout or a 5xx the flow may
            # have started, and a refusal (4xx) will not change, so neither is retried.
            reason = str(exc)[:400]
            if isinstance(exc, Unavailable):
                reason += " — " + _("it may have started; not retried, so nobody is started twice")
            for run, _c in chunk:
                outcomes[run.pk] = Outcome("failed", reason, final=True)
            continue
        for run, _c in chunk:
            outcomes[run.pk] = Outcome(detail={"automation": remote.name, "batch": len(chunk)})
    return outcomes


# The columns starting a provider automation reads; the variables may name more (see below).
_START_COLUMNS = frozenset({"id", "phone", "first_name", "last_name", "email", "language", "opted_out", "blocked",
                            "fields"})  # fmt: skip


def _placeholder_columns(variables: dict) -> set[str]:
    """Contact columns the variables' {{placeholders}} read (the rows carry only what is used)."""
    names = _contact_attributes()
    used = {m.group(1).removeprefix("fields.") for v in variables.values() if isinstance(v, str)
            for m in _PLACEHOLDER.finditer(v)}  # fmt: skip
    return used & names


def _refusal(contact) -> str:
    if contact is None:
        return _("The contact was deleted.")
    if contact.opted_out:
        return _("The contact opted out of messages.")
    if contact.blocked:
        return _("The contact is blocked.")
    return ""


# --- sending --------------------------------------------------------------------------------------------


def _window() -> tuple[dt.time, dt.time] | None:
    raw = getattr(settings, "AUTOMATIONS_SENDING_WINDOW", "") or ""
    if not raw:
        return None
    start, _sep, end = raw.partition("-")
    return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())


def company_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(settings, "AUTOMATIONS_TIME_ZONE", "") or settings.TIME_ZONE)


def next_window_start(now: dt.datetime | None = None) -> dt.datetime | None:
    """None when sending is allowed now; else the moment the company's sending window opens next."""
    window = _window()
    if window is None:
        return None
    zone = company_zone()
    local = (now or timezone.now()).astimezone(zone)
    start, end = window
    if start <= local.time() < end:
        return None
    day = local.date() if local.time() < start else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=zone)


def inside_service_window(contact_ids: list[int], now: dt.datetime | None = None) -> set[int]:
    """Contacts who wrote to us in the last 24 hours (WhatsApp's customer-service window)."""
    since = (now or timezone.now()) - dt.timedelta(hours=24)
    return set(
        ContactEvent.objects.filter(
            kind="inbound_message", contact_id__in=contact_ids, created_at__gte=since
        ).values_list("contact_id", flat=True)
    )


def _send(automation, action, runs, build):
    from messaging.models import Message
    from messaging.sending import SendRefused, dispatch, queue_message

    wait = next_window_start()
    if wait is not None:
        return {r.pk: Outcome(retry_at=wait) for r in runs}
    account = ProviderAccount.objects.get(pk=action["account"])
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=_ids(runs))}
    references = {r.pk: f"auto-{r.pk}-{r.next_step}" for r in runs}
    already = dict(
        Message.objects.filter(reference__in=list(references.values())).values_list("reference", "pk")
    )
    free_text = action["type"] == "send_text" and action.get("channel") == "whatsapp"
    in_window = inside_service_window(list(contacts)) if free_text else set()
    outcomes, queued = {}, []
    for run in runs:
        contact = contacts.get(run.contact_id)
        ref = references[run.pk]
        if ref in already:  # a retry after the message was written: never send twice
            outcomes[run.pk] = Outcome(detail={"message": already[ref]})
            continue
        refusal = _refusal(contact)
        if not refusal and free_text and contact.pk not in in_window:
            refusal = _(
                "Free text on WhatsApp only within 24 hours of the contact's last message; use an approved template."
            )
        if refusal:
            outcomes[run.pk] = Outcome("skipped", refusal)
            continue
        try:
            fields = build(contact)
            message = queue_message(account, contact=contact, source=SOURCE, reference=ref, **fields)
        except SendRefused as exc:
            outcomes[run.pk] = Outcome("skipped", "; ".join(exc.messages))
            continue
        queued.append((run, message))
    if queued:
        dispatch([m for _run, m in queued])
    for run, message in queued:
        message.refresh_from_db(fields=["status", "error_message", "error_code"])
        if message.status == "failed":
            outcomes[run.pk] = Outcome("failed", message.error_message or _("The provider refused the message."),
                                       detail={"message": message.pk})  # fmt: skip
        else:
            outcomes[run.pk] = Outcome(detail={"message": message.pk, "status": message.status})
    return outcomes


def send_text(automation, action, runs):
    def build(contact):
        text = render_variables({"t": action["text"]}, contact)["t"]
        return {"channel": action["channel"], "text": text}

    return _send(automation, action, runs, build)


def send_template(automation, action, runs):
    from messaging.models import MessageTemplate
    from messaging.templating.services import render_template

    template = MessageTemplate.objects.get(pk=action["template"])
    account = ProviderAccount.objects.get(pk=action["account"])

    def build(contact):
        values = render_variables(action.get("variables") or {}, contact)
        rendered = render_template(template, contact=contact, values=values, account=account)
        out = rendered.outbound
        return {
            "channel": action.get("channel") or out.get("channel"), "text": out.get("text", ""),
            "template_name": out.get("template_name", ""), "template_language": out.get("template_language", ""),
            "variables": out.get("variables") or {},
        }  # fmt: skip

    return _send(automation, action, runs, build)


HANDLERS = {
    "add_to_list": add_to_list,
    "remove_from_list": remove_from_list,
    "add_tag": add_tag,
    "remove_tag": remove_tag,
    "set_field": set_field,
    "notify": notify,
    "start_provider_automation": start_provider_automation,
    "send_text": send_text,
    "send_template": send_template,
}

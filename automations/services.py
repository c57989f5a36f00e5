"""Every write to automations goes through these functions (admin, API, tasks, commands)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.events import ContactEvent
from contacts.models import Contact, Membership

from .conditions import matching_q
from .engine import STATUS_REACHED, create_runs, new_run
from .models import Automation, ProviderAutomation
from .schema import clean_definition

PAST_BATCH = 2000


# --- building --------------------------------------------------------------------------------


def _clean_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": [_("An automation needs a name.")]})
    if len(name.strip()) > 150:
        raise ValidationError({"name": [_("The name is longer than 150 characters.")]})
    return name.strip()


@transaction.atomic
def save_automation(
    data: Mapping[str, Any], *, automation: Automation | None = None, user=None
) -> Automation:
    """Create or update an automation from API-shaped data; validates everything before writing.

    `data` may omit keys on update (partial); trigger/conditions/actions are validated together.
    Switching on stamps enabled_at, so events from before are never acted on.
    """
    current = automation or Automation()
    errors: dict[str, list] = {}
    name = current.name
    if "name" in data or automation is None:
        try:
            name = _clean_name(data.get("name"))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    try:
        definition = clean_definition(
            data.get("trigger", current.trigger if automation else None),
            data.get("conditions", current.conditions if automation else []),
            data.get("actions", current.actions if automation else None),
        )
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
        definition = {}
    enabled = data.get("enabled", current.enabled if automation else False)
    if not isinstance(enabled, bool):
        errors.setdefault("enabled", []).append(_("must be true or false"))
    if errors:
        raise ValidationError(errors)
    was_enabled = bool(automation and automation.enabled)
    current.name = name
    current.trigger, current.conditions, current.actions = (
        definition["trigger"], definition["conditions"], definition["actions"],
    )  # fmt: skip
    current.enabled = enabled
    if enabled and not was_enabled:
        current.enabled_at = timezone.now()
    if automation is None and user is not None and getattr(user, "pk", None):
        current.created_by = user
    current.save()
    return current


@transaction.atomic
def set_enabled(automation: Automation, enabled: bool, *, run_for_past: bool = False) -> int:
    """Switch on/off. With run_for_past, also run now for the contacts that already match (once each)."""
    if enabled and not automation.enabled:
        automation.enabled, automation.enabled_at = True, timezone.now()
        automation.save(update_fields=["enabled", "enabled_at", "updated_at"])
    elif not enabled and automation.enabled:
        automation.enabled = False
        automation.save(update_fields=["enabled", "updated_at"])
    if enabled and run_for_past:
        return start_for_past(automation)
    return 0


def delete_automation(automation: Automation) -> None:
    automation.delete()


# --- who matches right now (dry run, "also run for the past") -------------------------------------


def matching_contacts(automation: Automation) -> QuerySet[Contact]:
    """Contacts the trigger describes right now, conditions applied (no events needed).

    list_added: the list's members; tag_added: who has the tag; contact_created: every live
    contact; inbound_keyword: who sent a matching message; date_field: whose date is today
    (company time); message_status: who has a message in that status. list_removed has no
    "current" set (nobody is being removed now): it matches nobody.
    """
    trigger = automation.trigger or {}
    kind = trigger.get("type")
    qs = Contact.objects.all()
    if kind == "list_added":
        qs = qs.filter(pk__in=Membership.objects.filter(contact_list_id=trigger["list"]).values("contact_id"))
    elif kind == "tag_added":
        qs = qs.filter(tags__name=trigger["tag"])
    elif kind == "contact_created":
        pass
    elif kind == "inbound_keyword":
        events = ContactEvent.objects.filter(kind="inbound_message")
        q = Q()
        for word in trigger.get("keywords") or []:
            q |= (
                Q(data__text__icontains=word)
                if trigger.get("match") == "contains"
                else Q(data__text__iexact=word)
            )
        qs = qs.filter(pk__in=events.filter(q).values("contact_id")) if q else qs.none()
    elif kind == "date_field":
        from .actions import company_zone
        from .dates import due_dates

        today = timezone.now().astimezone(company_zone()).date()
        days, dates = due_dates(trigger, today)
        from .models import ContactDate

        dq = Q(month_day__in=days) if days else Q(value__in=dates)
        qs = qs.filter(pk__in=ContactDate.objects.filter(dq, key=trigger["field"]).values("contact_id"))
    elif kind == "message_status":
        events = ContactEvent.objects.filter(
            kind="message_status", data__status__in=sorted(STATUS_REACHED[trigger["status"]])
        )
        if trigger.get("campaign"):
            events = events.filter(data__campaign_id=trigger["campaign"])
        # "Did not reach" is about future messages: nobody matches now.
        qs = qs.none() if trigger.get("within_hours") else qs.filter(pk__in=events.values("contact_id"))
    else:
        qs = qs.none()
    if automation.conditions:
        qs = qs.filter(matching_q(automation.conditions))
    return qs.distinct()


def dry_run(automation: Automation, *, sample: int = 10) -> dict:
    """{matches, sample}: how many and which contacts would be affected now, without acting."""
    qs = matching_contacts(automation)
    rows = qs.order_by("pk")[:sample]
    return {
        "matches": qs.count(),
        "sample": [
            {"id": c.pk, "name": f"{c.first_name} {c.last_name}".strip(), "phone": c.phone} for c in rows
        ],
    }


def start_for_past(automation: Automation) -> int:
    """Run once for every contact that matches now ("also run for the 240 already in VIP")."""
    if not automation.enabled:
        raise ValidationError(_("Switch the automation on first."))
    ids = list(matching_contacts(automation).order_by("pk").values_list("pk", flat=True))
    created = 0
    for start in range(0, len(ids), PAST_BATCH):
        runs = [
            new_run(automation, cid, "past", {"event": "past", "past": True})
            for cid in ids[start : start + PAST_BATCH]
        ]
        with transaction.atomic():
            created += len(create_runs(automation, runs))
    if created:
        from .tasks import run_due_automations

        transaction.on_commit(run_due_automations.delay)
    return created


# --- provider automations -----------------------------------------------------------------------------


def pull_provider_automations(account) -> dict:
    """Pull and store the account's provider automations now (the sync resource does the same)."""
    remotes = list(account.get_provider().iter_provider_automations())
    with transaction.atomic():
        return store_provider_automations(account, remotes)


def store_provider_automations(account, remotes) -> dict:
    """Upsert pulled automations (name, active, fields, trigger secret); ones gone are deactivated."""
    seen, created, updated = set(), 0, 0
    now = timezone.now()
    for remote in remotes:
        seen.add(remote.remote_id)
        obj = ProviderAutomation.objects.filter(account=account, remote_id=remote.remote_id).first()
        values = {"name": remote.name or remote.remote_id, "is_active": remote.is_active, "fields": remote.fields,
                  "trigger_id": remote.trigger_id, "secret": remote.trigger_secret, "pulled_at": now}  # fmt: skip
        if obj is None:
            ProviderAutomation.objects.create(account=account, remote_id=remote.remote_id, **values)
            created += 1
        else:
            changed = [k for k, v in values.items() if k != "pulled_at" and getattr(obj, k) != v]
            for key, value in values.items():
                setattr(obj, key, value)
            obj.save()
            updated += bool(changed)
    gone = ProviderAutomation.objects.filter(account=account).exclude(remote_id__in=seen)
    deactivated = gone.filter(is_active=True).update(is_active=False)
    return {"pulled": len(seen), "created": created, "updated": updated, "deactivated": deactivated}


# --- who uses what (delete guards) -----------------------------------------------------------------


def automations_using(kind: str, value) -> list[Automation]:
    """Switched-on automations whose trigger, conditions or actions name `kind` = value."""
    from .schema import references

    found = []
    for automation in Automation.objects.filter(enabled=True):
        data = {
            "trigger": automation.trigger,
            "conditions": automation.conditions,
            "actions": automation.actions,
        }
        if value in references(data, kind):
            found.append(automation)
    return found


def list_uses(contact_list):
    for automation in automations_using("list", contact_list.pk):
        yield _("automation “%(name)s” (switched on)") % {"name": automation.name}, True


def template_uses(template):
    for automation in automations_using("template", template.pk):
        yield _("automation “%(name)s” (switched on)") % {"name": automation.name}, True

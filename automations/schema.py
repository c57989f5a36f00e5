"""The one validator for an automation's trigger, conditions and actions (API, admin form, services).

Each `clean_*` returns the normalised JSON (lists by id, tags by name, accounts by id) or raises
ValidationError with a message that names the field and says what is wrong, e.g. "list 12 does
not exist". The JSON shape is the public API shape of issue 12.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from contacts.models import ContactList, CustomField, Tag

from . import integrations

TRIGGER_TYPES = (
    "contact_created", "list_added", "list_removed", "tag_added", "inbound_keyword", "date_field", "message_status",
)  # fmt: skip
ACTION_TYPES = (
    "send_template", "send_text", "add_to_list", "remove_from_list", "add_tag", "remove_tag", "set_field",
    "start_provider_automation", "notify",
)  # fmt: skip
CONDITION_TYPES = (
    "in_list", "not_in_list", "has_tag", "not_has_tag", "field", "language", "country", "not_opted_out",
)  # fmt: skip
FIELD_OPS = ("equals", "contains", "greater", "less", "empty", "not_empty")
CONTACT_SOURCES = ("manual", "api", "import", "sync", "inbound")
STATUSES = ("delivered", "read", "failed")
# Contact attributes a condition or set_field may name besides custom fields.
CONTACT_ATTRS = (
    "first_name",
    "last_name",
    "email",
    "language",
    "company",
    "city",
    "province",
    "country",
    "gender",
)
MAX_DELAY = 365 * 24 * 3600
MAX_ACTIONS = 20
MAX_CONDITIONS = 20
MAX_KEYWORDS = 50


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _obj(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise _err(field, _("must be an object"))
    return value


def _int(value, field: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _err(field, _("must be a whole number"))
    try:
        number = int(value)
    except ValueError:
        raise _err(field, _("must be a whole number")) from None
    if not low <= number <= high:
        raise _err(field, _("must be between %(low)s and %(high)s") % {"low": low, "high": high})
    return number


def _text(value, field: str, *, max_length: int = 500, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _err(field, _("must be text"))
    value = value.strip()
    if required and not value:
        raise _err(field, _("is required"))
    if len(value) > max_length:
        raise _err(field, _("is longer than %(n)s characters") % {"n": max_length})
    return value


def resolve_list(value, field: str) -> int:
    """A list id (or exact name) that exists → its id."""
    if value in (None, ""):
        raise _err(field, _("choose a list"))
    if isinstance(value, str) and not value.strip().isdigit():
        found = ContactList.objects.filter(name__iexact=value.strip()).values_list("pk", flat=True).first()
    else:
        pk = _int(value, field, low=1, high=2**62)
        found = ContactList.objects.filter(pk=pk).values_list("pk", flat=True).first()
    if found is None:
        raise _err(field, _("list %(v)s does not exist") % {"v": value})
    return found


def resolve_tag(value, field: str) -> str:
    """An existing tag's name (or id) → its name."""
    if value in (None, ""):
        raise _err(field, _("choose a tag"))
    if isinstance(value, int) and not isinstance(value, bool):
        name = Tag.objects.filter(pk=value).values_list("name", flat=True).first()
    else:
        name = (
            Tag.objects.filter(name__iexact=_text(value, field, max_length=64))
            .values_list("name", flat=True)
            .first()
        )
    if name is None:
        raise _err(field, _("tag %(v)s does not exist") % {"v": value})
    return name


def resolve_field(value, field: str, *, date_only: bool = False) -> str:
    key = _text(value, field, max_length=64)
    if date_only:
        if key == "birth_date":
            return key
        definition = CustomField.objects.filter(key=key).first()
        if definition is None:
            raise _err(field, _("field %(v)s does not exist") % {"v": key})
        if definition.type != CustomField.Type.DATE:
            raise _err(field, _("field %(v)s is not a date field") % {"v": key})
        return key
    if key in CONTACT_ATTRS or CustomField.objects.filter(key=key).exists():
        return key
    raise _err(field, _("field %(v)s does not exist") % {"v": key})


# --- trigger ---------------------------------------------------------------------------------------


def clean_trigger(value: Any) -> dict:
    trigger = _obj(value, "trigger")
    kind = trigger.get("type")
    if kind not in TRIGGER_TYPES:
        raise _err("trigger", _("type must be one of: %(v)s") % {"v": ", ".join(TRIGGER_TYPES)})
    out: dict[str, Any] = {"type": kind}
    if kind == "contact_created":
        sources = trigger.get("sources") or []
        if not isinstance(sources, list) or any(s not in CONTACT_SOURCES for s in sources):
            raise _err("trigger.sources", _("each must be one of: %(v)s") % {"v": ", ".join(CONTACT_SOURCES)})
        if sources:
            out["sources"] = sorted(set(sources))
    elif kind in ("list_added", "list_removed"):
        out["list"] = resolve_list(trigger.get("list"), "trigger.list")
    elif kind == "tag_added":
        out["tag"] = resolve_tag(trigger.get("tag"), "trigger.tag")
    elif kind == "inbound_keyword":
        keywords = trigger.get("keywords")
        if isinstance(keywords, str):
            keywords = re.split(r"[,\n]", keywords)
        if not isinstance(keywords, list) or not keywords:
            raise _err("trigger.keywords", _("give at least one keyword"))
        if len(keywords) > MAX_KEYWORDS:
            raise _err("trigger.keywords", _("at most %(n)s keywords") % {"n": MAX_KEYWORDS})
        cleaned = [_text(k, "trigger.keywords", max_length=100) for k in keywords]
        out["keywords"] = list(dict.fromkeys(k.casefold() for k in cleaned if k))
        match = trigger.get("match", "exact")
        if match not in ("exact", "contains"):
            raise _err("trigger.match", _("must be exact or contains"))
        out["match"] = match
    elif kind == "date_field":
        out["field"] = resolve_field(trigger.get("field"), "trigger.field", date_only=True)
        out["offset_days"] = _int(trigger.get("offset_days", 0), "trigger.offset_days", low=-365, high=365)
        at = trigger.get("at", "09:00")
        try:
            out["at"] = dt.time.fromisoformat(_text(at, "trigger.at", max_length=8)).strftime("%H:%M")
        except ValueError:
            raise _err("trigger.at", _("must be a time like 09:00")) from None
        yearly = trigger.get("yearly", True)
        if not isinstance(yearly, bool):
            raise _err("trigger.yearly", _("must be true or false"))
        out["yearly"] = yearly
    elif kind == "message_status":
        status = trigger.get("status")
        if status not in STATUSES:
            raise _err("trigger.status", _("must be one of: %(v)s") % {"v": ", ".join(STATUSES)})
        out["status"] = status
        campaign = trigger.get("campaign")
        if campaign not in (None, ""):
            out["campaign"] = integrations.resolve_campaign(campaign, "trigger.campaign")
        channel = trigger.get("channel")
        if channel not in (None, ""):
            if channel not in ("sms", "whatsapp", "rcs", "voice"):
                raise _err("trigger.channel", _("must be sms, whatsapp, rcs or voice"))
            out["channel"] = channel
        within = trigger.get("within_hours")
        if within not in (None, ""):
            out["within_hours"] = _int(within, "trigger.within_hours", low=1, high=24 * 90)
    return out


# --- conditions ----------------------------------------------------------------------------------


def clean_conditions(value: Any) -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise _err("conditions", _("must be a list"))
    if len(value) > MAX_CONDITIONS:
        raise _err("conditions", _("at most %(n)s conditions") % {"n": MAX_CONDITIONS})
    return [_clean_condition(_obj(c, f"conditions[{i}]"), f"conditions[{i}]") for i, c in enumerate(value)]


def _clean_condition(cond: dict, where: str) -> dict:
    kind = cond.get("type")
    if kind not in CONDITION_TYPES:
        raise _err(where, _("type must be one of: %(v)s") % {"v": ", ".join(CONDITION_TYPES)})
    if kind in ("in_list", "not_in_list"):
        return {"type": kind, "list": resolve_list(cond.get("list"), f"{where}.list")}
    if kind in ("has_tag", "not_has_tag"):
        return {"type": kind, "tag": resolve_tag(cond.get("tag"), f"{where}.tag")}
    if kind in ("language", "country"):
        code = _text(cond.get("value"), f"{where}.value", max_length=10)
        return {"type": kind, "value": code.upper() if kind == "country" else code.lower()}
    if kind == "not_opted_out":
        return {"type": kind}
    key = resolve_field(cond.get("field"), f"{where}.field")
    op = cond.get("op", "equals")
    if op not in FIELD_OPS:
        raise _err(f"{where}.op", _("must be one of: %(v)s") % {"v": ", ".join(FIELD_OPS)})
    out = {"type": "field", "field": key, "op": op}
    if op not in ("empty", "not_empty"):
        raw = cond.get("value")
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise _err(f"{where}.value", _("must be text or a number"))
        if op in ("greater", "less"):
            try:
                raw = float(str(raw).replace(",", "."))
            except ValueError:
                raise _err(f"{where}.value", _("must be a number to compare")) from None
            if raw != raw or raw in (float("inf"), float("-inf")):
                raise _err(f"{where}.value", _("must be a finite number"))
        else:
            raw = _text(str(raw), f"{where}.value", max_length=200, required=False)
        out["value"] = raw
    return out


# --- actions ---------------------------------------------------------------------------------------


def clean_actions(value: Any) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise _err("actions", _("add at least one action"))
    if len(value) > MAX_ACTIONS:
        raise _err("actions", _("at most %(n)s actions") % {"n": MAX_ACTIONS})
    return [_clean_action(_obj(a, f"actions[{i}]"), f"actions[{i}]") for i, a in enumerate(value)]


def _clean_action(action: dict, where: str) -> dict:
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        raise _err(where, _("type must be one of: %(v)s") % {"v": ", ".join(ACTION_TYPES)})
    out: dict[str, Any] = {
        "type": kind,
        "delay_seconds": _int(
            action.get("delay_seconds", 0) or 0, f"{where}.delay_seconds", low=0, high=MAX_DELAY
        ),
    }
    if kind in ("add_to_list", "remove_from_list"):
        out["list"] = resolve_list(action.get("list"), f"{where}.list")
    elif kind in ("add_tag", "remove_tag"):
        out["tag"] = resolve_tag(action.get("tag"), f"{where}.tag")
    elif kind == "set_field":
        key = resolve_field(action.get("field"), f"{where}.field")
        raw = action.get("value")
        if isinstance(raw, dict | list):
            raise _err(f"{where}.value", _("must be a single value"))
        definition = CustomField.objects.filter(key=key).first()
        if definition is not None:
            try:
                raw = definition.clean_value(raw)
            except ValidationError as exc:
                raise _err(f"{where}.value", "; ".join(exc.messages)) from None
        else:
            raw = _text("" if raw is None else str(raw), f"{where}.value", max_length=200, required=False)
        out.update(field=key, value=raw)
    elif kind == "notify":
        emails = action.get("emails")
        if isinstance(emails, str):
            emails = [e for e in re.split(r"[,\s;]+", emails) if e]
        if not isinstance(emails, list) or not emails or len(emails) > 20:
            raise _err(f"{where}.emails", _("give between 1 and 20 e-mail addresses"))
        for email in emails:
            try:
                validate_email(email)
            except (ValidationError, TypeError):
                raise _err(f"{where}.emails", _("%(v)s is not an e-mail address") % {"v": email}) from None
        out["emails"] = [e.strip() for e in emails]
    elif kind in ("send_template", "send_text"):
        account = integrations.resolve_account(action.get("account"), f"{where}.account")
        out["account"] = account.pk
        variables = action.get("variables") or {}
        if not isinstance(variables, dict) or len(variables) > 50:
            raise _err(f"{where}.variables", _("must be an object of at most 50 values"))
        if any(isinstance(v, dict | list) for v in variables.values()):
            raise _err(f"{where}.variables", _("each value must be text or a number"))
        if kind == "send_text":
            out["text"] = _text(action.get("text"), f"{where}.text", max_length=4096)
            out["channel"] = integrations.clean_channel(account, action.get("channel"), f"{where}.channel")
        else:
            template = integrations.resolve_template(account, action.get("template"), f"{where}.template")
            out["template"] = template.pk
            out["channel"] = integrations.clean_channel(
                account, action.get("channel") or getattr(template, "kind", None), f"{where}.channel"
            )
            out["variables"] = {str(k)[:64]: v for k, v in variables.items()}
    elif kind == "start_provider_automation":
        account = integrations.resolve_account(action.get("account"), f"{where}.account")
        out["account"] = account.pk
        remote = integrations.resolve_provider_automation(
            account, action.get("automation"), f"{where}.automation"
        )
        out["automation"] = remote.pk
        variables = action.get("variables") or {}
        if not isinstance(variables, dict) or len(variables) > 50:
            raise _err(f"{where}.variables", _("must be an object of at most 50 values"))
        if any(isinstance(v, dict | list) for v in variables.values()):
            raise _err(f"{where}.variables", _("each value must be text or a number"))
        out["variables"] = {str(k)[:64]: v for k, v in variables.items()}
    return out


def clean_definition(trigger, conditions, actions) -> dict:
    """All three at once; errors of each part are merged so the form shows them together."""
    errors: dict[str, list] = {}
    out: dict[str, Any] = {}
    for key, fn, value in (("trigger", clean_trigger, trigger), ("conditions", clean_conditions, conditions),
                           ("actions", clean_actions, actions)):  # fmt: skip
        try:
            out[key] = fn(value)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return out


def references(automation_json: dict, kind: str) -> set:
    """Ids (lists, templates, provider automations) or names (tags) an automation refers to."""
    found: set = set()
    parts = [automation_json.get("trigger") or {}, *(automation_json.get("conditions") or []),
             *(automation_json.get("actions") or [])]  # fmt: skip
    for part in parts:
        if kind in part:
            found.add(part[kind])
    return found

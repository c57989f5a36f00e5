"""The automation form staff fill in: "When …", "Only if …", "Then …" with menus, no JSON.

The form turns its fields into the API-shaped trigger/conditions/actions and validates them
with automations.schema (the same validator as the API); each error lands on the field it is
about ("list 12 does not exist" under the list menu of action 2).
"""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contacts.models import ContactList, CustomField, Tag
from messaging.models import MessageTemplate, ProviderAccount

from . import schema
from .models import Automation, ProviderAutomation

CONDITION_ROWS = 3
ACTION_ROWS = 5

TRIGGER_CHOICES = [
    ("contact_created", _("A contact is created")),
    ("list_added", _("A contact is added to a list")),
    ("list_removed", _("A contact is removed from a list")),
    ("tag_added", _("A tag is added to a contact")),
    ("inbound_keyword", _("A contact writes a keyword")),
    ("date_field", _("A date comes round (birthday, anniversary…)")),
    ("message_status", _("A campaign message reaches (or does not reach) a status")),
]
CONDITION_CHOICES = [
    ("", _("— no condition —")),
    ("in_list", _("is in list")),
    ("not_in_list", _("is not in list")),
    ("has_tag", _("has tag")),
    ("not_has_tag", _("has not tag")),
    ("field", _("field comparison")),
    ("language", _("language is")),
    ("country", _("country is")),
    ("not_opted_out", _("has not opted out")),
]
ACTION_CHOICES = [
    ("", _("— no action —")),
    ("send_template", _("Send a template")),
    ("send_text", _("Send a text (SMS, or WhatsApp within 24 h of their message)")),
    ("add_to_list", _("Add to list")),
    ("remove_from_list", _("Remove from list")),
    ("add_tag", _("Add tag")),
    ("remove_tag", _("Remove tag")),
    ("set_field", _("Set a field")),
    ("start_provider_automation", _("Start a Spoki automation")),
    ("notify", _("E-mail staff")),
]
DELAY_UNITS = [("0", _("at once")), ("60", _("minutes")), ("3600", _("hours")), ("86400", _("days"))]
OPS = [("equals", _("equals")), ("contains", _("contains")), ("greater", _("is greater than")),
       ("less", _("is less than")), ("empty", _("is empty")), ("not_empty", _("is not empty"))]  # fmt: skip


def _field_choices(date_only=False):
    customs = CustomField.objects.all()
    if date_only:
        return [("birth_date", _("Birth date"))] + [(f.key, f.label) for f in customs if f.type == "date"]
    attrs = [(k, k.replace("_", " ").capitalize()) for k in schema.CONTACT_ATTRS]
    return [("", "—")] + attrs + [(f.key, f.label) for f in customs]


def _variables_text(variables: dict) -> str:
    return "\n".join(f"{k}={v}" for k, v in (variables or {}).items())


def _parse_variables(text: str) -> dict:
    out = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValidationError(_("Write one NAME=value per line, e.g. FIRST_NAME={{first_name}}"))
        out[key.strip()] = value.strip()
    return out


class AutomationForm(forms.ModelForm):
    """Built from plain menus; see the module docstring."""

    run_for_past = forms.BooleanField(
        label=_("Also run now for the contacts that already match"), required=False,
        help_text=_("Otherwise switching on only acts on what happens from now on."),
    )  # fmt: skip

    class Meta:
        model = Automation
        fields = ["name", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lists = ContactList.objects.order_by("name")
        tags = Tag.objects.order_by("name")
        accounts = ProviderAccount.objects.filter(is_active=True).order_by("name")
        f = self.fields
        f["trigger_type"] = forms.ChoiceField(label=_("When"), choices=TRIGGER_CHOICES)
        f["trigger_list"] = forms.ModelChoiceField(lists, label=_("List"), required=False)
        f["trigger_tag"] = forms.ModelChoiceField(tags, label=_("Tag"), required=False, to_field_name="name")
        f["trigger_keywords"] = forms.CharField(label=_("Keywords"), required=False, max_length=2000,
                                                help_text=_("Separated by commas, e.g. INFO, PREZZI. Any case."))  # fmt: skip
        f["trigger_match"] = forms.ChoiceField(label=_("Match"), required=False, choices=[
            ("exact", _("the whole message is the keyword")), ("contains", _("the message contains the keyword"))])  # fmt: skip
        f["trigger_sources"] = forms.MultipleChoiceField(
            label=_("Created by"), required=False, widget=forms.CheckboxSelectMultiple,
            choices=[("manual", _("by hand")), ("api", _("the API")), ("import", _("an import")),
                     ("sync", _("a sync")), ("inbound", _("an inbound message"))],
            help_text=_("Leave all unticked for every way."),
        )  # fmt: skip
        f["trigger_field"] = forms.ChoiceField(
            label=_("Date field"), required=False, choices=_field_choices(True)
        )
        f["trigger_offset_days"] = forms.IntegerField(label=_("Days after the date (negative: before)"), required=False,
                                                      min_value=-365, max_value=365, initial=0)  # fmt: skip
        f["trigger_at"] = forms.TimeField(label=_("At (local time)"), required=False, initial="09:00")
        f["trigger_yearly"] = forms.BooleanField(label=_("Every year"), required=False, initial=True)
        f["trigger_status"] = forms.ChoiceField(label=_("Status"), required=False, choices=[
            ("delivered", _("delivered")), ("read", _("read")), ("failed", _("failed"))])  # fmt: skip
        f["trigger_within_hours"] = forms.IntegerField(
            label=_("…did NOT reach it within (hours)"), required=False, min_value=1, max_value=24 * 90,
            help_text=_("Leave empty for 'reached the status'."))  # fmt: skip
        f["trigger_channel"] = forms.ChoiceField(label=_("Only messages on"), required=False, choices=[
            ("", _("any channel")), ("whatsapp", "WhatsApp"), ("sms", "SMS"), ("rcs", "RCS")])  # fmt: skip
        f["trigger_campaign"] = forms.IntegerField(
            label=_("Only for campaign (id)"), required=False, min_value=1
        )
        for i in range(1, CONDITION_ROWS + 1):
            p = f"condition_{i}_"
            f[p + "type"] = forms.ChoiceField(
                label=_("Only if the contact"), required=False, choices=CONDITION_CHOICES
            )
            f[p + "list"] = forms.ModelChoiceField(lists, label=_("List"), required=False)
            f[p + "tag"] = forms.ModelChoiceField(tags, label=_("Tag"), required=False, to_field_name="name")
            f[p + "field"] = forms.ChoiceField(label=_("Field"), required=False, choices=_field_choices())
            f[p + "op"] = forms.ChoiceField(label=_("Comparison"), required=False, choices=OPS)
            f[p + "value"] = forms.CharField(label=_("Value"), required=False, max_length=200)
        templates = MessageTemplate.objects.order_by("name")
        remotes = ProviderAutomation.objects.select_related("account").order_by("account__name", "name")
        for i in range(1, ACTION_ROWS + 1):
            p = f"action_{i}_"
            f[p + "type"] = forms.ChoiceField(label=_("Then"), required=False, choices=ACTION_CHOICES)
            f[p + "delay"] = forms.IntegerField(label=_("Wait"), required=False, min_value=0, max_value=366)
            f[p + "delay_unit"] = forms.ChoiceField(label=_("Unit"), required=False, choices=DELAY_UNITS)
            f[p + "account"] = forms.ModelChoiceField(accounts, label=_("Account"), required=False)
            f[p + "template"] = forms.ModelChoiceField(templates, label=_("Template"), required=False)
            f[p + "channel"] = forms.ChoiceField(label=_("Channel"), required=False, choices=[
                ("", _("the account's default")), ("sms", "SMS"), ("whatsapp", "WhatsApp"), ("rcs", "RCS")])  # fmt: skip
            f[p + "text"] = forms.CharField(label=_("Text"), required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 3}),
                                            help_text=_("{{first_name}} and other fields are filled per contact."))  # fmt: skip
            f[p + "automation"] = forms.ModelChoiceField(remotes, label=_("Spoki automation"), required=False,
                                                         help_text=_("Pulled from the account; pull again if one is missing."))  # fmt: skip
            f[p + "variables"] = forms.CharField(label=_("Values it needs"), required=False, max_length=4000,
                                                 widget=forms.Textarea(attrs={"rows": 2}),
                                                 help_text=_("One NAME=value per line, e.g. CODE={{tier}}"))  # fmt: skip
            f[p + "list"] = forms.ModelChoiceField(lists, label=_("List"), required=False)
            f[p + "tag"] = forms.ModelChoiceField(tags, label=_("Tag"), required=False, to_field_name="name")
            f[p + "field"] = forms.ChoiceField(label=_("Field"), required=False, choices=_field_choices())
            f[p + "value"] = forms.CharField(label=_("New value"), required=False, max_length=200)
            f[p + "emails"] = forms.CharField(label=_("E-mail addresses"), required=False, max_length=2000,
                                              help_text=_("Separated by commas."))  # fmt: skip
        if self.instance and self.instance.pk:
            self._load(self.instance)

    # -- instance → fields ---------------------------------------------------------------------

    def _load(self, automation: Automation):
        initial = self.initial
        trigger = automation.trigger or {}
        initial["trigger_type"] = trigger.get("type")
        for key in ("list", "tag", "match", "sources", "field", "offset_days", "at", "yearly", "status",
                    "within_hours", "campaign", "channel"):  # fmt: skip
            if key in trigger:
                initial[f"trigger_{key}"] = trigger[key]
        if "keywords" in trigger:
            initial["trigger_keywords"] = ", ".join(trigger["keywords"])
        for i, cond in enumerate(automation.conditions or [], start=1):
            for key, value in cond.items():
                initial[f"condition_{i}_{key}"] = value
        for i, action in enumerate(automation.actions or [], start=1):
            delay = action.get("delay_seconds") or 0
            unit = next((u for u in (86400, 3600, 60) if delay and delay % u == 0), 60 if delay else 0)
            initial[f"action_{i}_delay"] = delay // unit if unit else None
            initial[f"action_{i}_delay_unit"] = str(unit)
            for key, value in action.items():
                if key == "variables":
                    initial[f"action_{i}_variables"] = _variables_text(value)
                elif key == "emails":
                    initial[f"action_{i}_emails"] = ", ".join(value)
                elif key != "delay_seconds":
                    initial[f"action_{i}_{key}"] = value

    # -- fields → API shape ----------------------------------------------------------------------

    def _pk(self, value):
        return getattr(value, "pk", value)

    def definition(self) -> dict:
        d = self.cleaned_data
        kind = d.get("trigger_type")
        trigger: dict = {"type": kind}
        if kind in ("list_added", "list_removed"):
            trigger["list"] = self._pk(d.get("trigger_list"))
        elif kind == "tag_added":
            trigger["tag"] = getattr(d.get("trigger_tag"), "name", None)
        elif kind == "contact_created" and d.get("trigger_sources"):
            trigger["sources"] = d["trigger_sources"]
        elif kind == "inbound_keyword":
            trigger["keywords"] = [
                k for k in re.split(r"[,\n]", d.get("trigger_keywords") or "") if k.strip()
            ]
            trigger["match"] = d.get("trigger_match") or "exact"
        elif kind == "date_field":
            at = d.get("trigger_at")
            trigger.update(field=d.get("trigger_field"), offset_days=d.get("trigger_offset_days") or 0,
                           at=at.strftime("%H:%M") if at else "09:00", yearly=bool(d.get("trigger_yearly")))  # fmt: skip
        elif kind == "message_status":
            trigger["status"] = d.get("trigger_status")
            if d.get("trigger_within_hours"):
                trigger["within_hours"] = d["trigger_within_hours"]
            if d.get("trigger_channel"):
                trigger["channel"] = d["trigger_channel"]
            if d.get("trigger_campaign"):
                trigger["campaign"] = d["trigger_campaign"]
        conditions = []
        for i in range(1, CONDITION_ROWS + 1):
            p = f"condition_{i}_"
            ctype = d.get(p + "type")
            if not ctype:
                continue
            cond = {"type": ctype}
            if ctype in ("in_list", "not_in_list"):
                cond["list"] = self._pk(d.get(p + "list"))
            elif ctype in ("has_tag", "not_has_tag"):
                cond["tag"] = getattr(d.get(p + "tag"), "name", None)
            elif ctype in ("language", "country"):
                cond["value"] = d.get(p + "value")
            elif ctype == "field":
                cond.update(
                    field=d.get(p + "field"), op=d.get(p + "op") or "equals", value=d.get(p + "value") or ""
                )
            conditions.append(cond)
        actions = []
        self._action_rows = []
        for i in range(1, ACTION_ROWS + 1):
            p = f"action_{i}_"
            atype = d.get(p + "type")
            if not atype:
                continue
            action: dict = {"type": atype,
                            "delay_seconds": (d.get(p + "delay") or 0) * int(d.get(p + "delay_unit") or 0)}  # fmt: skip
            if atype in ("add_to_list", "remove_from_list"):
                action["list"] = self._pk(d.get(p + "list"))
            elif atype in ("add_tag", "remove_tag"):
                action["tag"] = getattr(d.get(p + "tag"), "name", None)
            elif atype == "set_field":
                action.update(field=d.get(p + "field"), value=d.get(p + "value"))
            elif atype == "notify":
                action["emails"] = d.get(p + "emails") or ""
            elif atype in ("send_template", "send_text", "start_provider_automation"):
                action["account"] = self._pk(d.get(p + "account"))
                if atype == "send_template":
                    action["template"] = self._pk(d.get(p + "template"))
                if atype == "send_text":
                    action["text"] = d.get(p + "text")
                if atype == "start_provider_automation":
                    remote = d.get(p + "automation")
                    action["automation"] = self._pk(remote)
                    if remote is not None and action["account"] is None:
                        action["account"] = remote.account_id
                if atype != "start_provider_automation" and d.get(p + "channel"):
                    action["channel"] = d[p + "channel"]
                try:
                    action["variables"] = _parse_variables(d.get(p + "variables"))
                except ValidationError as exc:
                    self.add_error(p + "variables", exc)
            actions.append(action)
            self._action_rows.append(i)
        return {"trigger": trigger, "conditions": conditions, "actions": actions}

    def _field_for(self, path: str) -> str | None:
        """'actions[1].template' → 'action_<row>_template'; 'trigger.list' → 'trigger_list'."""
        m = re.fullmatch(r"(trigger|conditions|actions)(?:\[(\d+)\])?(?:\.(\w+))?", path)
        if not m:
            return None
        part, index, key = m.groups()
        if part == "trigger":
            name = f"trigger_{key}" if key else "trigger_type"
        elif part == "conditions":
            name = f"condition_{int(index) + 1}_{key or 'type'}" if index is not None else None
        else:
            if index is None:
                return None
            row = self._action_rows[int(index)] if int(index) < len(self._action_rows) else int(index) + 1
            key = {"delay_seconds": "delay"}.get(key, key)
            name = f"action_{row}_{key or 'type'}"
        return name if name in self.fields else None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        definition = self.definition()
        try:
            self.cleaned_definition = schema.clean_definition(
                definition["trigger"], definition["conditions"], definition["actions"]
            )
        except ValidationError as exc:
            for path, messages in exc.message_dict.items():
                field = self._field_for(path)
                for message in messages:
                    self.add_error(field, message if field else f"{path}: {message}")
        return cleaned

    def service_data(self) -> dict:
        return {"name": self.cleaned_data["name"], "enabled": self.cleaned_data.get("enabled", False),
                **self.cleaned_definition}  # fmt: skip

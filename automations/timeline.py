"""Run timelines (on the automation and on the contact's page) and one-line trigger descriptions."""

from __future__ import annotations

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

STATUS_CLASS = {
    "succeeded": "text-green-700 dark:text-green-400", "failed": "text-red-600 dark:text-red-400",
    "skipped": "text-gray-500", "pending": "text-amber-600", "running": "text-amber-600",
    "retrying": "text-amber-600",
}  # fmt: skip


def describe_trigger(trigger: dict) -> str:
    from contacts.models import ContactList

    kind = (trigger or {}).get("type")
    if kind in ("list_added", "list_removed"):
        name = (
            ContactList.objects.filter(pk=trigger.get("list")).values_list("name", flat=True).first() or "?"
        )
        text = gettext("Added to “%(list)s”") if kind == "list_added" else gettext("Removed from “%(list)s”")
        return text % {"list": name}
    if kind == "tag_added":
        return gettext("Tag “%(tag)s” added") % {"tag": trigger.get("tag")}
    if kind == "inbound_keyword":
        return gettext("Writes %(words)s") % {"words": ", ".join(trigger.get("keywords") or [])}
    if kind == "date_field":
        return gettext("%(field)s, %(days)+d days, at %(at)s") % {
            "field": trigger.get("field"), "days": trigger.get("offset_days") or 0, "at": trigger.get("at")}  # fmt: skip
    if kind == "message_status":
        if trigger.get("within_hours"):
            return gettext("Message not %(status)s within %(h)s h") % {"status": trigger.get("status"),
                                                                       "h": trigger["within_hours"]}  # fmt: skip
        return gettext("Message %(status)s") % {"status": trigger.get("status")}
    if kind == "contact_created":
        return gettext("Contact created")
    return "—"


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def runs_table(runs, *, show: str = "contact"):
    """An HTML table of runs with their steps; `show` is the column naming who/what ran."""
    runs = list(runs)
    if not runs:
        return gettext("No runs yet.")
    rows = []
    for run in runs:
        who = (
            run.contact.display_name
            if show == "contact"
            else (run.automation.name if show == "automation" else "")
        )
        steps = format_html_join(
            "", '<li><span class="{}">{}</span> {} <span class="text-xs text-gray-500">{}</span>{}</li>',
            ((STATUS_CLASS.get(s.status, ""), s.get_status_display(), s.action, _when(s.at),
              format_html(" — {}", s.error) if s.error else "") for s in run.steps.all()),
        )  # fmt: skip
        waiting = ""
        if run.status in ("pending", "running") and run.due_at:
            waiting = format_html(
                '<div class="text-xs">{} {}</div>', gettext("next step at"), _when(run.due_at)
            )
        rows.append((run.pk, STATUS_CLASS.get(run.status, ""), run.status, run.get_status_display(), who,
                     _when(run.created_at), steps, run.error, waiting))  # fmt: skip
    body = format_html_join(
        "",
        '<tr data-run="{}" class="border-b border-base-200 align-top"><td class="py-1 pr-3 {}" data-status="{}">{}</td>'
        '<td class="py-1 pr-3">{}</td><td class="py-1 pr-3 text-xs">{}</td>'
        '<td class="py-1"><ul>{}</ul><div class="text-xs text-red-600">{}</div>{}</td></tr>',
        rows,
    )
    return format_html(
        '<table class="automation-runs w-full text-sm"><thead><tr class="text-left"><th>{}</th><th>{}</th><th>{}</th>'
        "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
        gettext("Status"), gettext("Automation") if show == "automation" else gettext("Contact"),
        gettext("Started"), gettext("Steps"), body,
    )  # fmt: skip


class ContactAutomationRunsMixin:
    """Adds a read-only "Automations" field to the contact page (mixed into ContactAdmin)."""

    @display(description=_("Automations"))
    def automation_runs(self, obj):
        from .services import contact_runs

        return runs_table(contact_runs(obj) if obj and obj.pk else [], show="automation")

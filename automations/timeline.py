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


# --- the contact's one timeline: messages, automation runs, imports and other events --------------

TIMELINE_LIMIT = 50
# Messages come from the conversation (Message rows); their events would repeat them.
TIMELINE_EVENT_KINDS = ("contact_created", "list_added", "list_removed", "tag_added")
SOURCE_WORDS = {
    "manual": _("by hand"), "api": _("through the API"), "import": _("by an import"), "sync": _("by a sync"),
    "inbound": _("by an incoming message"), "automation": _("by an automation"),
}  # fmt: skip


def _action_words(code: str) -> str:
    from .forms import ACTION_CHOICES

    return str(dict(ACTION_CHOICES).get(code, code))


def _message_entry(message) -> dict:
    inbound = message.direction == "inbound"
    text = message.text or (message.template_name and f"[{message.template_name}]") or "—"
    if inbound:
        title = gettext("Message received on %(account)s") % {"account": message.account.name}
        detail = []
    else:
        title = gettext("Message sent: %(status)s") % {"status": message.get_status_display()}
        detail = [gettext("campaign “%(name)s”") % {"name": message.campaign.name}] if message.campaign_id else []
    return {"at": message.created_at, "kind": "message", "direction": message.direction, "title": title,
            "text": text, "detail": detail, "status": message.status}  # fmt: skip


def _run_entry(run) -> dict:
    title = gettext("Automation “%(name)s”: %(status)s") % {"name": run.automation.name,
                                                            "status": run.get_status_display()}  # fmt: skip
    detail = []
    for step in run.steps.all():
        line = f"{_action_words(step.action)} — {step.get_status_display()}"
        detail.append(f"{line}: {step.error}" if step.error else line)
    if run.status in ("pending", "running") and run.due_at:
        detail.append(gettext("next step at %(when)s") % {"when": _when(run.due_at)})
    if run.error:
        detail.append(run.error)
    return {"at": run.created_at, "kind": "automation", "direction": "", "title": title, "text": "",
            "detail": detail, "status": run.status}  # fmt: skip


def _event_entry(event, list_names: dict) -> dict:
    data = event.data if isinstance(event.data, dict) else {}
    source = SOURCE_WORDS.get(event.source)
    if event.kind == "contact_created":
        title = gettext("Contact created")
    elif event.kind in ("list_added", "list_removed"):
        name = list_names.get(data.get("list_id")) or data.get("list") or "?"
        text = gettext("Added to the list “%(list)s”") if event.kind == "list_added" else gettext(
            "Removed from the list “%(list)s”")  # fmt: skip
        title = text % {"list": name}
    else:
        title = gettext("Tag “%(tag)s” added") % {"tag": data.get("tag") or "?"}
    kind = "import" if event.source == "import" else "event"
    return {"at": event.created_at, "kind": kind, "direction": "", "title": title, "text": "",
            "detail": [str(source)] if source else [], "status": ""}  # fmt: skip


def contact_timeline(contact, limit: int = TIMELINE_LIMIT) -> tuple[list[dict], bool]:
    """The latest `limit` things that happened to the contact, newest first, and whether there are older ones.

    Messages (both directions), automation runs with their steps, and the contact's events
    (created, imported, lists, tags): the latest `limit` of each source, merged. Five queries
    whatever the contact's history (messages, runs, steps, events, list names).
    """
    from contacts.events import ContactEvent
    from contacts.models import ContactList
    from messaging.models import Message

    from .models import AutomationRun

    messages = list(Message.objects.filter(contact=contact).select_related("campaign", "account")
                    .order_by("-created_at", "-id")[: limit + 1])  # fmt: skip
    runs = list(AutomationRun.objects.filter(contact=contact).select_related("automation")
                .prefetch_related("steps").order_by("-created_at", "-id")[: limit + 1])  # fmt: skip
    events = list(ContactEvent.objects.filter(contact=contact, kind__in=TIMELINE_EVENT_KINDS)
                  .order_by("-created_at", "-id")[: limit + 1])  # fmt: skip
    list_ids = {e.data.get("list_id") for e in events if isinstance(e.data, dict) and e.data.get("list_id")}
    names = dict(ContactList.objects.filter(pk__in=list_ids).values_list("pk", "name")) if list_ids else {}
    entries = [_message_entry(m) for m in messages] + [_run_entry(r) for r in runs]
    entries += [_event_entry(e, names) for e in events]
    if len(events) <= limit and not any(e.kind == "contact_created" for e in events) and contact.created_at:
        # A bulk path (an import) records no contact_created event while no automation listens for
        # one (contacts.events.listened_kinds): the contact row still says when it was created.
        entries.append({"at": contact.created_at, "kind": "event", "direction": "", "status": "",
                        "title": gettext("Contact created"), "text": "", "detail": []})  # fmt: skip
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries[:limit], len(entries) > limit


KIND_WORDS = {"message": _("Message"), "automation": _("Automation"), "import": _("Import"), "event": _("Contact")}


class ContactTimelineMixin:
    """Adds the read-only "Timeline" field to the contact page (mixed into ContactAdmin)."""

    @display(description=_("Timeline"))
    def timeline(self, obj):
        entries, more = contact_timeline(obj) if obj and obj.pk else ([], False)
        if not entries:
            return gettext("Nothing has happened to this contact yet.")
        rows = format_html_join(
            "",
            '<li class="border-b border-base-200 py-2" data-kind="{}" data-direction="{}" data-status="{}">'
            '<div class="text-xs text-gray-500">{} · {}</div><div class="font-medium {}">{}</div>'
            '<div class="whitespace-pre-wrap">{}</div><ul class="text-xs">{}</ul></li>',
            ((e["kind"], e["direction"], e["status"], _when(e["at"]), KIND_WORDS[e["kind"]],
              STATUS_CLASS.get(e["status"], ""), e["title"], e["text"],
              format_html_join("", "<li>{}</li>", ((line,) for line in e["detail"]))) for e in entries),
        )  # fmt: skip
        note = (
            format_html('<p class="text-xs text-gray-500">{}</p>',
                        gettext("Showing the latest %(n)s entries.") % {"n": len(entries)})
            if more else ""
        )  # fmt: skip
        return format_html('<ul class="contact-timeline" data-testid="timeline">{}</ul>{}', rows, note)

"""Receivers: a prompt drain after events commit, and the periodic jobs after migrate."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def kick_drain(sender, kinds, count, **kwargs):
    """events_recorded (sent after commit): drain now instead of waiting for the beat."""
    from .engine import draining
    from .models import Automation
    from .tasks import drain_automation_events

    if draining.get():
        return  # this thread's drain loop reads them next
    if not Automation.objects.filter(enabled=True).exists():
        return  # nothing listens; the events are consumed by the next beat
    try:
        drain_automation_events.delay()
    except Exception as exc:
        log.warning(
            "could not enqueue the automations drain (%s); the periodic drain will pick the events up", exc
        )


def ensure_periodic_tasks(**kwargs):
    from config.beat import ensure_periodic_task

    using = kwargs.get("using", "default")
    ensure_periodic_task(
        "Automations: process new events", "automations.tasks.drain_automation_events",
        description="Runs automations for what happened to contacts (also started right after each change).",
        every_minutes=1, using=using,
    )  # fmt: skip
    ensure_periodic_task(
        "Automations: run delayed steps", "automations.tasks.run_due_automations",
        description="Performs the actions whose delay has passed, and retries failed ones.",
        every_minutes=1, using=using,
    )  # fmt: skip
    ensure_periodic_task(
        "Automations: dates and birthdays", "automations.tasks.evaluate_date_automations",
        description="Starts date automations (birthdays, anniversaries) at their local time.",
        every_minutes=5, using=using,
    )  # fmt: skip


# The contact event each trigger type consumes (contacts.events kinds); date triggers read the date index.
_KIND_OF_TRIGGER = {"inbound_keyword": "inbound_message"}


def listened_kinds():
    """The contact event kinds the switched-on automations trigger on now (asked once per import batch).

    Registered with contacts.events so a bulk path (an import) skips writing events nobody consumes:
    switching an automation on never acts on the past, so an event recorded before any automation
    listened would only ever be marked consumed unread.
    """
    from .models import Automation

    types = Automation.objects.filter(enabled=True).values_list("trigger_type", flat=True).distinct()
    return {_KIND_OF_TRIGGER.get(t, t) for t in types}

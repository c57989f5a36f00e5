"""Periodic jobs every install needs, created by the apps after migrate (django-celery-beat).

Connected to post_migrate rather than written as data migrations: they run on every migrate,
so a row deleted by mistake comes back; they need no place in migration graphs that several
apps extend; and they leave an existing row's schedule and enabled flag alone (staff may edit
or disable them in the admin) — only the task path is kept current.
"""

from __future__ import annotations

from django.utils import timezone


def ensure_periodic_task(
    name: str,
    task: str,
    *,
    description: str,
    using: str = "default",
    every_minutes: int | None = None,
    crontab: dict[str, str] | None = None,
) -> None:
    """Create the PeriodicTask `name` running `task` (every N minutes, or on a crontab) if missing."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    if every_minutes is not None:
        interval, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=every_minutes, period=IntervalSchedule.MINUTES
        )
        schedule = {"interval": interval}
    else:
        fields = {"minute": "0", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
        fields.update(crontab or {})
        cron, _ = CrontabSchedule.objects.using(using).get_or_create(
            timezone=str(timezone.get_default_timezone()), **fields
        )
        schedule = {"crontab": cron}
    row, created = PeriodicTask.objects.using(using).get_or_create(
        name=name, defaults={"task": task, "description": description, **schedule}
    )
    if not created and row.task != task:
        row.task = task
        row.save(update_fields=["task"])

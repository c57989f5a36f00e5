"""Background work speaks the language of the person who started it.

A task published while a request (or a command) runs in Italian carries `language: "it"` in its
message headers; the worker runs it inside translation.override("it"), so an import's rejected
rows, an export's column headers or a sync's notes come out in that person's language, whatever
the worker's LANGUAGE_CODE. Tasks published with no language active run in LANGUAGE_CODE.
"""

from __future__ import annotations

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.utils import translation

HEADER = "language"
_active: dict[str, object] = {}


def add_language_header(headers=None, **kwargs) -> None:
    language = translation.get_language()
    if headers is not None and language and HEADER not in headers:
        headers[HEADER] = language


def enter_language(task_id=None, task=None, **kwargs) -> None:
    request = getattr(task, "request", None)
    language = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if language and task_id:
        override = translation.override(language)
        override.__enter__()
        _active[task_id] = override


def leave_language(task_id=None, **kwargs) -> None:
    override = _active.pop(task_id, None)
    if override is not None:
        override.__exit__(None, None, None)


def connect() -> None:
    before_task_publish.connect(add_language_header, dispatch_uid="localization-publish", weak=False)
    task_prerun.connect(enter_language, dispatch_uid="localization-prerun", weak=False)
    task_postrun.connect(leave_language, dispatch_uid="localization-postrun", weak=False)

"""A task runs in the language of whoever published it."""

from __future__ import annotations

from types import SimpleNamespace

from django.utils import translation

from localization import background


def test_the_publisher_language_travels_in_the_headers_and_the_worker_uses_it():
    headers = {}
    with translation.override("it"):
        background.add_language_header(headers=headers)
    assert headers == {"language": "it"}

    task = SimpleNamespace(request=SimpleNamespace(language="it", headers=None))
    with translation.override("en"):
        background.enter_language(task_id="t1", task=task)
        assert translation.get_language() == "it"
        assert translation.gettext("Contacts") == "Contatti"
        background.leave_language(task_id="t1")
        assert translation.get_language() == "en"


def test_a_task_without_a_language_runs_in_the_worker_default():
    task = SimpleNamespace(request=SimpleNamespace(headers={}))
    with translation.override("en"):
        background.enter_language(task_id="t2", task=task)
        assert translation.get_language() == "en"
        background.leave_language(task_id="t2")
    assert "t2" not in background._active


def test_the_signals_are_connected():
    from celery.signals import before_task_publish

    headers = {}
    with translation.override("it"):
        before_task_publish.send(sender="contacts.tasks.run_import", headers=headers, body=None)
    assert headers["language"] == "it"

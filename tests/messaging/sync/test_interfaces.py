"""The ways in: management command, REST API, Celery task and schedule, admin screens."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from contacts.models import Contact
from messaging.models import HttpLog
from messaging.sync.models import SyncConflict, SyncRun
from messaging.sync.services import acquire_lock, sync_account
from tests.messaging.sync.memory import MemoryProvider

pytestmark = pytest.mark.django_db


def test_command_json_last_line(account, store):
    Contact.objects.create(phone="+393331200001", first_name="Anna")
    store.add_contact(phone="+393331200002", first_name="Bruno")
    out = io.StringIO()
    call_command("sync", account.name, "--resource", "contacts", "--json", stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["status"] == "succeeded"
    assert {k: result[k] for k in ("pulled", "created", "pushed", "unchanged", "errors")} == {
        "pulled": 1, "created": 1, "pushed": 1, "unchanged": 0, "errors": 0,
    }  # fmt: skip
    assert SyncRun.objects.get().trigger == "cli"


def test_command_words_and_errors(account, store):
    out = io.StringIO()
    call_command("sync", account.name, "--direction", "pull", stdout=out)
    assert "succeeded" in out.getvalue()
    with pytest.raises(CommandError, match="No provider account called 'nope'"):
        call_command("sync", "nope")
    acquire_lock(account, "contacts")
    with pytest.raises(CommandError, match="already running"):
        call_command("sync", account.name, "--json", stdout=io.StringIO())


def test_api_starts_a_run_and_reads_it(
    account, store, manager_api, editor_api, django_capture_on_commit_callbacks
):
    store.add_contact(phone="+393331200002", first_name="Bruno")
    url = f"/api/provider-accounts/{account.pk}/sync/"
    assert editor_api.post(url, {}, format="json").status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        response = manager_api.post(url, {"resource": "contacts", "direction": "pull"}, format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    run = SyncRun.objects.get(pk=run_id)  # eager Celery in tests: already done
    assert (run.trigger, run.status, run.pulled, run.created) == ("api", "succeeded", 1, 1)

    listing = editor_api.get("/api/sync-runs/")
    assert listing.status_code == 200
    rows = listing.json()["results"] if isinstance(listing.json(), dict) else listing.json()
    assert [r["id"] for r in rows] == [run_id]
    detail = editor_api.get(f"/api/sync-runs/{run_id}/").json()
    assert detail["status"] == "succeeded" and detail["created"] == 1 and detail["problems"] == []
    assert manager_api.post(url, {"resource": "bogus"}, format="json").status_code == 400


def test_api_does_not_queue_a_second_run_while_one_is_active(account, manager_api):
    active = SyncRun.objects.create(account=account, status="running")
    acquire_lock(account, "contacts")
    response = manager_api.post(f"/api/provider-accounts/{account.pk}/sync/", {}, format="json")
    assert response.status_code == 200
    assert response.json() == {**response.json(), "id": active.pk, "started": False}


def test_account_save_keeps_a_beat_schedule(make_account):
    from django_celery_beat.models import PeriodicTask

    account = make_account(sync_interval_minutes=15)
    task = PeriodicTask.objects.get(name=f"Sync account #{account.pk}")
    assert (task.task, json.loads(task.args), task.interval.every, task.enabled) == (
        "messaging.tasks.sync_scheduled", [account.pk], 15, True,
    )  # fmt: skip
    account.sync_interval_minutes = 0
    account.save()
    task.refresh_from_db()
    assert task.enabled is False
    account.delete()
    assert not PeriodicTask.objects.filter(name=f"Sync account #{account.pk}").exists()


def test_tasks_are_registered_and_routed_to_the_sync_queue(account, store, settings):
    from config.celery import app
    from messaging.sync.tasks import sync_scheduled

    app.loader.import_default_modules()
    assert {"messaging.tasks.sync_account", "messaging.tasks.sync_scheduled"} <= set(app.tasks)
    route = app.amqp.router.route({}, "messaging.tasks.sync_account")
    assert route["queue"].name == "sync"
    store.add_contact(phone="+393331200002")
    result = sync_scheduled.delay(account.pk).get()
    assert result["status"] == "succeeded" and result["created"] == 1
    assert SyncRun.objects.get().trigger == "schedule"


def test_http_log_rows_are_linked_to_the_run(make_account, serve_fake):
    """Every HTTP call a run makes carries correlation syncrun:<id> (through the real HttpClient)."""
    from messaging.providers.http import HttpClient

    account = make_account()
    seen = []

    class Logged(MemoryProvider):
        def iter_contact_pages(self, cursor=None):
            client = HttpClient(
                base_url="http://127.0.0.1:9", provider="memory", account=account, max_retries=0
            )
            try:
                client.get("/ping")
            except Exception as exc:  # nothing listens there: still logged
                seen.append(exc)
            yield from super().iter_contact_pages(cursor)

    run = sync_account(account, "contacts", "pull", provider=Logged(account))
    assert seen
    assert HttpLog.objects.filter(correlation=f"syncrun:{run.pk}").count() == 1


def test_admin_run_page_conflict_screen_and_sync_now(
    make_account, manager, client, django_capture_on_commit_callbacks
):
    account = make_account(conflict_policy="hold")
    store = MemoryProvider.store_for(account)
    contact = Contact.objects.create(phone="+393331200001", first_name="Ours")
    store.add_contact(phone="+393331200001", first_name="Theirs")
    client.force_login(manager)

    # Sync now: a confirmation page, then a POST that starts the run and shows it.
    page = client.get(reverse("admin:messaging_syncrun_start") + f"?account={account.pk}")
    assert page.status_code == 200 and b"Sync now" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:messaging_syncrun_start") + f"?account={account.pk}",
            {"resource": "contacts", "direction": "both"},
        )
    run = SyncRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:messaging_syncrun_change", args=[run.pk]
    )
    assert (run.trigger, run.status, run.conflicts) == ("button", "partial", 1)
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert b'data-count="conflicts"><strong>1</strong>' in detail.content
    assert f"?correlation=syncrun:{run.pk}".encode() in detail.content
    assert (
        client.get(
            reverse("admin:messaging_httplog_changelist") + f"?correlation=syncrun:{run.pk}"
        ).status_code
        == 200
    )

    # The account page offers Sync now.
    account_page = client.get(reverse("admin:messaging_provideraccount_change", args=[account.pk]))
    assert b"sync-now" in account_page.content

    conflict = SyncConflict.objects.get()
    screen = client.get(reverse("admin:messaging_syncconflict_change", args=[conflict.pk]))
    assert screen.status_code == 200
    assert b"Keep ours" in screen.content and b"Keep theirs" in screen.content
    assert b"Ours" in screen.content and b"Theirs" in screen.content
    client.post(reverse("admin:messaging_syncconflict_change", args=[conflict.pk]), {"keep": "theirs"})
    conflict.refresh_from_db()
    contact.refresh_from_db()
    assert (conflict.status, conflict.resolved_by, contact.first_name) == ("kept_theirs", manager, "Theirs")


def test_viewers_cannot_start_or_resolve(account, viewer, client):
    client.force_login(viewer)
    assert client.get(reverse("admin:messaging_syncrun_start") + f"?account={account.pk}").status_code == 403
    assert client.get(reverse("admin:messaging_syncrun_changelist")).status_code == 200


def test_sync_now_on_a_list(account, store, manager, client, django_capture_on_commit_callbacks):
    from contacts.models import ContactList

    team = ContactList.objects.create(name="Team")
    client.force_login(manager)
    page = client.get(reverse("admin:contacts_contactlist_change", args=[team.pk]))
    assert page.status_code == 200 and b"sync-now" in page.content
    url = reverse("admin:messaging_syncrun_start") + f"?list={team.pk}"
    assert b"memory account" in client.get(url).content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    run = SyncRun.objects.get()
    assert response.status_code == 302
    assert (run.resource, run.trigger, run.status, run.pushed) == ("lists", "button", "succeeded", 1)
    assert [x.name for x in store.lists.values()] == ["Team"]


def test_keep_ours_in_the_admin_sends_ours_at_once(
    make_account, manager, client, django_capture_on_commit_callbacks
):
    account = make_account(conflict_policy="hold")
    store = MemoryProvider.store_for(account)
    Contact.objects.create(phone="+393331200001", first_name="Ours")
    store.add_contact(phone="+393331200001", first_name="Theirs")
    sync_account(account, "contacts", "both")
    conflict = SyncConflict.objects.get()
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:messaging_syncconflict_change", args=[conflict.pk]), {"keep": "ours"})
    push = SyncRun.objects.latest("pk")
    assert (push.direction, push.status, push.pushed) == ("push", "succeeded", 1)
    assert store.by_phone("+393331200001").first_name == "Ours"

import pytest

from messaging.models import ProviderAccount
from messaging.sync.models import SyncRun

pytestmark = pytest.mark.django_db


def test_a_running_sync_page_refreshes_itself_and_a_finished_one_does_not(client, manager):
    account = ProviderAccount.objects.create(provider="sandbox", name="Sandbox")
    running = SyncRun.objects.create(account=account, status=SyncRun.Status.RUNNING)
    done = SyncRun.objects.create(account=account, status=SyncRun.Status.SUCCEEDED, pushed=3)
    client.force_login(manager)
    page = client.get(f"/admin/messaging/syncrun/{running.pk}/change/").content.decode()
    assert 'id="sync-in-progress"' in page and "window.location.reload" in page
    page = client.get(f"/admin/messaging/syncrun/{done.pk}/change/").content.decode()
    assert "sync-in-progress" not in page

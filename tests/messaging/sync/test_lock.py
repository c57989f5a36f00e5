"""The sync lock holds across connections (threads here; processes behave the same on PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections

from messaging.sync.models import SyncLock
from messaging.sync.services import acquire_lock, release_lock


@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_concurrent_callers_gets_the_lock(make_account):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers anyway; the race matters on PostgreSQL")
    account = make_account()
    SyncLock.objects.create(account=account, resource="contacts")
    barrier = threading.Barrier(8)
    tokens = []

    def contend():
        try:
            barrier.wait()
            tokens.append(acquire_lock(account, "contacts"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [t for t in tokens if t]
    assert len(tokens) == 8 and len(winners) == 1
    release_lock(account, "contacts", winners[0])
    assert acquire_lock(account, "contacts")


@pytest.mark.django_db
def test_an_expired_lease_can_be_taken_over(make_account):
    import datetime as dt

    account = make_account()
    assert acquire_lock(account, "lists", ttl=dt.timedelta(seconds=-1))  # already expired: a dead worker
    assert acquire_lock(account, "lists") is not None
    assert acquire_lock(account, "lists") is None

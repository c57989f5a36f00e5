"""The fresh-install demo: sync with the sandbox provider works end to end and settles."""

import pytest

from contacts.models import Contact, ContactList, Membership
from messaging.models import ProviderAccount
from messaging.sync.models import SyncRun
from messaging.sync.services import sync_account

pytestmark = pytest.mark.django_db


def counts(run):
    return {n: getattr(run, n) for n in SyncRun.COUNTS if getattr(run, n)}


def test_sandbox_round_trip_settles():
    account = ProviderAccount.objects.create(provider="sandbox", name="Sandbox")
    contacts = [Contact.objects.create(phone=f"+3933312{i:05d}", first_name=f"S{i}") for i in range(5)]
    team = ContactList.objects.create(name="Team")
    Membership.objects.create(contact=contacts[0], contact_list=team)

    first = sync_account(account, "all", "both")
    assert first.status == "succeeded", (first.error, list(first.problems.values_list("message", flat=True)))
    assert counts(first) == {"pushed": 5 + 1 + 1}  # contacts, the list, its one member
    second = sync_account(account, "all", "both")
    assert second.status == "succeeded"
    assert counts(second) == {"pulled": 5 + 1, "unchanged": 5 + 1}

"""Audience arithmetic: lists, exclusion lists, opted out, blocked, duplicates across lists."""

import pytest

from campaigns.services import compute_audience
from contacts.models import Contact
from contacts.services import delete_contacts
from tests.factories import ContactFactory

from .helpers import add_to, list_of, sandbox_account, sms_campaign

pytestmark = pytest.mark.django_db


def test_every_exclusion_counted_once_under_the_first_reason():
    account = sandbox_account()
    a, a_people = list_of(10)
    b, b_people = list_of(5)
    add_to(b, a_people[:3])  # three people are in both lists
    opted = ContactFactory(opted_out=True)
    opted_and_blocked = ContactFactory(opted_out=True, blocked=True)
    blocked = ContactFactory(blocked=True)
    add_to(a, [opted, opted_and_blocked, blocked])
    add_to(b, [blocked])  # blocked and in two lists: counted once as blocked, once as a duplicate
    exclude, _ = list_of(0)
    add_to(exclude, [a_people[0], b_people[0], opted])  # opted: already out as opted_out
    deleted = ContactFactory()
    add_to(a, [deleted])
    delete_contacts(Contact.objects.filter(pk=deleted.pk))  # soft-deleted: not in any count

    campaign = sms_campaign(account, [a, b], exclude_lists=[exclude])
    result = compute_audience(campaign)
    assert result.excluded == {"opted_out": 2, "blocked": 1, "in_exclude_lists": 2, "duplicates": 4}
    # 10 + 5 distinct people + 3 flagged ones = 18; minus 2 + 1 + 2 exclusions
    assert result.audience == 13
    assert result.contacts.count() == 13
    assert a_people[0] not in result.contacts and b_people[0] not in result.contacts


def test_no_lists_means_no_audience():
    account = sandbox_account()
    a, _ = list_of(1)
    campaign = sms_campaign(account, [a])
    campaign.lists.clear()
    assert compute_audience(campaign).audience == 0

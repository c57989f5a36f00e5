"""Who a campaign reaches: its lists, minus exclusion lists, opted-out and blocked contacts.

Every number is a query (no Python loops over contacts), so a 100,000-person audience is
counted in milliseconds. Each excluded contact is counted once, under the first of
opted_out, blocked, in_exclude_lists that applies; `duplicates` counts the extra list
memberships of contacts that are in two or more of the campaign's lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, QuerySet

from contacts.models import Contact, Membership


@dataclass
class Audience:
    audience: int
    excluded: dict[str, int] = field(default_factory=dict)
    members: int = 0  # list memberships before any exclusion
    contacts: QuerySet | None = None  # the contacts who will get a message, ordered by id

    def as_dict(self) -> dict:
        return {"audience": self.audience, "excluded": dict(self.excluded)}


def _in_lists(list_ids) -> Exists:
    return Exists(Membership.objects.filter(contact=OuterRef("pk"), contact_list_id__in=list_ids))


def audience_queryset(list_ids, exclude_ids) -> QuerySet:
    """Live contacts in any of `list_ids`, not opted out, not blocked, in none of `exclude_ids`."""
    qs = Contact.objects.filter(_in_lists(list(list_ids)), opted_out=False, blocked=False)
    if exclude_ids:
        qs = qs.exclude(_in_lists(list(exclude_ids)))
    return qs.order_by("pk")


def compute_audience(campaign) -> Audience:
    """The audience and what was taken out of it, with exact counts."""
    list_ids = list(campaign.lists.values_list("pk", flat=True))
    exclude_ids = list(campaign.exclude_lists.values_list("pk", flat=True))
    return compute_audience_for(list_ids, exclude_ids)


def compute_audience_for(list_ids, exclude_ids) -> Audience:
    list_ids, exclude_ids = list(list_ids), list(exclude_ids)
    if not list_ids:
        empty = {"opted_out": 0, "blocked": 0, "in_exclude_lists": 0, "duplicates": 0}
        return Audience(0, empty, 0, Contact.objects.none())
    members = Membership.objects.filter(
        contact_list_id__in=list_ids, contact__deleted_at__isnull=True
    ).count()
    everyone = Contact.objects.filter(_in_lists(list_ids))
    distinct = everyone.count()
    opted_out = everyone.filter(opted_out=True).count()
    blocked = everyone.filter(opted_out=False, blocked=True).count()
    remaining = everyone.filter(opted_out=False, blocked=False)
    in_exclude = remaining.filter(_in_lists(exclude_ids)).count() if exclude_ids else 0
    contacts = audience_queryset(list_ids, exclude_ids)
    excluded = {
        "opted_out": opted_out,
        "blocked": blocked,
        "in_exclude_lists": in_exclude,
        "duplicates": members - distinct,
    }
    return Audience(distinct - opted_out - blocked - in_exclude, excluded, members, contacts)

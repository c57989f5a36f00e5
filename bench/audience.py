"""Bench data shared by the campaign benchmarks: a list of n generated contacts (kept between runs)."""

from __future__ import annotations

from contacts.models import Contact, ContactList, Membership


def ensure_audience(name: str, n: int, *, phone_prefix: str, batch_size: int = 5000) -> ContactList:
    """The list `name` with at least n members, creating the missing contacts in bulk (phones
    `phone_prefix` + 8 digits, distinct per benchmark so two benchmarks can share a database)."""
    contact_list, _ = ContactList.objects.get_or_create(name=name)
    have = Membership.objects.filter(contact_list=contact_list).count()
    if have >= n:
        return contact_list
    print(f"creating {n - have:,} contacts …", flush=True)
    start = Contact.all_objects.count()
    numbers = range(start, start + (n - have))
    for offset in range(0, len(numbers), batch_size):
        made = Contact.objects.bulk_create(
            [Contact(phone=f"{phone_prefix}{i:08d}", first_name=f"N{i}") for i in numbers[offset:offset + batch_size]]
        )
        Membership.objects.bulk_create([Membership(contact=c, contact_list=contact_list) for c in made])
    return contact_list

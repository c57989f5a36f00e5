"""Every write to contacts, lists, tags and custom fields goes through these functions.

Admin forms and actions, the API, management commands and tasks call them;
none carries business rules of its own. Each function validates everything
first and writes inside one transaction, so a bad input never half-saves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .events import ContactEvent, record_events
from .models import Contact, ContactList, CustomField, Membership, Tag
from .phones import PhoneError, normalize_phone, search_digits

CONTACT_ATTRS = (
    "first_name", "last_name", "email", "language", "gender", "birth_date", "company", "address",
    "city", "province", "postal_code", "country", "notes",
)  # fmt: skip


# --- validation ------------------------------------------------------------------------------


class DuplicatePhone(ValidationError):
    """The number already belongs to another live contact (kept on .other for links)."""

    def __init__(self, field: str, phone: str, other: Contact):
        self.other = other
        name = f"{other.first_name} {other.last_name}".strip() or _("another contact")
        super().__init__(
            {
                field: _("%(phone)s already belongs to %(name)s (contact #%(id)s, %(url)s)")
                % {"phone": phone, "name": name, "id": other.pk, "url": other.get_admin_url()}
            }
        )


def clean_phone(
    raw, *, country: str | None = None, exclude_pk: int | None = None, field: str = "phone"
) -> str:
    """E.164 for `raw`, or ValidationError {field: reason} — including who already has it."""
    try:
        phone = normalize_phone(raw, country)
    except PhoneError as exc:
        raise ValidationError(
            {field: f"{exc}: {str(raw).strip()!r}" if str(raw).strip() else _("required")}
        ) from None
    clash = (
        Contact.objects.filter(phone=phone)
        .exclude(pk=exclude_pk)
        .only("pk", "first_name", "last_name", "phone")
    )
    other = clash.first()
    if other is not None:
        raise DuplicatePhone(field, phone, other)
    return phone


def clean_custom_fields(
    values: Mapping[str, Any] | None, *, definitions: dict[str, CustomField] | None = None
):
    """Validate custom field values by key; unknown keys and wrong types are errors naming the key."""
    if not values:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationError({"fields": _("must be an object of custom field values by key")})
    definitions = definitions if definitions is not None else {f.key: f for f in CustomField.objects.all()}
    cleaned, errors = {}, []
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            known = ", ".join(sorted(definitions)) or _("none defined yet")
            errors.append(_("unknown custom field '%(key)s' (known: %(known)s)") % {"key": key, "known": known})
            continue
        try:
            cleaned[key] = definition.clean_value(value)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({"fields": errors})
    return cleaned


MAX_SECONDARY_PHONES = 20


def clean_secondary_phones(value, *, country: str | None = None) -> list[str]:
    """A list of other numbers, each stored in E.164; anything else is a ValidationError.

    Every reader (exports, vCards, sync, the admin) relies on this being a list of E.164
    strings, so it is enforced here, at the one write path.
    """
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        value = [part for part in value.replace(";", ",").split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ValidationError({"secondary_phones": _("must be a list of phone numbers")})
    if len(value) > MAX_SECONDARY_PHONES:
        raise ValidationError({"secondary_phones": _("at most %(n)d numbers") % {"n": MAX_SECONDARY_PHONES}})
    phones, errors = [], []
    for raw in value:
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            errors.append(_("%(value)r is not a phone number") % {"value": raw})
            continue
        try:
            phone = normalize_phone(str(raw), country)
        except PhoneError as exc:
            errors.append(f"{exc}: {str(raw).strip()!r}")
            continue
        if phone not in phones:
            phones.append(phone)
    if errors:
        raise ValidationError({"secondary_phones": errors})
    return phones


def _check_texts(contact: Contact) -> None:
    """No NUL characters or lone surrogates in any text attribute (the database refuses them)."""
    from config.hardening import bad_text_reason

    errors = {}
    for key in (*CONTACT_ATTRS, "opted_out_reason"):
        value = getattr(contact, key, None)
        if isinstance(value, str):
            reason = bad_text_reason(value)
            if reason:
                errors[key] = reason
    if errors:
        raise ValidationError(errors)


def _resolve_lists(list_ids: Iterable[int] | None) -> list[ContactList]:
    from config.hardening import MAX_ID

    if list_ids is not None and not isinstance(list_ids, list | tuple | set):
        raise ValidationError({"lists": _("must be a list of list ids")})
    try:
        ids = [int(i) for i in (list_ids or [])]
    except (TypeError, ValueError):
        raise ValidationError({"lists": _("must be a list of list ids")}) from None
    out_of_range = [i for i in ids if not 1 <= i <= MAX_ID]
    if out_of_range:
        raise ValidationError({"lists": _("no list with id %(ids)s") % {"ids": ", ".join(map(str, out_of_range[:20]))}})
    if not ids:
        return []
    found = {cl.pk: cl for cl in ContactList.objects.filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({"lists": _("no list with id %(ids)s") % {"ids": ", ".join(map(str, missing))}})
    return [found[i] for i in ids]


def _resolve_tags(names: Iterable[str] | None) -> list[Tag]:
    tags = []
    for name in dict.fromkeys(n.strip() for n in (names or []) if n and n.strip()):
        tags.append(_get_or_create_tag(name[:64]))
    return tags


def _get_or_create_tag(name: str) -> Tag:
    """get_or_create that survives a concurrent create of the same name (the loser reads the winner's)."""
    from config.hardening import clean_text

    clean_text(name, "tags")
    try:
        with transaction.atomic():
            return Tag.objects.get_or_create(name=name)[0]
    except IntegrityError:
        return Tag.objects.get(name=name)


def create_tag(name: str) -> Tag:
    """A new tag; an existing name (also one created a moment ago by someone else) is a ValidationError."""
    from config.hardening import clean_text

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A tag needs a name.")})
    if len(name) > 64:
        raise ValidationError({"name": _("At most 64 characters.")})
    clean_text(name, "name")
    if Tag.objects.filter(name=name).exists():
        raise ValidationError({"name": _("A tag called '%(name)s' already exists.") % {"name": name}})
    try:
        with transaction.atomic():
            return Tag.objects.create(name=name)
    except IntegrityError:
        raise ValidationError({"name": _("A tag called '%(name)s' already exists.") % {"name": name}}) from None


# --- custom fields ---------------------------------------------------------------------------------

MAX_CHOICES = 200
MAX_CHOICE_LENGTH = 100


def clean_choices(value) -> list[str]:
    """The allowed values of a choice field: a list of distinct, non-empty strings."""
    from config.hardening import bad_text_reason

    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError({"choices": _("must be a list of texts")})
    if len(value) > MAX_CHOICES:
        raise ValidationError({"choices": _("at most %(n)d choices") % {"n": MAX_CHOICES}})
    choices, errors = [], []
    for item in value:
        if not isinstance(item, str):
            errors.append(_("%(value)r is not a text") % {"value": item})
            continue
        text = item.strip()
        reason = bad_text_reason(text)
        if reason:
            errors.append(reason)
        elif not text:
            errors.append(_("a choice cannot be empty"))
        elif len(text) > MAX_CHOICE_LENGTH:
            errors.append(_("'%(start)s…' is longer than %(n)d characters") % {"start": text[:20], "n": MAX_CHOICE_LENGTH})
        elif text.lower() not in (c.lower() for c in choices):
            choices.append(text)
    if errors:
        raise ValidationError({"choices": errors})
    return choices


def _custom_field_key(key: str, label: str) -> str:
    from django.utils.text import slugify

    key = (key or "").strip() or slugify(label or "").replace("-", "_")[:64]
    if not key:
        raise ValidationError(
            {"key": _("Give a key (letters, digits, _): this label has no letters or digits to make one from.")}
        )
    return key


def check_new_custom_field(*, label: str, key: str = "", type: str = CustomField.Type.TEXT, choices=None):
    """(label, key, choices) cleaned for a new field, or a ValidationError by field (forms call it too)."""
    from config.hardening import clean_text

    label = (label or "").strip()
    errors = {}
    if not label:
        errors["label"] = _("A custom field needs a label.")
    try:
        clean_text(label, "label")
        key = _custom_field_key(key, label)
        if CustomField.objects.filter(key=key).exists():
            raise ValidationError({"key": _("The key '%(key)s' is already used by another custom field.") % {"key": key}})
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if type not in CustomField.Type.values:
        errors["type"] = _("Choose one of: %(types)s.") % {"types": ", ".join(CustomField.Type.values)}
    try:
        choices = clean_choices(choices)
        if type == CustomField.Type.CHOICE and not choices:
            raise ValidationError({"choices": _("A choice field needs at least one choice.")})
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return label, key, choices


@transaction.atomic
def create_custom_field(*, label: str, key: str = "", type: str = CustomField.Type.TEXT, choices=None):
    """A new custom field. The key defaults to the label slugged; a taken or empty key is a ValidationError."""
    label, key, choices = check_new_custom_field(label=label, key=key, type=type, choices=choices)
    field = CustomField(key=key, label=label, type=type, choices=choices)
    field.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            field.save()
    except IntegrityError:
        raise ValidationError({"key": _("The key '%(key)s' is already used by another custom field.") % {"key": key}}) from None
    return field


@transaction.atomic
def update_custom_field(field: CustomField, **changes) -> CustomField:
    """Change a custom field's label or choices (its key and type stay: stored values depend on them)."""
    from config.hardening import clean_text

    errors = {}
    for locked in ("key", "type"):
        if locked in changes and changes[locked] != getattr(field, locked):
            errors[locked] = (
                _("The key of an existing custom field cannot change.")
                if locked == "key"
                else _("The type of an existing custom field cannot change.")
            )
    if "label" in changes:
        label = (changes["label"] or "").strip()
        try:
            clean_text(label, "label")
            if not label:
                raise ValidationError({"label": _("A custom field needs a label.")})
            field.label = label
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if "choices" in changes:
        try:
            field.choices = clean_choices(changes["choices"])
            if field.type == CustomField.Type.CHOICE and not field.choices:
                raise ValidationError({"choices": _("A choice field needs at least one choice.")})
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    field.full_clean()
    field.save()
    return field


# --- contacts ------------------------------------------------------------------------------------


@transaction.atomic
def create_contact(data: Mapping[str, Any], *, country: str | None = None, source: str = "manual") -> Contact:
    """Create a contact from plain data (phone in any human format, fields by key, list ids, tag names).

    Validates everything before writing; raises ValidationError with per-field messages.
    `source` (manual, api, inbound…) is recorded on the contact_created event.
    """
    errors: dict[str, list] = {}
    phone = fields = lists = duplicate = None
    try:
        phone = clean_phone(data.get("phone"), country=country)
    except DuplicatePhone as exc:
        duplicate = exc
        errors.update(exc.message_dict)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        fields = clean_custom_fields(data.get("fields"))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        lists = _resolve_lists(data.get("lists"))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if duplicate is not None and list(errors) == ["phone"]:
        raise duplicate
    if errors:
        raise ValidationError(errors)
    contact = Contact(
        phone=phone, fields=fields, **{k: data[k] for k in CONTACT_ATTRS if k in data and data[k] is not None}
    )
    if data.get("opted_out"):
        contact.opted_out = True
        contact.opted_out_at = timezone.now()
        contact.opted_out_reason = data.get("opted_out_reason", "")
    contact.blocked = bool(data.get("blocked", False))
    contact.secondary_phones = clean_secondary_phones(data.get("secondary_phones"), country=country)
    _check_texts(contact)
    contact.full_clean(exclude=["phone", "fields"])
    _save_contact(contact)
    record_events(ContactEvent.Kind.CONTACT_CREATED, [contact.pk], source=source)
    if lists:
        Membership.objects.bulk_create([Membership(contact=contact, contact_list=cl) for cl in lists])
        for cl in lists:
            record_events(ContactEvent.Kind.LIST_ADDED, [contact.pk], source=source, data=_list_data(cl))
    tags = _resolve_tags(data.get("tags"))
    if tags:
        contact.tags.add(*tags)
        for tag in tags:
            record_events(ContactEvent.Kind.TAG_ADDED, [contact.pk], source=source, data=_tag_data(tag))
    return contact


def _list_data(contact_list) -> dict:
    return {"list_id": contact_list.pk, "list": contact_list.name}


def _tag_data(tag) -> dict:
    return {"tag_id": tag.pk, "tag": tag.name}


@transaction.atomic
def update_contact(contact: Contact, data: Mapping[str, Any], *, country: str | None = None) -> Contact:
    """Update the given attributes (only those present in `data`); same validation as create."""
    errors: dict[str, list] = {}
    if "phone" in data:
        try:
            contact.phone = clean_phone(data["phone"], country=country, exclude_pk=contact.pk)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if "fields" in data:
        try:
            merged = {**contact.fields, **clean_custom_fields(data["fields"])}
            contact.fields = {k: v for k, v in merged.items() if v is not None}
        except ValidationError as exc:
            errors.update(exc.message_dict)
    lists = None
    if "lists" in data:
        try:
            lists = _resolve_lists(data["lists"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    for key in CONTACT_ATTRS:
        if key in data:
            setattr(
                contact, key, data[key] if data[key] is not None else ("" if key != "birth_date" else None)
            )
    if "blocked" in data:
        contact.blocked = bool(data["blocked"])
    if "opted_out" in data:
        _set_opt_out(contact, bool(data["opted_out"]), data.get("opted_out_reason", ""))
    if "secondary_phones" in data:
        contact.secondary_phones = clean_secondary_phones(data["secondary_phones"], country=country)
    _check_texts(contact)
    contact.full_clean(exclude=["phone", "fields"])
    _save_contact(contact)
    if lists is not None:
        set_contact_lists(contact, lists)
    if "tags" in data:
        tags = _resolve_tags(data["tags"])
        had = set(contact.tags.values_list("pk", flat=True))
        contact.tags.set(tags)
        for tag in tags:
            if tag.pk not in had:
                record_events(ContactEvent.Kind.TAG_ADDED, [contact.pk], source="manual", data=_tag_data(tag))
    return contact


def _save_contact(contact: Contact) -> None:
    """Save; a phone taken a moment ago by a concurrent request is a ValidationError, not a 500."""
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        other = Contact.objects.filter(phone=contact.phone).exclude(pk=contact.pk).first()
        if other is not None:
            raise DuplicatePhone("phone", contact.phone, other) from None
        raise ValidationError(
            {"phone": _("%(phone)s was just saved by someone else; try again.") % {"phone": contact.phone}}
        ) from None


def _set_opt_out(contact: Contact, opted_out: bool, reason: str = "") -> None:
    if opted_out and not contact.opted_out:
        contact.opted_out, contact.opted_out_at, contact.opted_out_reason = True, timezone.now(), reason[:255]
    elif not opted_out and contact.opted_out:
        contact.opted_out, contact.opted_out_at, contact.opted_out_reason = False, None, ""


def set_contact_lists(contact: Contact, lists: Iterable[ContactList]) -> None:
    lists = list(lists)
    wanted = {cl.pk for cl in lists}
    current = set(contact.memberships.values_list("contact_list_id", flat=True))
    Membership.objects.filter(contact=contact, contact_list_id__in=current - wanted).delete()
    Membership.objects.bulk_create(
        [Membership(contact=contact, contact_list_id=pk) for pk in wanted - current], ignore_conflicts=True
    )
    for cl in lists:
        if cl.pk not in current:
            record_events(ContactEvent.Kind.LIST_ADDED, [contact.pk], source="manual", data=_list_data(cl))
    for cl in ContactList.objects.filter(pk__in=current - wanted):
        record_events(ContactEvent.Kind.LIST_REMOVED, [contact.pk], source="manual", data=_list_data(cl))


def opt_out_contacts(contacts: QuerySet[Contact], reason: str = "") -> int:
    """Mark contacts opted out now (those already opted out keep their original date and reason)."""
    return contacts.filter(opted_out=False).update(
        opted_out=True, opted_out_at=timezone.now(), opted_out_reason=reason[:255], updated_at=timezone.now()
    )


def opt_in_contacts(contacts: QuerySet[Contact]) -> int:
    return contacts.filter(opted_out=True).update(
        opted_out=False, opted_out_at=None, opted_out_reason="", updated_at=timezone.now()
    )


def set_blocked(contacts: QuerySet[Contact], blocked: bool) -> int:
    return contacts.exclude(blocked=blocked).update(blocked=blocked, updated_at=timezone.now())


def delete_contacts(contacts: QuerySet[Contact]) -> int:
    """Soft-delete: the contacts disappear everywhere but can be restored from the admin."""
    return contacts.filter(deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )


@transaction.atomic
def restore_contacts(contacts: QuerySet[Contact]) -> tuple[int, list[str]]:
    """Undo soft-deletes. A contact whose phone now belongs to a live contact stays deleted.

    Returns (restored count, messages about the ones that could not be restored).
    """
    problems, restored = [], 0
    for contact in contacts.filter(deleted_at__isnull=False).order_by("pk"):
        other = Contact.objects.filter(phone=contact.phone).first()
        if other is not None:
            problems.append(
                _("%(phone)s is now used by %(other)s; #%(id)s stays deleted.")
                % {"phone": contact.phone, "other": other.display_name, "id": contact.pk}
            )
            continue
        Contact.all_objects.filter(pk=contact.pk).update(deleted_at=None, updated_at=timezone.now())
        restored += 1
    return restored, problems


@transaction.atomic
def tag_contacts(contacts: QuerySet[Contact], tag_names: Iterable[str], *, source: str = "manual") -> int:
    """Add tags to contacts; a tag_added event is recorded for each contact that did not have it."""
    tags = _resolve_tags(tag_names)
    through = Contact.tags.through
    ids = list(contacts.values_list("pk", flat=True))
    for tag in tags:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            had = set(
                through.objects.filter(tag=tag, contact_id__in=chunk).values_list("contact_id", flat=True)
            )
            new = [cid for cid in chunk if cid not in had]
            through.objects.bulk_create(
                [through(contact_id=cid, tag_id=tag.pk) for cid in new], ignore_conflicts=True
            )
            record_events(ContactEvent.Kind.TAG_ADDED, new, source=source, data=_tag_data(tag))
    return len(ids)


def untag_contacts(contacts: QuerySet[Contact], tag_names: Iterable[str]) -> int:
    through = Contact.tags.through
    deleted, _by_model = through.objects.filter(
        contact_id__in=contacts.values("pk"), tag__name__in=list(tag_names)
    ).delete()
    return deleted


# --- lists -----------------------------------------------------------------------------------------


def create_list(name: str, description: str = "", *, user=None) -> ContactList:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A list needs a name.")})
    if ContactList.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("A list called '%(name)s' already exists.") % {"name": name}})
    return ContactList.objects.create(name=name, description=description, created_by=user)


@transaction.atomic
def add_to_list(
    contact_list: ContactList, contacts: QuerySet[Contact] | Iterable[int], *, source: str = "manual"
) -> int:
    """Add contacts (a queryset or ids) to a list; already-members are left as they are. Returns how many were new.

    A list_added event is recorded for each new member (in bulk, one statement per 5,000).
    """
    ids = list(dict.fromkeys(_contact_ids(contacts)))
    added = 0
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        had = set(
            Membership.objects.filter(contact_list=contact_list, contact_id__in=chunk).values_list(
                "contact_id", flat=True
            )
        )
        new = [cid for cid in chunk if cid not in had]
        Membership.objects.bulk_create(
            [Membership(contact_id=cid, contact_list=contact_list) for cid in new], ignore_conflicts=True
        )
        record_events(ContactEvent.Kind.LIST_ADDED, new, source=source, data=_list_data(contact_list))
        added += len(new)
    return added


@transaction.atomic
def remove_from_list(
    contact_list: ContactList, contacts: QuerySet[Contact] | Iterable[int], *, source: str = "manual"
) -> int:
    """Remove contacts from a list; a list_removed event is recorded for each one that was a member."""
    ids = _contact_ids(contacts)
    members = Membership.objects.filter(contact_list=contact_list, contact_id__in=ids)
    removed = list(members.values_list("contact_id", flat=True))
    deleted, _by_model = members.delete()
    record_events(ContactEvent.Kind.LIST_REMOVED, removed, source=source, data=_list_data(contact_list))
    return deleted


def _contact_ids(contacts) -> list[int]:
    if isinstance(contacts, QuerySet):
        return list(contacts.values_list("pk", flat=True))
    from config.hardening import MAX_ID

    ids = []
    for value in contacts:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise ValidationError({"contacts": _("'%(value)s' is not a contact id") % {"value": value}}) from None
    out_of_range = [i for i in ids if not 1 <= i <= MAX_ID]
    if out_of_range:
        raise ValidationError({"contacts": _("no contact with id %(ids)s") % {"ids": ", ".join(map(str, out_of_range[:20]))}})
    found = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(
            {"contacts": _("no contact with id %(ids)s") % {"ids": ", ".join(map(str, missing[:20]))}}
        )
    return ids


# --- search ----------------------------------------------------------------------------------------


def search_contacts(queryset: QuerySet[Contact], term: str) -> QuerySet[Contact]:
    """Name, email or phone in any format the user types ("333 123", "+39 333", "rossi")."""
    from django.db.models import Q

    term = (term or "").strip()
    if not term:
        return queryset
    condition = Q()
    digits = search_digits(term)
    letters = any(ch.isalpha() for ch in term)
    if digits and not letters:
        for fragment in digits:
            condition |= Q(phone__contains=fragment)
    if letters or not digits:
        words = term.split()
        if "@" in term:
            condition |= Q(email__icontains=term)
        name_q = Q()
        for word in words:
            name_q &= (
                Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(company__icontains=word)
            )
        condition |= name_q
        if len(words) == 1 and "@" not in term:
            condition |= Q(email__istartswith=term)
    return queryset.filter(condition)


def filter_by_custom_field(queryset: QuerySet[Contact], expression: str) -> QuerySet[Contact]:
    """Contacts whose custom field matches "key:value" (the value typed as the field's type).

    Raises ValidationError saying what is wrong (no colon, unknown key, a value of the wrong
    type). On PostgreSQL the match is a JSON containment, which the GIN index on `fields` serves;
    SQLite has no containment lookup, so it compares the key's value.
    """
    from django.db import connections

    key, sep, wanted = (expression or "").partition(":")
    key = key.strip()
    if not sep or not key:
        raise ValidationError(_("Use key:value, e.g. tier:gold"))
    definition = CustomField.objects.filter(key=key).first()
    if definition is None:
        known = ", ".join(CustomField.objects.values_list("key", flat=True)) or _("none defined yet")
        raise ValidationError(_("unknown custom field '%(key)s' (known: %(known)s)") % {"key": key, "known": known})
    value = definition.clean_value(wanted.strip())
    if connections[queryset.db].vendor == "postgresql":
        return queryset.filter(fields__contains={key: value})
    return queryset.filter(**{f"fields__{key}": value})

"""Conditions as queryset filters, checked for a whole batch of contacts in one query each."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.db.models.fields.json import KT
from django.utils.translation import gettext as _

from contacts.models import Contact, CustomField, Membership

from .schema import CONTACT_ATTRS


def condition_q(cond: dict) -> Q:
    """The Q a contact must satisfy for `cond` (already cleaned by schema.clean_conditions)."""
    kind = cond["type"]
    if kind == "in_list":
        return Q(pk__in=Membership.objects.filter(contact_list_id=cond["list"]).values("contact_id"))
    if kind == "not_in_list":
        return ~Q(pk__in=Membership.objects.filter(contact_list_id=cond["list"]).values("contact_id"))
    if kind == "has_tag":
        return Q(pk__in=Contact.tags.through.objects.filter(tag__name=cond["tag"]).values("contact_id"))
    if kind == "not_has_tag":
        return ~Q(pk__in=Contact.tags.through.objects.filter(tag__name=cond["tag"]).values("contact_id"))
    if kind == "language":
        return Q(language__iexact=cond["value"])
    if kind == "country":
        return Q(country__iexact=cond["value"])
    if kind == "not_opted_out":
        return Q(opted_out=False)
    return _field_q(cond)


def _field_q(cond: dict) -> Q:
    key, op, value = cond["field"], cond["op"], cond.get("value")
    if key in CONTACT_ATTRS:
        if op == "empty":
            return Q(**{key: ""})
        if op == "not_empty":
            return ~Q(**{key: ""})
        if op == "equals":
            return Q(**{f"{key}__iexact": value})
        if op == "contains":
            return Q(**{f"{key}__icontains": value})
        return Q(**{f"{key}__{'gt' if op == 'greater' else 'lt'}": str(value)})
    if op == "empty":
        return Q(**{f"fields__{key}__isnull": True}) | Q(**{f"fields__{key}": ""})
    if op == "not_empty":
        return Q(**{f"fields__{key}__isnull": False}) & ~Q(**{f"fields__{key}": ""})
    if op in ("greater", "less"):
        # JSON numbers compare as numbers on both PostgreSQL (jsonb) and SQLite (json_extract).
        return Q(**{f"fields__{key}__{'gt' if op == 'greater' else 'lt'}": value})
    definition = CustomField.objects.filter(key=key).first()
    if op == "contains":
        return (
            Q(**{f"fields__{key}__icontains": value})
            if definition is None
            else _kt_filter(key, "icontains", value)
        )
    if definition is not None and definition.type in (CustomField.Type.NUMBER, CustomField.Type.BOOLEAN):
        try:
            return Q(**{f"fields__{key}": definition.clean_value(value)})
        except Exception:
            return Q(pk__in=[])
    return _kt_filter(key, "iexact", value)


def _kt_filter(key: str, lookup: str, value) -> Q:
    return Q(
        pk__in=Contact.objects.annotate(_v=KT(f"fields__{key}"))
        .filter(**{f"_v__{lookup}": value})
        .values("pk")
    )


def describe(cond: dict) -> str:
    """One line a non-technical person reads on the run timeline."""
    kind = cond["type"]
    labels = {
        "in_list": _("in list %(list)s"),
        "not_in_list": _("not in list %(list)s"),
        "has_tag": _("has tag %(tag)s"),
        "not_has_tag": _("has not tag %(tag)s"),
        "language": _("language is %(value)s"),
        "country": _("country is %(value)s"),
        "not_opted_out": _("not opted out"),
        "field": _("%(field)s %(op)s %(value)s"),
    }
    return labels[kind] % {"value": "", **cond}


def check_conditions(conditions: list[dict], contact_ids: list[int]) -> dict[int, list[dict]]:
    """For each contact: [{condition, ok}]; ONE query for the whole batch and every condition.

    Each condition is a boolean column computed by the database for every contact of the batch
    (the same SQL as a filter, so NULL — e.g. a missing custom field — counts as not met).
    """
    labels = [describe(cond) for cond in conditions]
    if not labels:
        return {cid: [] for cid in contact_ids}
    columns = {f"c{i}": ExpressionWrapper(condition_q(cond), output_field=BooleanField())
               for i, cond in enumerate(conditions)}  # fmt: skip
    flags = {
        pk: values
        for pk, *values in Contact.objects.filter(pk__in=contact_ids).annotate(**columns).values_list("pk", *columns)
    }
    missing = [False] * len(labels)
    return {
        cid: [{"condition": label, "ok": bool(ok)} for label, ok in zip(labels, flags.get(cid, missing), strict=True)]
        for cid in contact_ids
    }


def matching_q(conditions: list[dict]) -> Q:
    q = Q()
    for cond in conditions:
        q &= condition_q(cond)
    return q

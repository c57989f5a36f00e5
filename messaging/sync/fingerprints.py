"""Comparable states of contacts and lists, and their fingerprints.

A *state* is a plain dict of the fields one provider account keeps
(Provider.contact_fields), normalised so that a local record and its remote twin
holding the same data give the same dict: phone in E.164, strings stripped, dates
in ISO, custom fields by key, tags sorted. Fields the provider does not keep are
not in the state, so they are never compared, written or blanked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from contacts.phones import PhoneError, normalize_phone
from messaging.providers.base import RemoteContact, RemoteList

TEXT_FIELDS = (
    "first_name", "last_name", "email", "language", "gender", "company", "address", "city",
    "province", "postal_code", "country", "notes",
)  # fmt: skip
BOOL_FIELDS = ("opted_out", "blocked")
# Fields the remote may leave unset (None): "the provider does not say", never "false".
OPTIONAL_REMOTE = frozenset(BOOL_FIELDS)


def fingerprint(state: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()  # noqa: S324


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _date(value) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return _text(value)


def _custom(values: dict | None, keys: Iterable[str]) -> dict[str, Any]:
    values = values or {}
    out = {}
    for key in keys:
        value = values.get(key)
        if value is None or value == "":
            continue
        out[key] = value if isinstance(value, bool | int | float) else str(value).strip()
    return out


def contact_state(contact, fields: frozenset[str], custom_keys: Iterable[str], tags: list[str] | None = None):
    """The comparable state of a local Contact for a provider keeping `fields`."""
    state: dict[str, Any] = {}
    if "phone" in fields:
        state["phone"] = contact.phone
    for name in TEXT_FIELDS:
        if name in fields:
            value = _text(getattr(contact, name))
            state[name] = value.lower() if name in ("email", "country", "language") else value
            if name == "country":
                state[name] = value.upper()
    if "birth_date" in fields:
        state["birth_date"] = _date(contact.birth_date)
    if "custom_fields" in fields:
        state["custom_fields"] = _custom(contact.fields, custom_keys)
    if "tags" in fields:
        state["tags"] = sorted(tags or [])
    for name in BOOL_FIELDS:
        if name in fields:
            state[name] = bool(getattr(contact, name))
    return state


def remote_contact_state(remote: RemoteContact, fields: frozenset[str], custom_keys: Iterable[str]):
    """The comparable state of a remote contact; None marks a field the provider did not say."""
    state: dict[str, Any] = {}
    if "phone" in fields:
        state["phone"] = normalise_remote_phone(remote.phone)
    for name in TEXT_FIELDS:
        if name in fields:
            value = _text(getattr(remote, name))
            state[name] = value.lower() if name in ("email", "language") else value
            if name == "country":
                state[name] = value.upper()
    if "birth_date" in fields:
        state["birth_date"] = _date(remote.birth_date)
    if "custom_fields" in fields:
        state["custom_fields"] = _custom(remote.custom_fields, custom_keys)
    if "tags" in fields:
        state["tags"] = sorted(t.strip() for t in remote.tags if t and t.strip())
    for name in BOOL_FIELDS:
        if name in fields:
            value = getattr(remote, name)
            state[name] = None if value is None else bool(value)
    return state


def normalise_remote_phone(phone: str) -> str:
    """E.164 for a provider's phone ('39333…', '+39 333…', '0039…'); '' when unusable."""
    text = _text(phone)
    if not text:
        return ""
    candidates = [text]
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and digits:
        # Providers often drop the plus; try the number as international first.
        candidates = ["+" + digits.removeprefix("00"), text]
    for candidate in candidates:
        try:
            return normalize_phone(candidate)
        except PhoneError:
            continue
    return ""


def same(local: dict[str, Any], remote: dict[str, Any]) -> bool:
    """True when every field the remote states equals the local value."""
    return all(value is None or local.get(key) == value for key, value in remote.items())


def differing_fields(local: dict[str, Any], remote: dict[str, Any]) -> list[str]:
    return sorted(k for k, v in remote.items() if v is not None and local.get(k) != v)


def blank(value) -> bool:
    return value in (None, "", [], {}, False)


def list_state(contact_list) -> dict[str, Any]:
    return {"name": _text(contact_list.name), "description": _text(contact_list.description)}


def remote_list_state(remote: RemoteList) -> dict[str, Any]:
    return {"name": _text(remote.name), "description": _text(remote.description)}

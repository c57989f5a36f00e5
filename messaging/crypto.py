"""Encryption at rest for provider secrets (Fernet, with key rotation through MultiFernet).

FIELD_ENCRYPTION_KEY holds one or more Fernet keys, newest first. New values
are encrypted with the first; any listed key decrypts, so rotating is:
prepend a new key, run `manage.py rotate_secrets`, then drop the old key.
Development falls back to a key derived from SECRET_KEY; production settings
refuse to start without FIELD_ENCRYPTION_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key that is no longer configured."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + secret_key).encode()).digest())
        keys = (derived.decode(),)
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = [k for k in keys.split(",") if k]
    return _fernet(tuple(keys), settings.SECRET_KEY)


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY."
        ) from None


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


class UnreadableSecrets(dict):
    """Stands for credentials no configured key decrypts: empty, and it keeps the stored token.

    Loading a row never fails because of a rotated or wrong FIELD_ENCRYPTION_KEY (the dashboard,
    the account page and the HTTP log keep working); the account says its credentials need
    re-entering, and using them raises SecretUnreadable. Saving the row unchanged writes the
    original token back, so a key that was only misconfigured loses nothing.
    """

    unreadable = True

    def __init__(self, token: str):
        super().__init__()
        self.token = token


class UnreadableText(str):
    """The same for a single encrypted string (the webhook secret): "" that remembers its token."""

    unreadable = True
    token = ""

    def __new__(cls, token: str):
        obj = super().__new__(cls, "")
        obj.token = token
        return obj


def is_unreadable(value) -> bool:
    return bool(getattr(value, "unreadable", False))


def _load_json(token: str):
    try:
        return json.loads(decrypt(token))
    except (SecretUnreadable, ValueError):
        return UnreadableSecrets(token)


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token. Never rendered back in forms or the API."""

    description = "Encrypted JSON"

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {}
        return _load_json(value)

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        return _load_json(value)

    def get_prep_value(self, value):
        if isinstance(value, UnreadableSecrets):
            return value.token
        if value in (None, "", {}):
            return ""
        return encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj):  # dumpdata must not leak secrets in clear
        return self.get_prep_value(self.value_from_object(obj))


class EncryptedTextField(models.TextField):
    """A string stored as a Fernet token."""

    description = "Encrypted text"

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return ""
        try:
            return decrypt(value)
        except SecretUnreadable:
            return UnreadableText(value)

    def to_python(self, value):
        return value or ""

    def get_prep_value(self, value):
        if isinstance(value, UnreadableText):
            return value.token
        if not value:
            return ""
        return encrypt(str(value))

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))

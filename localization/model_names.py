"""Model and field names Django makes up (class Contact → "contact", first_name → "first name").

Django derives them as plain English strings, which no catalogue can translate. As each model class
is prepared we swap every derived name (and every plain-string name, help text or choice label a
model declares) for a lazy translation of the same text. Migrations are unaffected: they read the
names as declared (Field._verbose_name, Meta.original_attrs). Declared names should still use
gettext_lazy; this is the net for what nobody declares.

The derived names are listed in localization/derived_names.py so that makemessages finds them;
`manage.py list_derived_names --write` rewrites it, and a test fails when it is out of date.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models.signals import class_prepared
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

_derived: set[str] = set()


def _ours(model) -> bool:
    module = getattr(model, "__module__", "")
    top = module.split(".")[0]
    return (Path(settings.BASE_DIR) / top).is_dir() and top not in ("tests",)


def _lazy(text, derived: bool = False):
    if isinstance(text, str) and text and not isinstance(text, Promise):
        if derived:
            _derived.add(text)
        return gettext_lazy(text)
    return text


def translate_model(sender, **kwargs) -> None:
    if not _ours(sender):
        return
    meta = sender._meta
    given = meta.original_attrs
    meta.verbose_name = _lazy(meta.verbose_name, derived="verbose_name" not in given)
    if "verbose_name_plural" in given:
        meta.verbose_name_plural = _lazy(meta.verbose_name_plural)
    else:
        with translation.override(None):  # the English plural Django derived ("contact" + "s")
            plural = str(meta.verbose_name_plural)
        meta.verbose_name_plural = _lazy(plural, derived=True)
    for field in meta.local_fields + meta.local_many_to_many:
        if getattr(field, "auto_created", False):
            continue
        field.verbose_name = _lazy(field.verbose_name, derived=field._verbose_name is None)
        field.help_text = _lazy(field.help_text)


def derived_names() -> list[str]:
    """The names Django derived for our models (after the app registry is ready)."""
    return sorted(_derived)


def connect() -> None:
    class_prepared.connect(translate_model, dispatch_uid="localization-model-names")

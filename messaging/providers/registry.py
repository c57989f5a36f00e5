"""The provider registry, built from settings.SWITCHBOARD_PROVIDERS (dotted paths)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import Provider


@lru_cache(maxsize=1)
def get_registry() -> dict[str, type[Provider]]:
    registry: dict[str, type[Provider]] = {}
    for path in settings.SWITCHBOARD_PROVIDERS:
        cls = import_string(path)
        if not (isinstance(cls, type) and issubclass(cls, Provider)) or not cls.slug:
            raise ImproperlyConfigured(f"{path} is not a Provider subclass with a slug.")
        if cls.slug in registry:
            raise ImproperlyConfigured(
                f"Two providers use the slug {cls.slug!r}: {registry[cls.slug].__module__} and {path}."
            )
        registry[cls.slug] = cls
    return registry


def get_provider_class(slug: str) -> type[Provider]:
    try:
        return get_registry()[slug]
    except KeyError:
        raise ImproperlyConfigured(f"No provider {slug!r} is installed (SWITCHBOARD_PROVIDERS).") from None


def provider_choices() -> list[tuple[str, str]]:
    return [(slug, cls.display_name) for slug, cls in get_registry().items()]


@receiver(setting_changed)
def _reset(setting, **kwargs):
    if setting == "SWITCHBOARD_PROVIDERS":
        get_registry.cache_clear()

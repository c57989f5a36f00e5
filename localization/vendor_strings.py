"""Strings Django or django-unfold show staff that their Italian catalogues lack (newer wording).

Listed so makemessages keeps them in locale/it; never imported.
"""

from django.utils.translation import gettext_noop

VENDOR_STRINGS = [
    gettext_noop("Raw passwords are not stored, so there is no way to see the user’s password."),  # noqa: RUF001
]

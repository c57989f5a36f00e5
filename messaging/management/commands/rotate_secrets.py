"""manage.py rotate_secrets: re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import ngettext

from messaging.crypto import rotate
from messaging.models import ProviderAccount

# Encrypted columns, read raw (as stored tokens) so nothing is decrypted into memory needlessly.
ENCRYPTED_COLUMNS = ("credentials", "webhook_secret")


class Command(BaseCommand):
    help = (
        "Re-encrypt provider secrets with the newest key. Rotation: prepend a new key to "
        "FIELD_ENCRYPTION_KEY, run this, then drop the old key."
    )

    def handle(self, *args, **options):
        rotated = 0
        failed = []
        with transaction.atomic():
            # Only ids and names through the ORM: the encrypted columns are read and written as raw
            # tokens, so one account with an unreadable secret cannot stop the others.
            accounts = list(ProviderAccount.objects.select_for_update().values_list("pk", "name"))
            for pk, name in accounts:
                raw = self._raw_tokens(pk)
                changes = {}
                for column, token in raw.items():
                    if not token:
                        continue
                    try:
                        changes[column] = rotate(token)
                    except InvalidToken:  # no configured key opens it
                        failed.append(name)
                        break
                else:
                    if changes:
                        self._write_raw(pk, changes)
                        rotated += 1
        if failed:
            raise CommandError(
                ngettext(
                    "%(count)d account could not be decrypted with any configured key: %(names)s. "
                    "Nothing was changed for it.",
                    "%(count)d accounts could not be decrypted with any configured key: %(names)s. "
                    "Nothing was changed for them.",
                    len(failed),
                )
                % {"count": len(failed), "names": ", ".join(failed)}
            )
        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "Re-encrypted the secrets of %(count)d account.", "Re-encrypted the secrets of %(count)d accounts.", rotated
                )
                % {"count": rotated}
            )
        )

    @staticmethod
    def _raw_tokens(pk) -> dict[str, str]:
        from django.db import connection

        table = ProviderAccount._meta.db_table
        columns = ", ".join(connection.ops.quote_name(c) for c in ENCRYPTED_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {connection.ops.quote_name(table)} WHERE id = %s", [pk])  # noqa: S608
            row = cursor.fetchone()
        return dict(zip(ENCRYPTED_COLUMNS, row, strict=True))

    @staticmethod
    def _write_raw(pk, changes: dict[str, str]) -> None:
        # A queryset update() would encrypt again through get_prep_value; write the tokens as they are.
        from django.db import connection

        table = connection.ops.quote_name(ProviderAccount._meta.db_table)
        sets = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in changes)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*changes.values(), pk])  # noqa: S608

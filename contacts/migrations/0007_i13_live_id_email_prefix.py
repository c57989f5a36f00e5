"""Two indexes back that 0005 dropped, measured at 1 M contacts on a quiet machine (bench/RESULTS.md).

- contact_live_id (id DESC WHERE deleted_at IS NULL): the primary key serves "newest first" but
  not as an *index-only* scan, because deleted_at lives in the heap. The list filter's bounded
  count (`… JOIN membership … LIMIT 10001`) then merge-joined 155,000 contacts through the heap
  (66 ms); with this index it probes 10,000 live ids index-only (26 ms). New contacts are appended
  at its right edge: the cheapest insertion an import can make.
- contact_email_upper (UPPER(email) text_pattern_ops): the search's "e-mail starts with" arm
  through the trigram index cost 25 ms of the surname search's count at 1 M; a prefix b-tree
  answers it in well under a millisecond.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS contact_live_id ON contacts_contact (id DESC) WHERE deleted_at IS NULL"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS contact_email_upper ON contacts_contact (UPPER(email) text_pattern_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS contact_live_id")
    schema_editor.execute("DROP INDEX IF EXISTS contact_email_upper")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_merge_0004_i12_contact_events_0005_i13_fewer_indexes")]

    operations = [migrations.RunPython(create, drop)]

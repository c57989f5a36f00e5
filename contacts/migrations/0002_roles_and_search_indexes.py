"""Create the staff roles, and the PostgreSQL indexes that keep search fast at a million contacts.

Trigram (pg_trgm) GIN indexes serve Django's icontains (UPPER(col) LIKE UPPER('%…%')) on
names and phone fragments (phone LIKE '%…%'). SQLite has no such indexes; it is the embedded
default for small books, so these statements only run on PostgreSQL.
"""

from django.db import migrations

PG_INDEXES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS contact_phone_trgm ON contacts_contact USING gin (phone gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS contact_first_trgm ON contacts_contact USING gin (UPPER(first_name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS contact_last_trgm ON contacts_contact USING gin (UPPER(last_name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS contact_company_trgm ON contacts_contact USING gin (UPPER(company) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS contact_email_upper ON contacts_contact (UPPER(email) text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS contact_email_trgm ON contacts_contact USING gin (UPPER(email) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS contact_fields_gin ON contacts_contact USING gin (fields jsonb_path_ops)",
    "CREATE INDEX IF NOT EXISTS contact_live_id ON contacts_contact (id DESC) WHERE deleted_at IS NULL",
]
PG_DROP = [
    "DROP INDEX IF EXISTS contact_phone_trgm", "DROP INDEX IF EXISTS contact_first_trgm",
    "DROP INDEX IF EXISTS contact_last_trgm", "DROP INDEX IF EXISTS contact_company_trgm",
    "DROP INDEX IF EXISTS contact_email_upper", "DROP INDEX IF EXISTS contact_email_trgm",
    "DROP INDEX IF EXISTS contact_fields_gin", "DROP INDEX IF EXISTS contact_live_id",
]  # fmt: skip


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ("Viewer", "Editor", "Manager"):
        Group.objects.using(schema_editor.connection.alias).get_or_create(name=name)
    # Permissions are granted by contacts.roles.sync_role_permissions after every migrate.


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in PG_INDEXES:
        schema_editor.execute(statement)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in PG_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(add_indexes, drop_indexes),
    ]

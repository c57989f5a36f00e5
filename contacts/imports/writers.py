"""Writing side of an import: batches of Rows into contacts, list memberships and tags.

`Writer` works on any database through the ORM; `PostgresWriter` COPYs and upserts.
"""

from __future__ import annotations

import json

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.events import copy_imported, listened_kinds, record_imported
from contacts.models import Contact, ContactList, Membership, Tag

from .rows import TEXT_ATTRS, Options, Row


def contact_changes(contact, row: Row, mode: str) -> dict:
    """What `mode` would change on an existing contact for this row ({} when nothing)."""
    if mode == "skip":
        return {}
    changes = {}
    for key, new in row.attrs.items():
        if new in ("", None):
            continue
        old = getattr(contact, key)
        if mode == "fill" and old not in ("", None):
            continue
        if old != new:
            changes[key] = new
    if row.fields:
        current = contact.fields if isinstance(contact.fields, dict) else {}
        merged = {**row.fields, **current} if mode == "fill" else {**current, **row.fields}
        if merged != current:
            changes["fields"] = merged
    stored = contact.secondary_phones  # never trust stored data to be a list of texts (issue 8)
    current = [p for p in stored if isinstance(p, str)] if isinstance(stored, list) else []
    extra = [p for p in row.secondary if p not in current and p != contact.phone]
    if extra:
        changes["secondary_phones"] = current + extra
    return changes


class Writer:
    """Writes batches with the ORM (any database)."""

    def __init__(self, options: Options):
        self.options = options
        self.list_id = options.list_id
        tags = _tags(options.tags)
        self.tag_ids = [t.pk for t in tags]
        self.tag_names = {t.pk: t.name for t in tags}  # for tag_added events' data
        self._tag_cache: dict[str, int] = {}
        self.list_data = {}
        if self.list_id:
            name = ContactList.objects.filter(pk=self.list_id).values_list("name", flat=True).first()
            self.list_data = {"list_id": self.list_id, "list": name}
        self.kinds = listened_kinds()

    def _record(self, kind: str, contact_ids, data=None) -> None:
        """ContactEvent rows (contacts.events) for what this batch did, inside its transaction;
        only kinds some consumer listens for (asked once per batch)."""
        if contact_ids:
            record_imported(kind, contact_ids, data=data, kinds=self.kinds)

    def _record_tags(self, pairs) -> None:
        """tag_added for new (contact id, tag id) links: one statement per tag."""
        if "tag_added" not in self.kinds:
            return
        by_tag: dict[int, list[int]] = {}
        for cid, tid in pairs:
            by_tag.setdefault(tid, []).append(cid)
        for tid, ids in by_tag.items():
            self._record("tag_added", ids, self.tag_data(tid))

    def tag_data(self, tag_id: int) -> dict:
        return {"tag_id": tag_id, "tag": self.tag_names.get(tag_id)}

    def write(
        self, rows: list[Row], mode: str, copy_data: bytes | None = None, *, existing: bool = False
    ) -> tuple[int, int, int]:
        """Upsert rows (distinct phones); returns (created, updated, unchanged). copy_data: PostgreSQL
        only; existing: the rows' phones are known to be in the book already (merges of duplicates)."""
        if not rows:
            return 0, 0, 0
        self.kinds = listened_kinds()
        existing = {
            c.phone: c
            for c in Contact.objects.filter(phone__in=[r.phone for r in rows]).only(
                "id", "phone", "secondary_phones", "fields", "birth_date", *TEXT_ATTRS
            )
        }
        new, changed, unchanged, ids = [], [], 0, {}
        changed_fields = set()
        for row in rows:
            contact = existing.get(row.phone)
            if contact is None:
                new.append(
                    Contact(phone=row.phone, secondary_phones=row.secondary, fields=row.fields, **row.attrs)
                )
                continue
            ids[row.phone] = contact.pk
            changes = contact_changes(contact, row, mode)
            if changes:
                for key, value in changes.items():
                    setattr(contact, key, value)
                changed_fields.update(changes)
                changed.append(contact)
            else:
                unchanged += 1
        if new:
            Contact.objects.bulk_create(new, batch_size=500)
            for c in new:
                ids[c.phone] = c.pk
            if any(c.pk is None for c in new):  # backends without RETURNING
                ids.update(
                    Contact.objects.filter(phone__in=[c.phone for c in new]).values_list("phone", "pk")
                )
            self._record("contact_created", [ids[c.phone] for c in new])
        if changed:
            now = timezone.now()
            for c in changed:
                c.updated_at = now
            Contact.objects.bulk_update(changed, [*sorted(changed_fields), "updated_at"], batch_size=500)
        self.link(rows, ids)
        return len(new), len(changed), unchanged

    def link(self, rows: list[Row], ids: dict[str, int]) -> None:
        """List membership and tags for every row of the batch, in bulk; existing links are kept."""
        contact_ids = [ids[r.phone] for r in rows if r.phone in ids]
        if self.list_id:
            had = Membership.objects.filter(contact_list_id=self.list_id, contact_id__in=contact_ids)
            had = set(had.values_list("contact_id", flat=True))
            self._record("list_added", [c for c in contact_ids if c not in had], self.list_data)
            Membership.objects.bulk_create(
                [Membership(contact_id=cid, contact_list_id=self.list_id) for cid in contact_ids],
                ignore_conflicts=True,
                batch_size=2000,
            )
        through = Contact.tags.through
        links = [through(contact_id=cid, tag_id=tid) for cid in contact_ids for tid in self.tag_ids]
        for r in rows:
            if r.tags and r.phone in ids:
                links.extend(through(contact_id=ids[r.phone], tag_id=self.tag_id(t)) for t in r.tags)
        if links:
            pairs = {(link.contact_id, link.tag_id) for link in links}
            had = set(
                through.objects.filter(
                    contact_id__in={c for c, _ in pairs}, tag_id__in={t for _, t in pairs}
                ).values_list("contact_id", "tag_id")
            )
            through.objects.bulk_create(links, ignore_conflicts=True, batch_size=2000)
            self._record_tags(sorted(pairs - had))

    def forget_tags(self) -> None:
        """After a rolled-back batch: tags it created are gone with it."""
        self._tag_cache.clear()

    def tag_id(self, name: str) -> int:
        if name not in self._tag_cache:
            tag = Tag.objects.get_or_create(name=name)[0]
            self._tag_cache[name] = tag.pk
            self.tag_names[tag.pk] = tag.name
        return self._tag_cache[name]


def _tags(names) -> list[Tag]:
    out = []
    for name in dict.fromkeys(n.strip()[:64] for n in names or [] if n and n.strip()):
        out.append(Tag.objects.get_or_create(name=name)[0])
    return out


class PostgresWriter(Writer):
    """Per batch: a plain COPY when none of its phones exist yet, else COPY into a temporary
    table and one INSERT … ON CONFLICT (psycopg 3)."""

    TEMP = "sb_import_batch"
    last_copied = False  # the previous batch went in by plain COPY

    def __init__(self, options: Options):
        super().__init__(options)
        meta = Contact._meta
        self.table = connection.ops.quote_name(meta.db_table)
        self.loaded = ["phone", *TEXT_ATTRS, "birth_date", "fields", "secondary_phones"]
        # Columns the import does not set get their model default, so a column added later
        # to Contact does not break the upsert.
        now_cols = {"created_at", "updated_at"}
        self.extra = []
        for f in meta.concrete_fields:
            if f.primary_key or f.column in self.loaded or f.column in now_cols:
                continue
            self.extra.append((f.column, f.get_db_prep_save(f.get_default(), connection)))

    def _sql(self, mode: str) -> str:
        q = connection.ops.quote_name
        cols = self.loaded + [c for c, _ in self.extra] + ["created_at", "updated_at"]
        select = [f"b.{q(c)}" for c in self.loaded] + ["%s"] * len(self.extra) + ["now()", "now()"]
        sql = (
            f"INSERT INTO {self.table} AS c ({', '.join(q(c) for c in cols)}) "  # noqa: S608 - identifiers from model meta only
            f"SELECT {', '.join(select)} FROM {self.TEMP} b "
            f"ON CONFLICT (phone) WHERE deleted_at IS NULL "
        )
        if mode == "skip":
            return sql + "DO NOTHING RETURNING (xmax = 0), c.id, c.phone"
        exprs = {}
        for c in TEXT_ATTRS:
            if mode == "fill":
                exprs[c] = f"CASE WHEN c.{c} = '' THEN EXCLUDED.{c} ELSE c.{c} END"
            else:
                exprs[c] = f"CASE WHEN EXCLUDED.{c} <> '' THEN EXCLUDED.{c} ELSE c.{c} END"
        if mode == "fill":
            exprs["birth_date"] = "COALESCE(c.birth_date, EXCLUDED.birth_date)"
            exprs["fields"] = "EXCLUDED.fields || c.fields"
        else:
            exprs["birth_date"] = "COALESCE(EXCLUDED.birth_date, c.birth_date)"
            exprs["fields"] = "c.fields || EXCLUDED.fields"
        exprs["secondary_phones"] = (
            "c.secondary_phones || COALESCE((SELECT jsonb_agg(e) FROM jsonb_array_elements(EXCLUDED.secondary_phones) e "
            "WHERE NOT c.secondary_phones @> jsonb_build_array(e) AND e <> to_jsonb(c.phone)), '[]'::jsonb)"
        )
        sets = ", ".join(f"{c} = {e}" for c, e in exprs.items())
        old = ", ".join(f"c.{c}" for c in exprs)
        new = ", ".join(exprs.values())
        return (
            sql
            + f"DO UPDATE SET {sets}, updated_at = now() WHERE ROW({new}) IS DISTINCT FROM ROW({old}) RETURNING (xmax = 0), c.id, c.phone"
        )

    def write(
        self, rows: list[Row], mode: str, copy_data: bytes | None = None, *, existing: bool = False
    ) -> tuple[int, int, int]:
        if not rows:
            return 0, 0, 0
        self.kinds = listened_kinds()
        if copy_data is None:
            copy_data = copy_text(rows)
        with connection.cursor() as cursor:
            # A batch is one transaction with this import's cursor: a server crash can lose the
            # last batches but never split them from their progress record, so waiting for each
            # commit's WAL flush buys nothing.
            cursor.execute("SET LOCAL synchronous_commit = off")
            # After a batch that went in by plain COPY the next one most likely will too (a new
            # book, a file of new contacts): try it at once rather than look its phones up first.
            if existing:
                return self._upsert(cursor, rows, mode, copy_data)
            if self.last_copied or not self._any_exist(cursor, rows):
                # Nothing can conflict: plain COPY of the contacts (ids drawn from their sequence)
                # and of their links, which cannot exist yet. A concurrent import may still
                # create one of these phones first; then this savepoint rolls back and the
                # batch takes the upsert below.
                try:
                    with transaction.atomic():
                        self._copy_new(cursor, rows, copy_data)
                    self._keep_statistics_fresh(cursor, len(rows))
                    self.last_copied = True
                    return len(rows), 0, 0
                except (IntegrityError, psycopg.IntegrityError):  # raw COPY errors are psycopg's own
                    pass
            self.last_copied = False
            return self._upsert(cursor, rows, mode, copy_data)

    def _any_exist(self, cursor, rows) -> bool:
        # Served by the live-phone unique index; bitmap scans off, or the planner may prefer the
        # phone trigram index, whose pending list an import keeps full.
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {self.table} WHERE phone = ANY(%s::varchar[]) AND deleted_at IS NULL)",  # noqa: S608
            [[r.phone for r in rows]],
        )
        found = cursor.fetchone()[0]
        cursor.execute("SET LOCAL enable_bitmapscan = on")
        return found

    def _copy_new(self, cursor, rows: list[Row], copy_data: bytes) -> None:
        q = connection.ops.quote_name
        n = len(rows)
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Contact._meta.db_table, n],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        now = timezone.now().isoformat().encode()
        suffix = b"\t".join([*(_copy_cell(v) for _, v in self.extra), now, now])
        lines = copy_data.split(b"\n")
        body = b"".join(b"%d\t%s\t%s\n" % (pk, line, suffix) for pk, line in zip(ids, lines, strict=False))
        cols = ["id", *self.loaded, *(c for c, _ in self.extra), "created_at", "updated_at"]
        with cursor.cursor.copy(f"COPY {self.table} ({', '.join(q(c) for c in cols)}) FROM STDIN") as copy:
            copy.write(body)
        if self.list_id:
            tail = b"\t%d\t%s\n" % (self.list_id, now)
            with cursor.cursor.copy(
                f"COPY {Membership._meta.db_table} (contact_id, contact_list_id, created_at) FROM STDIN"
            ) as copy:
                copy.write(b"".join(b"%d%s" % (pk, tail) for pk in ids))
        pairs = []
        own: dict[int, list[int]] = {}  # tag id → contacts tagged by their row's own tags
        for pk, row in zip(ids, rows, strict=True):
            tag_ids = self.tag_ids
            if row.tags:
                tag_ids = dict.fromkeys([*tag_ids, *(self.tag_id(t) for t in row.tags)])
                for tid in tag_ids:
                    if tid not in self.tag_ids:
                        own.setdefault(tid, []).append(pk)
            pairs.extend(b"%d\t%d\n" % (pk, tid) for tid in tag_ids)
        if pairs:
            through = Contact.tags.through._meta.db_table
            with cursor.cursor.copy(f"COPY {through} (contact_id, tag_id) FROM STDIN") as copy:
                copy.write(b"".join(pairs))
        # The batch's events (every contact is new, so each is created, added and tagged) in one COPY.
        events = [("contact_created", {}, ids)]
        if self.list_id:
            events.append(("list_added", self.list_data, ids))
        events.extend(("tag_added", self.tag_data(tid), ids) for tid in self.tag_ids)
        events.extend(("tag_added", self.tag_data(tid), pks) for tid, pks in own.items())
        copy_imported(cursor, events, kinds=self.kinds)

    def _upsert(self, cursor, rows: list[Row], mode: str, copy_data: bytes) -> tuple[int, int, int]:
        """COPY into a temporary table, then one INSERT … ON CONFLICT (phone) for the batch.

        ON COMMIT DELETE ROWS empties the table between batches; TRUNCATE between the two
        writes of one batch.
        """
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {self.TEMP} (phone varchar(20), "
            + ", ".join(f"{c} text" for c in TEXT_ATTRS)
            + ", birth_date date, fields jsonb, secondary_phones jsonb) ON COMMIT DELETE ROWS; "
            f"TRUNCATE {self.TEMP}"
        )
        with cursor.cursor.copy(f"COPY {self.TEMP} ({', '.join(self.loaded)}) FROM STDIN") as copy:
            copy.write(copy_data)
        cursor.execute(self._sql(mode), [v for _, v in self.extra])
        returned = cursor.fetchall()
        created = sum(1 for row in returned if row[0])
        self._record("contact_created", [pk for new, pk, _ in returned if new])
        updated = len(returned) - created
        self._link_sql(cursor, rows, {phone: pk for _, pk, phone in returned})
        self._keep_statistics_fresh(cursor, created)
        return created, updated, len(rows) - len(returned)

    def _keep_statistics_fresh(self, cursor, created: int) -> None:
        """ANALYZE the contacts table whenever this import has doubled it.

        An import into a small or just-emptied table grows it faster than autovacuum
        re-analyses it; with stale statistics the planner seq-scans the table for the phone
        lookups of every batch, and a big import slows to a crawl as the table grows.
        """
        self.created_total = getattr(self, "created_total", 0) + created
        if self.created_total >= max(2 * getattr(self, "analysed_at", 0), 20_000):
            cursor.execute(f"ANALYZE {self.table}")
            self.analysed_at = self.created_total

    def _link_sql(self, cursor, rows, ids: dict[str, int]):
        """Memberships and tags for every row of the batch (new, updated and unchanged contacts).

        `ids` are the contacts the upsert returned (created or updated); the unchanged ones are
        looked up by phone through the live-phone unique index.
        """
        if not self.list_id and not self.tag_ids and not any(r.tags for r in rows):
            return
        missing = [r.phone for r in rows if r.phone not in ids]
        if missing:
            # The trigram index on phone also answers "=", and the planner likes it; but
            # every lookup then reads the GIN pending list, which an import keeps full, and
            # costs seconds. GIN only does bitmap scans: without them the unique btree is used.
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute(
                f"SELECT id, phone FROM {self.table} WHERE phone = ANY(%s::varchar[]) AND deleted_at IS NULL",  # noqa: S608
                [missing],
            )
            ids.update({phone: pk for pk, phone in cursor.fetchall()})
            cursor.execute("SET LOCAL enable_bitmapscan = on")
        contact_ids = sorted(ids.values())  # one lock order for concurrent imports
        if self.list_id and contact_ids:
            cursor.execute(
                f"INSERT INTO {Membership._meta.db_table} (contact_id, contact_list_id, created_at) "  # noqa: S608
                "SELECT c, %s, now() FROM unnest(%s::bigint[]) AS c ON CONFLICT DO NOTHING RETURNING contact_id",
                [self.list_id, contact_ids],
            )
            self._record("list_added", [r[0] for r in cursor.fetchall()], self.list_data)
        through = Contact.tags.through._meta.db_table
        pairs_c, pairs_t = [], []
        for tid in self.tag_ids:
            pairs_c.extend(contact_ids)
            pairs_t.extend([tid] * len(contact_ids))
        for r in rows:
            if r.tags and r.phone in ids:
                for t in r.tags:
                    pairs_c.append(ids[r.phone])
                    pairs_t.append(self.tag_id(t))
        if pairs_c:
            pairs = sorted(set(zip(pairs_c, pairs_t, strict=True)))
            pairs_c, pairs_t = [c for c, _ in pairs], [t for _, t in pairs]
            cursor.execute(
                f"INSERT INTO {through} (contact_id, tag_id) SELECT * FROM unnest(%s::bigint[], %s::bigint[]) "  # noqa: S608
                "ON CONFLICT DO NOTHING RETURNING contact_id, tag_id",
                [pairs_c, pairs_t],
            )
            self._record_tags(cursor.fetchall())


def _copy_cell(value) -> bytes:
    """A model default in COPY's text format."""
    if value is None:
        return b"\\N"
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if hasattr(value, "obj"):  # psycopg's Jsonb wrapper of a JSONField default
        value = value.obj
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return str(value).translate(_COPY_ESCAPES).encode()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""})


def copy_text(rows: list[Row]) -> bytes:
    """Rows in COPY's text format, in PostgresWriter.loaded's column order.

    Built by the reader thread while the database writes the previous batch, so the main
    thread only streams bytes. NUL characters are dropped: PostgreSQL text cannot hold them.
    """
    dumps = json.dumps
    esc = _COPY_ESCAPES
    lines = []
    for r in rows:
        a = r.attrs
        if a:
            cells = [r.phone, *(str(a.get(k, "")).translate(esc) for k in TEXT_ATTRS)]
            bd = a.get("birth_date")
            cells.append(bd.isoformat() if bd else "\\N")
        else:
            cells = [r.phone, "", "", "", "", "", "", "", "", "", "", "", "", "\\N"]
        cells.append(dumps(r.fields, ensure_ascii=False).translate(esc) if r.fields else "{}")
        cells.append(dumps(r.secondary) if r.secondary else "[]")
        lines.append("\t".join(cells))
    lines.append("")
    return "\n".join(lines).encode("utf-8")


def make_writer(options: Options) -> Writer:
    if connection.vendor == "postgresql":
        return PostgresWriter(options)
    return Writer(options)

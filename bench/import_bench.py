#!/usr/bin/env python
"""Contact import throughput: the real pipeline against django-import-export, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_importbench .venv/bin/python bench/import_bench.py [N]

Generates a realistic N-row CSV (default 1,000,000): Italian names, phones in E.164 and in
national formats with spaces/dashes/"0039", ~2 % invalid numbers, ~3 % rows repeating an
earlier phone, an email, a city and three custom fields (number, choice, date). Then:

0. times the reader alone (parse, map, normalise, dedupe, COPY bytes; no database writes);
1. imports it through the real pipeline (contacts.imports.services.import_file: parse, map,
   normalise, dedupe, COPY + INSERT … ON CONFLICT, list membership, a tag) into an empty
   contacts table, in four variants (--variants): the search (GIN) indexes maintained row by
   row or deferred (dropped after the first batch, built at the end: contacts/imports/indexes.py),
   and the automation events (contact_created, list_added, tag_added per contact) recorded
   for every kind (a consumer that listens for every kind, as switched-on automations would) or
   for none (a consumer that listens for nothing, as automations with none switched on). Each prints rows/s, CPU seconds per 1,000 rows
   (this process, the reader process, the PostgreSQL backend) and is checked;
2. re-imports the same file (everything unchanged) — the idempotent path;
3. times a plain COPY of the same rows (contacts, memberships, tag links, read back from the
   tables) into a copy of the schema with every index and foreign key — the import's limit
   with indexes maintained — and the same COPY with the GIN indexes built after it (the limit
   for a load that defers them), printing each variant's share of both;
4. imports the first --ie-rows rows (default 20,000) with django-import-export (a ModelResource
   for Contact, bulk mode, phones normalised and repeated/invalid ones left out before it)
   into an empty table, and the pipeline on the same rows.
After every run the number of contacts, links and events is checked against an independent
count of the file's distinct valid phones: a benchmark that does not check its result
measures nothing.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sb_importbench")

FIRST = ["Giulia", "Marco", "Francesca", "Luca", "Sara", "Alessandro", "Chiara", "Matteo", "Elena", "Davide",
         "Martina", "Andrea", "Valentina", "Simone", "Federica", "Lorenzo", "Anna", "Paolo", "Laura", "Niccolò"]  # fmt: skip
LAST = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti"]  # fmt: skip
CITIES = ["Milano", "Roma", "Napoli", "Torino", "Bologna", "Firenze", "Bari", "Palermo", "Genova", "Verona"]
TIERS = ["bronze", "silver", "gold"]
MOBILE_PREFIXES = ["320", "324", "327", "328", "329", "330", "331", "333", "334", "335", "336", "338", "339",
                   "340", "342", "345", "346", "347", "348", "349", "350", "351", "366", "380", "388", "391"]  # fmt: skip


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def phone_for(rng: random.Random, i: int) -> str:
    number = f"{rng.choice(MOBILE_PREFIXES)}{i % 10_000_000:07d}"
    style = rng.random()
    if style < 0.45:
        return "+39" + number
    if style < 0.70:
        return f"{number[:3]} {number[3:6]} {number[6:]}"
    if style < 0.85:
        return f"+39 {number[:3]} {number[3:]}"
    if style < 0.95:
        return f"{number[:3]}-{number[3:]}"
    return f"0039 {number}"


def generate(path: Path, n: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    invalid = duplicates = 0
    earlier: list[str] = []
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Nome", "Cognome", "Cellulare", "Email", "Città", "Punti", "Livello", "Iscritto il"])
        for i in range(n):
            roll = rng.random()
            if roll < 0.02:
                phone = rng.choice(["12345", "333", "abc-def", "+39 0", "999999999999999999"])
                invalid += 1
            elif roll < 0.05 and earlier:
                phone = rng.choice(earlier)
                duplicates += 1
            else:
                phone = phone_for(rng, i * 7919)
                if len(earlier) < 50_000:
                    earlier.append(phone)
                elif rng.random() < 0.01:
                    earlier[rng.randrange(50_000)] = phone
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow([
                first, last, phone, f"{first}.{last}{i}@example.it".lower().replace(" ", ""), rng.choice(CITIES),
                rng.randint(0, 5000), rng.choice(TIERS), f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(10, 24)}",
            ])  # fmt: skip
    return {"invalid": invalid, "duplicates": duplicates}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_contacts():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE contacts_contact, contacts_membership, contacts_contact_tags, contacts_contactimport, "
            "contacts_contactevent RESTART IDENTITY CASCADE"
        )
        cursor.execute("VACUUM ANALYZE contacts_contact")


def cpu() -> dict:
    """CPU seconds so far: this process, its finished children (the reader), the PostgreSQL backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    backend = 0.0
    try:
        with open(f"/proc/{pid}/stat") as fh:  # the server runs on this machine
            fields = fh.read().rsplit(")", 1)[1].split()
        backend = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"python": time.process_time(), "reader": children.ru_utime + children.ru_stime, "db": backend}


def cpu_per_1000(before: dict, after: dict, rows: int) -> str:
    return ", ".join(f"{k} {(after[k] - before[k]) * 1000 / rows:.3f}" for k in before) + " CPU s/1,000 rows"


def reader_alone(path: Path) -> tuple[float, float, int]:
    """The reader's own speed: the pipeline's batch producer (a process, as in an import) with
    nothing written. Returns (seconds, reader CPU seconds, rows)."""
    from contacts.imports import pipeline
    from contacts.imports.rows import Options, Preparer, open_source
    from contacts.models import CustomField

    custom = {f.key: f for f in CustomField.objects.all()}
    options = Options(country="IT")
    source = open_source(str(path), options, custom)
    prepare = Preparer(options, custom, source.columns)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    producer = pipeline._BatchProducer(
        source, prepare, 0, pipeline.BATCH_SIZE, None, pipeline.copy_text, process=True
    )
    rows = 0
    try:
        for batch in producer:
            rows += batch.rows
    finally:
        producer.stop()
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), rows


def run_pipeline(path: Path) -> tuple[float, object]:
    from contacts.imports.services import import_file

    start = time.perf_counter()
    imp = import_file(str(path), new_list_name="Bench", tags=["bench"], country="IT")
    return time.perf_counter() - start, imp


VARIANTS = {  # name → (search indexes deferred, event kinds recorded)
    "maintained+events": (False, True),
    "maintained": (False, False),
    "deferred+events": (True, True),
    "deferred": (True, False),
}


def run_variant(path: Path, name: str, n: int, expected: dict) -> dict:
    """One import of the file into an empty book in the variant's configuration, checked."""
    from django.conf import settings

    from contacts.events import KINDS, ContactEvent, register_listened_kinds, unregister_listened_kinds
    from contacts.imports import indexes

    deferred, events = VARIANTS[name]
    reset_contacts()
    settings.IMPORT_DEFER_INDEXES_MIN_ROWS = 0 if deferred else 10**15

    def nothing():
        return ()

    def every_kind():
        return KINDS

    # "+events": a consumer listens for every kind (as switched-on automations triggered by contact
    # creation, lists and tags would); otherwise nobody listens (no automation switched on).
    listener = every_kind if events else nothing
    register_listened_kinds(listener)
    before = cpu()
    try:
        elapsed, imp = run_pipeline(path)
    finally:
        unregister_listened_kinds(listener)
        del settings.IMPORT_DEFER_INDEXES_MIN_ROWS  # the real threshold again
    after = cpu()
    check_import(imp, expected)
    want = expected["contacts"] if events else 0
    got = {
        k: ContactEvent.objects.filter(kind=k).count() for k in ("contact_created", "list_added", "tag_added")
    }
    assert got == dict.fromkeys(got, want), (name, got, want)
    from django.db import connection

    with connection.cursor() as cursor:
        assert not indexes.missing(cursor), "search indexes missing after the import"
    print(
        f"pipeline [{name}], empty table: {n:,} rows in {elapsed:.1f} s = {n / elapsed:,.0f} rows/s; "
        f"created {imp.created:,}, merged {imp.merged:,}, rejected {imp.rejected:,}; events {got}; "
        f"{cpu_per_1000(before, after, n)}"
    )
    return {"seconds": elapsed, "imp": imp, "db_cpu": after["db"] - before["db"]}


def expected_result(path: Path, rows: int | None = None) -> dict:
    """What a correct import of the file's first `rows` rows creates: its distinct valid phones.

    An independent pass over the CSV with the same phone rules (E.164, region IT), used to
    check both importers' results after each run.
    """
    from contacts.imports.values import PhoneNormaliser

    normalise = PhoneNormaliser("IT")
    seen, invalid, total = set(), 0, 0
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for i, row in enumerate(reader):
            if rows is not None and i >= rows:
                break
            total += 1
            e164, _ = normalise(row[2])
            if e164 is None:
                invalid += 1
            else:
                seen.add(e164)
    return {"rows": total, "contacts": len(seen), "invalid": invalid, "merged": total - invalid - len(seen)}


def run_import_export(path: Path, rows: int) -> tuple[float, object]:
    """django-import-export on the file's first `rows` rows, given what it needs to really import:

    phones normalised to E.164 before it (with the pipeline's own normaliser, and timed with
    the import), rows with an invalid or already-seen phone left out (in bulk mode one repeated
    phone makes bulk_create fail and the whole import roll back — it once saved nothing and
    reported it only in `base_errors`), `phone` as the import key, bulk mode.
    """
    import tablib
    from import_export import fields, resources

    from contacts.imports.values import PhoneNormaliser
    from contacts.models import Contact, CustomField

    definitions = {f.key: f for f in CustomField.objects.all()}

    class ContactResource(resources.ModelResource):
        phone = fields.Field(attribute="phone", column_name="Cellulare")
        first_name = fields.Field(attribute="first_name", column_name="Nome")
        last_name = fields.Field(attribute="last_name", column_name="Cognome")
        email = fields.Field(attribute="email", column_name="Email")
        city = fields.Field(attribute="city", column_name="Città")

        class Meta:
            model = Contact
            import_id_fields = ["phone"]
            fields = ["phone", "first_name", "last_name", "email", "city"]
            use_bulk = True
            batch_size = 1000
            skip_unchanged = True
            report_skipped = False

        def before_save_instance(self, instance, row, **kwargs):
            instance.fields = {
                "punti": definitions["punti"].clean_value(row["Punti"]),
                "livello": definitions["livello"].clean_value(row["Livello"]),
                "iscritto_il": definitions["iscritto_il"].clean_value(row["Iscritto il"]),
            }

    start = time.perf_counter()
    normalise = PhoneNormaliser("IT")
    seen = set()
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        headers = next(reader)
        data = tablib.Dataset(headers=headers)
        for i, row in enumerate(reader):
            if i >= rows:
                break
            e164, _ = normalise(row[2])
            if e164 is None or e164 in seen:
                continue
            seen.add(e164)
            row[2] = e164
            data.append(row)
    result = ContactResource().import_data(data, dry_run=False, raise_errors=False, use_transactions=True)
    elapsed = time.perf_counter() - start
    if result.has_errors() or result.base_errors:
        errors = [str(e.error)[:200] for e in result.base_errors[:3]] + [
            str(r) for r in result.row_errors()[:3]
        ]
        raise SystemExit(f"django-import-export failed: {errors}")
    return elapsed, result


def copy_limit(imp_contacts: int, defer_gin: bool = False) -> dict:
    """Time a plain COPY of the rows the import produced into a copy of the same schema.

    The contacts, memberships and tag links the pipeline wrote are read out (not timed), then
    COPYed into `bench_copy` tables created LIKE the real ones INCLUDING ALL (every index,
    the GIN ones too, defaults and checks) with the same foreign keys, in one transaction with
    synchronous_commit off, as the import's batches run. That is the rate at which PostgreSQL
    merely stores the same data here: the import's limit. With defer_gin the copy's GIN indexes
    are dropped before the COPY and built after it (timed with it, maintenance_work_mem as the
    import sets it): the limit for an import that defers them.
    """
    from django.db import connection

    from contacts.imports.indexes import MAINTENANCE_WORK_MEM

    tables = ["contacts_contact", "contacts_membership", "contacts_contact_tags"]
    dumps = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for t in tables:
            buf = io.BytesIO()
            with raw.copy(f"COPY {t} TO STDOUT") as copy:
                for chunk in copy:
                    buf.write(chunk)
            dumps[t] = buf.getvalue()
        cursor.execute("DROP SCHEMA IF EXISTS bench_copy CASCADE; CREATE SCHEMA bench_copy")
        for t in tables:
            cursor.execute(f"CREATE TABLE bench_copy.{t} (LIKE public.{t} INCLUDING ALL)")
        cursor.execute(
            "ALTER TABLE bench_copy.contacts_membership ADD FOREIGN KEY (contact_id) REFERENCES bench_copy.contacts_contact (id) DEFERRABLE INITIALLY DEFERRED, "
            "ADD FOREIGN KEY (contact_list_id) REFERENCES public.contacts_contactlist (id) DEFERRABLE INITIALLY DEFERRED; "
            "ALTER TABLE bench_copy.contacts_contact_tags ADD FOREIGN KEY (contact_id) REFERENCES bench_copy.contacts_contact (id) DEFERRABLE INITIALLY DEFERRED, "
            "ADD FOREIGN KEY (tag_id) REFERENCES public.contacts_tag (id) DEFERRABLE INITIALLY DEFERRED"
        )
        gin = []
        if defer_gin:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'bench_copy' "
                "AND tablename = 'contacts_contact' AND indexdef LIKE '%% USING gin %%'"
            )
            gin = cursor.fetchall()
            for index, _ in gin:
                cursor.execute(f'DROP INDEX bench_copy."{index}"')
    cpu_before = cpu()["db"]
    start = time.perf_counter()
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        for t in tables:
            with cursor.cursor.copy(f"COPY bench_copy.{t} FROM STDIN") as copy:
                copy.write(dumps[t])
    build = 0.0
    if gin:
        built = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            for _, definition in gin:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")
        build = time.perf_counter() - built
    elapsed = time.perf_counter() - start
    db_cpu = cpu()["db"] - cpu_before
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_copy.contacts_contact")
        copied = cursor.fetchone()[0]
        cursor.execute("DROP SCHEMA bench_copy CASCADE")
    assert copied == imp_contacts, (copied, imp_contacts)
    return {"seconds": elapsed, "contacts": copied, "build": build, "db_cpu": db_cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument(
        "--ie-rows", type=int, default=20_000, help="rows for the django-import-export sample"
    )
    parser.add_argument("--skip-ie", action="store_true")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS),
        help=f"comma-separated, from {', '.join(VARIANTS)}; the last one's contacts feed the COPY limit and re-import",
    )  # fmt: skip
    parser.add_argument("--rebuild", action="store_true", help="also time rebuilding each GIN index")
    parser.add_argument("--file", default=None, help="CSV path (default: $TMPDIR/sb_import_bench_N.csv)")
    args = parser.parse_args()

    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("Run this against PostgreSQL (DATABASE_URL=postgres://…/sb_importbench).")
    ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from contacts.models import Contact, CustomField

    call_command("migrate", verbosity=0)
    for key, label, kind, choices in [
        ("punti", "Punti", "number", []),
        ("livello", "Livello", "choice", TIERS),
        ("iscritto_il", "Iscritto il", "date", []),
    ]:
        CustomField.objects.update_or_create(
            key=key, defaults={"label": label, "type": kind, "choices": choices}
        )

    tmp = Path(tempfile.gettempdir())
    path = Path(args.file or tmp / f"sb_import_bench_{args.n}.csv")
    if not path.exists():
        t = time.perf_counter()
        info = generate(path, args.n)
        print(
            f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s: {info}"
        )
    print(f"PostgreSQL {connection.cursor().connection.info.server_version}, {os.cpu_count()} cores")

    print(f"load average at the start: {Path('/proc/loadavg').read_text().strip()}")
    expected = expected_result(path)
    print(f"expected: {expected}")
    seconds, reader_cpu, reader_rows = reader_alone(path)
    assert reader_rows == expected["rows"], (reader_rows, expected)
    print(
        f"reader alone (its own process, nothing written): {reader_rows:,} rows in {seconds:.1f} s = "
        f"{reader_rows / seconds:,.0f} rows/s; {reader_cpu * 1000 / reader_rows:.3f} CPU s/1,000 rows"
    )
    rss_before = peak_rss_mb()
    runs = {name: run_variant(path, name, args.n, expected) for name in args.variants.split(",")}
    print(f"peak RSS {peak_rss_mb():.0f} MB (before: {rss_before:.0f} MB)")
    name = list(runs)[-1]
    elapsed, imp = runs[name]["seconds"], runs[name]["imp"]
    rate = args.n / elapsed
    limit = copy_limit(imp.created)
    limit_deferred = copy_limit(imp.created, defer_gin=True)
    print(
        f"plain COPY of the same {limit['contacts']:,} contacts + links into a copy of the schema, "
        f"indexes maintained: {limit['seconds']:.1f} s = {args.n / limit['seconds']:,.0f} file rows/s; "
        f"GIN indexes built after the COPY: {limit_deferred['seconds']:.1f} s = "
        f"{args.n / limit_deferred['seconds']:,.0f} file rows/s (of which building {limit_deferred['build']:.1f} s)"
    )
    print(
        f"  the COPY limit's PostgreSQL CPU: {limit['db_cpu'] * 1000 / args.n:.3f} CPU s/1,000 file rows with "
        f"indexes maintained, {limit_deferred['db_cpu'] * 1000 / args.n:.3f} with the GIN indexes built after"
    )
    for variant, result in runs.items():
        print(
            f"  [{variant}] PostgreSQL CPU {result['db_cpu'] * 1000 / args.n:.3f} CPU s/1,000 rows = "
            f"{limit['db_cpu'] / result['db_cpu']:.2f} / {limit_deferred['db_cpu'] / result['db_cpu']:.2f} "
            "of the COPY limit's (maintained / GIN built after): the database's share, which load does not skew"
        )
        print(
            f"  [{variant}] {args.n / result['seconds']:,.0f} rows/s = {limit['seconds'] / result['seconds']:.2f} "
            f"of the COPY limit with indexes maintained, {limit_deferred['seconds'] / result['seconds']:.2f} "
            "of the COPY limit with the GIN indexes built after"
        )
    print(f"load average at the end: {Path('/proc/loadavg').read_text().strip()}")
    if args.rebuild:
        rebuild_costs(elapsed)
    elapsed2, imp2 = run_pipeline(path)
    print(
        f"pipeline, same file again: {elapsed2:.1f} s = {args.n / elapsed2:,.0f} rows/s; "
        f"created {imp2.created}, updated {imp2.updated}, unchanged {imp2.unchanged:,}"
    )
    assert (imp2.created, imp2.updated, imp2.unchanged) == (0, 0, expected["contacts"]), (
        "re-import changed data"
    )
    assert Contact.objects.count() == expected["contacts"]
    if not args.skip_ie:
        sample = min(args.ie_rows, args.n)
        want = expected_result(path, sample)
        reset_contacts()
        ours_path = tmp / f"sb_import_bench_sample_{sample}.csv"
        with open(path, encoding="utf-8") as src, open(ours_path, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i > sample:
                    break
                dst.write(line)
        ie, result = run_import_export(path, sample)
        assert result.totals["new"] == want["contacts"] == Contact.objects.count(), (result.totals, want)
        ie_rate = sample / ie
        print(
            f"django-import-export: {sample:,} rows in {ie:.1f} s = {ie_rate:,.0f} rows/s, "
            f"{Contact.objects.count():,} contacts saved (checked)"
        )
        reset_contacts()
        t = time.perf_counter()
        _, small_imp = run_pipeline(ours_path)
        small = time.perf_counter() - t
        check_import(small_imp, want)
        print(
            f"pipeline on the same {sample:,}-row sample: {small:.2f} s = {sample / small:,.0f} rows/s "
            f"({ie / small:.1f}x django-import-export on the same rows; {rate / ie_rate:.1f}x its sample rate "
            "against the pipeline's full-file rate)"
        )


def rebuild_costs(import_seconds: float) -> None:
    """What deferring the GIN indexes' work would cost: the time to build each one afresh on the
    loaded table (a load that drops them first must pay this at its end)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts_contact' AND indexdef LIKE '%% USING gin %%' "
            "ORDER BY indexname"
        )
        names = [n for (n,) in cursor.fetchall()]
        total = 0.0
        for name in names:
            start = time.perf_counter()
            cursor.execute(f'REINDEX INDEX "{name}"')
            took = time.perf_counter() - start
            total += took
            print(f"  rebuild {name}: {took:.1f} s")
    print(
        f"rebuilding the {len(names)} GIN indexes: {total:.1f} s (the whole import: {import_seconds:.1f} s)"
    )


def check_import(imp, expected: dict) -> None:
    """The import's own result, checked against the independent count and the database."""
    from contacts.models import Contact, Membership

    assert imp.status == "succeeded", imp.error
    assert (imp.created, imp.rejected, imp.merged) == (
        expected["contacts"], expected["invalid"], expected["merged"],
    ), (imp.created, imp.rejected, imp.merged, expected)  # fmt: skip
    assert Contact.objects.count() == expected["contacts"]
    assert Membership.objects.count() == expected["contacts"]
    assert Contact.tags.through.objects.count() == expected["contacts"]


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Contact import throughput: the real pipeline against django-import-export, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_importbench .venv/bin/python bench/import_bench.py [N]

Generates a realistic N-row CSV (default 1,000,000): Italian names, phones in E.164 and in
national formats with spaces/dashes/"0039", ~2 % invalid numbers, ~3 % rows repeating an
earlier phone, an email, a city and three custom fields (number, choice, date). Then:

1. imports it through the real pipeline (contacts.imports.services.import_file: parse, map,
   normalise, dedupe, COPY + INSERT … ON CONFLICT, list membership, a tag) into an empty
   contacts table, printing rows/s and the process's peak RSS;
2. re-imports the same file (everything unchanged) — the idempotent path;
3. imports the first --ie-rows rows (default 20,000) with django-import-export (a ModelResource
   for Contact, bulk mode, phone normalised in before_import_row so both do the same work)
   into an empty table, and prints the ratio of rows/s (extrapolated from that sample).
"""

from __future__ import annotations

import argparse
import csv
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
            "TRUNCATE contacts_contact, contacts_membership, contacts_contact_tags, contacts_contactimport "
            "RESTART IDENTITY CASCADE"
        )
        cursor.execute("VACUUM ANALYZE contacts_contact")


def run_pipeline(path: Path) -> tuple[float, object]:
    from contacts.imports.services import import_file

    start = time.perf_counter()
    imp = import_file(str(path), new_list_name="Bench", tags=["bench"], country="IT")
    return time.perf_counter() - start, imp


def run_import_export(path: Path, rows: int) -> float:
    import tablib
    from import_export import fields, resources

    from contacts.models import Contact, CustomField
    from contacts.phones import PhoneError, normalize_phone

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

        def before_import_row(self, row, **kwargs):
            # Same work as the pipeline: E.164 phone and custom fields as JSON.
            try:
                row["Cellulare"] = normalize_phone(row["Cellulare"], "IT")
            except PhoneError:
                row["Cellulare"] = None

        def skip_row(self, instance, original, row, import_validation_errors=None):
            return not instance.phone or super().skip_row(instance, original, row, import_validation_errors)

        def before_save_instance(self, instance, row, **kwargs):
            instance.fields = {
                "punti": definitions["punti"].clean_value(row["Punti"]),
                "livello": definitions["livello"].clean_value(row["Livello"]),
                "iscritto_il": definitions["iscritto_il"].clean_value(row["Iscritto il"]),
            }

    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        headers = next(reader)
        data = tablib.Dataset(headers=headers)
        for i, row in enumerate(reader):
            if i >= rows:
                break
            data.append(row)
    start = time.perf_counter()
    result = ContactResource().import_data(data, dry_run=False, raise_errors=False, use_transactions=True)
    elapsed = time.perf_counter() - start
    if result.has_errors():
        print("  django-import-export reported errors:", len(result.row_errors()))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument(
        "--ie-rows", type=int, default=20_000, help="rows for the django-import-export sample"
    )
    parser.add_argument("--skip-ie", action="store_true")
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

    reset_contacts()
    rss_before = peak_rss_mb()
    elapsed, imp = run_pipeline(path)
    print(
        f"pipeline, empty table:  {args.n:,} rows in {elapsed:.1f} s = {args.n / elapsed:,.0f} rows/s; "
        f"created {imp.created:,}, merged {imp.merged:,}, rejected {imp.rejected:,}; "
        f"peak RSS {peak_rss_mb():.0f} MB (before: {rss_before:.0f} MB)"
    )
    assert Contact.objects.count() == imp.created
    elapsed2, imp2 = run_pipeline(path)
    print(
        f"pipeline, same file again: {elapsed2:.1f} s = {args.n / elapsed2:,.0f} rows/s; "
        f"created {imp2.created}, updated {imp2.updated}, unchanged {imp2.unchanged:,}"
    )
    rate = args.n / elapsed
    if not args.skip_ie:
        sample = min(args.ie_rows, args.n)
        reset_contacts()
        ours_path = tmp / f"sb_import_bench_sample_{sample}.csv"
        with open(path, encoding="utf-8") as src, open(ours_path, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i > sample:
                    break
                dst.write(line)
        ie = run_import_export(path, sample)
        ie_rate = sample / ie
        print(
            f"django-import-export: {sample:,} rows in {ie:.1f} s = {ie_rate:,.0f} rows/s "
            f"(sample, extrapolated); pipeline / import-export = {rate / ie_rate:.0f}x"
        )
        reset_contacts()
        t = time.perf_counter()
        run_pipeline(ours_path)
        small = time.perf_counter() - t
        print(f"pipeline on the same {sample:,}-row sample: {small:.2f} s = {sample / small:,.0f} rows/s")


if __name__ == "__main__":
    main()

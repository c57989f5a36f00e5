"""python manage.py import_contacts PATH — the wizard's pipeline, synchronously, for scripts and ops."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from contacts.models import ContactList


class Command(BaseCommand):
    help = "Import contacts from a CSV, TXT, XLSX or VCF file (same rules as the admin wizard)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--list", dest="list_name", help="Add everyone to this list (created if missing)")
        parser.add_argument("--tag", action="append", default=[], help="Tag to apply (repeatable)")
        parser.add_argument("--country", default="", help="Default country for national numbers, e.g. IT")
        parser.add_argument(
            "--mapping",
            help='JSON file: {"columns": {"Header": "target", …}, "phone_order": ["Mobile", …]} or a list of targets',
        )
        parser.add_argument("--update", choices=["fill", "overwrite", "skip"], default="fill")
        parser.add_argument("--sheet", default="", help="Excel sheet name (first sheet by default)")
        parser.add_argument("--json", action="store_true", help="Print one JSON object with the counts last")

    def handle(self, *args, **opts):
        from contacts.imports.services import import_file

        kwargs = {
            "tags": opts["tag"],
            "country": opts["country"],
            "update_mode": opts["update"],
            "sheet": opts["sheet"],
        }
        if opts["list_name"]:
            existing = ContactList.objects.filter(name__iexact=opts["list_name"]).first()
            kwargs["contact_list"] = existing
            kwargs["new_list_name"] = "" if existing else opts["list_name"]
        try:
            if opts["mapping"]:
                with open(opts["mapping"], encoding="utf-8") as fh:
                    spec = json.load(fh)
                kwargs["mapping_spec"] = spec
            imp = import_file(opts["path"], **kwargs)
        except FileNotFoundError as exc:
            raise CommandError(_("No such file: %(path)s") % {"path": exc.filename}) from None
        except (ValueError, ValidationError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from None
        result = {
            "id": imp.pk,
            "status": imp.status,
            "total_rows": imp.total_rows,
            "created": imp.created,
            "updated": imp.updated,
            "unchanged": imp.unchanged,
            "merged": imp.merged,
            "rejected": imp.rejected,
            "rejected_report": imp.rejected_file.path if imp.rejected_file else None,
            "error": imp.error or None,
        }
        if opts["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                _(
                    "%(name)s: %(total)d rows — %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
                    "%(merged)d merged duplicates, %(rejected)d rejected"
                )
                % {
                    "name": imp.original_name, "total": imp.total_rows, "created": imp.created,
                    "updated": imp.updated, "unchanged": imp.unchanged, "merged": imp.merged, "rejected": imp.rejected,
                }
            )
            if result["rejected_report"]:
                self.stdout.write(_("Rejected rows: %(path)s") % {"path": result["rejected_report"]})
        if imp.status != "succeeded":
            raise CommandError(imp.error or _("import failed"))

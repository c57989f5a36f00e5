"""python manage.py export_contacts PATH — contacts to CSV, XLSX or vCard 3.0 from the command line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from contacts.models import ContactList


class Command(BaseCommand):
    help = "Export contacts (all, one list, a tag or a search) to CSV, XLSX or VCF."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--format", choices=["csv", "xlsx", "vcf"], help="Default: from the file name")
        parser.add_argument("--list", dest="list_name")
        parser.add_argument("--tag")
        parser.add_argument("--search")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        from contacts.imports.services import export_contacts

        fmt = opts["format"] or opts["path"].rsplit(".", 1)[-1].lower()
        if fmt not in ("csv", "xlsx", "vcf"):
            raise CommandError(_("Say --format csv, xlsx or vcf (or name the file so)."))
        filters = {"tag": opts["tag"], "search": opts["search"]}
        if opts["list_name"]:
            contact_list = ContactList.objects.filter(name__iexact=opts["list_name"]).first()
            if contact_list is None:
                raise CommandError(_("No list called %(name)r.") % {"name": opts["list_name"]})
            filters["list_id"] = contact_list.pk
        count = export_contacts({k: v for k, v in filters.items() if v}, fmt, opts["path"])
        if opts["json"]:
            self.stdout.write(json.dumps({"exported": count, "path": opts["path"], "format": fmt}))
        else:
            self.stdout.write(_("Exported %(count)d contacts to %(path)s") % {"count": count, "path": opts["path"]})

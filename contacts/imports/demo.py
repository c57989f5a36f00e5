"""Demo data for imports (called from seed_demo): one finished import of an Outlook-style export,
so a newcomer finds a result page with new contacts, a warning and a rejected row."""

from __future__ import annotations

import csv
import os
import tempfile

NAME = "demo-outlook-export.csv"
HEADERS = ["First Name", "Last Name", "Company", "Mobile Phone", "Business Phone", "Business Fax",
           "E-mail Address", "Birthday", "Anniversary", "Gender", "Categories"]  # fmt: skip
ROWS = [
    ["Carla", "Demo", "Fiori Srl", "+39 333 900 0001", "02 9000 0001", "02 9000 0002", "carla@fiori.example",
     "0/0/00", "0/0/00", "Unspecified", "Demo;Fornitori"],
    ["Dario", "Demo", "", "", "+39 02 9000 0003", "", "dario@example", "31/02/1980", "0/0/00", "Male", "Demo"],
    ["Ester", "Demo", "", "", "", "02 9000 0004", "ester@demo.example", "0/0/00", "0/0/00", "Female", "Demo"],
]  # fmt: skip


def seed_import_demo(user=None) -> bool:
    """Import the demo file once; True when it was imported now."""
    from .models import ContactImport
    from .services import import_file

    if ContactImport.objects.filter(original_name=NAME).exists():
        return False
    directory = tempfile.mkdtemp(prefix="sb-demo-")
    path = os.path.join(directory, NAME)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        writer.writerows(ROWS)
    try:
        import_file(path, user=user, new_list_name="Demo import", country="IT")
    finally:
        os.remove(path)
        os.rmdir(directory)
    return True

"""Demo data for a fresh install: a few hundred contacts in lists, custom fields, tags, a sandbox account.

Idempotent: run it again and nothing is doubled. Prints the admin login.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.translation import gettext as _

from automations.demo import seed_automations
from contacts.models import Contact, ContactList, CustomField, Membership, Tag

FIRST = ["Giulia", "Marco", "Francesca", "Luca", "Sara", "Alessandro", "Chiara", "Matteo", "Elena", "Davide",
         "Martina", "Andrea", "Valentina", "Simone", "Federica", "Lorenzo", "Anna", "Paolo", "Laura", "Stefano"]  # fmt: skip
LAST = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti"]  # fmt: skip
CITIES = [("Milano", "MI", "20121"), ("Roma", "RM", "00184"), ("Torino", "TO", "10121"), ("Napoli", "NA", "80133"),
          ("Bologna", "BO", "40121"), ("Firenze", "FI", "50122")]  # fmt: skip
LISTS = [("Newsletter", "Customers who asked for news and offers"), ("VIP customers", "Top spenders"),
         ("Milan store", "Customers of the Milan shop"), ("Event 2026 guests", "Invited to the spring event")]  # fmt: skip
TAGS = ["customer", "lead", "wholesale", "supplier", "press"]


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the admin login."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=300)

    @transaction.atomic
    def handle(self, contacts=300, **options):
        password = self._admin()
        fields = self._custom_fields()
        created = self._contacts(contacts, fields)
        self._sandbox_account()
        self._templates()  # issue 9
        from campaigns.demo import seed_campaigns  # issue 10: finished campaigns with statistics

        seed_campaigns(self.stdout)
        from contacts.imports.demo import seed_import_demo

        seed_import_demo(get_user_model().objects.filter(username="admin").first())
        seed_automations(self.stdout)  # issue 12: the demo automations (automations/demo.py)
        from messaging.webhooks.demo import seed_webhook_demo  # issue 11: a few received events

        seed_webhook_demo(self.stdout)
        seed_automations(self.stdout)  # issue 12: the demo automations (automations/demo.py)
        from contacts.imports.demo import seed_import_demo

        seed_import_demo(get_user_model().objects.filter(username="admin").first())
        self.stdout.write(
            self.style.SUCCESS(
                _("Demo data ready: %(count)d contacts (%(new)d new).") % {"count": Contact.objects.count(), "new": created}
            )
        )
        self.stdout.write("")
        self.stdout.write(self.style.WARNING(_("  Admin login:  %(url)s") % {"url": "http://127.0.0.1:8000/admin/"}))
        self.stdout.write(self.style.WARNING(_("  user: admin    password: %(password)s") % {"password": password}))
        self.stdout.write(_("  (also: editor / viewer with the same password, to try the roles)"))

    def _admin(self) -> str:
        path = settings.VAR_DIR / "admin-password.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            password = path.read_text().strip()
        else:
            password = secrets.token_urlsafe(9)
            path.write_text(password + "\n")
            path.chmod(0o600)
        User = get_user_model()
        for username, role, superuser in (
            ("admin", "Manager", True),
            ("editor", "Editor", False),
            ("viewer", "Viewer", False),
        ):
            user, made = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": True, "is_superuser": superuser, "first_name": username.title()},
            )
            if made:
                user.set_password(password)
                user.save()
                user.groups.add(Group.objects.get(name=role))
        return password

    def _custom_fields(self):
        specs = [
            ("loyalty_tier", "Loyalty tier", CustomField.Type.CHOICE, ["bronze", "silver", "gold"]),
            ("points", "Points", CustomField.Type.NUMBER, []),
            ("vip", "VIP", CustomField.Type.BOOLEAN, []),
            ("customer_since", "Customer since", CustomField.Type.DATE, []),
        ]
        for key, label, kind, choices in specs:
            CustomField.objects.get_or_create(
                key=key, defaults={"label": label, "type": kind, "choices": choices}
            )
        return specs

    def _contacts(self, count: int, fields) -> int:
        rng = random.Random(2026)
        lists = [ContactList.objects.get_or_create(name=n, defaults={"description": d})[0] for n, d in LISTS]
        tags = [Tag.objects.get_or_create(name=t)[0] for t in TAGS]
        existing = set(Contact.all_objects.values_list("phone", flat=True))
        new = []
        for i in range(count):
            phone = f"+39333{1000000 + i * 7919 % 9000000:07d}"
            if phone in existing:
                continue
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, province, cap = rng.choice(CITIES)
            new.append(
                Contact(
                    phone=phone, first_name=first, last_name=last,
                    email=f"{first}.{last}{i}@example.com".lower().replace(" ", ""),
                    language=rng.choice(["it", "it", "it", "en", "de"]),
                    gender=rng.choice(["female", "male", ""]),
                    birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 20000)),
                    city=city, province=province, postal_code=cap, country="IT",
                    company=rng.choice(["", "", "Acme S.r.l.", "Bottega Verde", "Caffè Roma"]),
                    fields={
                        "loyalty_tier": rng.choice(["bronze", "silver", "gold"]),
                        "points": rng.randrange(0, 5000),
                        "vip": rng.random() < 0.1,
                        "customer_since": (dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(0, 4000))).isoformat(),
                    },
                    opted_out=rng.random() < 0.04,
                )
            )  # fmt: skip
        Contact.objects.bulk_create(new, batch_size=500)
        phones = [c.phone for c in new]
        ids = list(Contact.objects.filter(phone__in=phones).values_list("pk", flat=True))
        memberships, tagged = [], []
        for cid in ids:
            for cl in rng.sample(lists, rng.randint(1, 2)):
                memberships.append(Membership(contact_id=cid, contact_list=cl))
            tagged.append(Contact.tags.through(contact_id=cid, tag_id=rng.choice(tags).pk))
        Membership.objects.bulk_create(memberships, ignore_conflicts=True, batch_size=1000)
        Contact.tags.through.objects.bulk_create(tagged, ignore_conflicts=True, batch_size=1000)
        return len(new)

    def _templates(self):
        from messaging.models import ProviderAccount
        from messaging.templating.demo import seed_demo_templates

        seed_demo_templates(ProviderAccount.objects.filter(name="Sandbox (demo)").first())

    def _sandbox_account(self):
        from messaging.models import ProviderAccount

        account, _created = ProviderAccount.objects.get_or_create(
            name="Sandbox (demo)",
            defaults={"provider": "sandbox", "settings": {"seed": 42, "sender": "Switchboard"}},
        )
        # Its senders (an SMS name, a WhatsApp number, an RCS agent), so the campaign form offers some.
        from messaging.senders.services import record_pulled_senders

        record_pulled_senders(account, list(account.get_provider().iter_senders()))

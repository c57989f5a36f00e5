"""Demo automations for `manage.py seed_demo` (idempotent: found by name, never doubled)."""

from __future__ import annotations

from contacts.models import ContactList, Tag
from messaging.models import ProviderAccount

from . import services
from .models import Automation


def seed_automations(stdout=None) -> int:
    """The automations of issue 12's first paragraph, on the demo Sandbox account; returns how many are new."""
    account = ProviderAccount.objects.filter(provider="sandbox").order_by("pk").first()
    if account is None:
        return 0
    services.pull_provider_automations(account)
    onboarding = account.provider_automations.filter(name="Onboarding").first()
    vip = ContactList.objects.filter(name="VIP customers").first() or ContactList.objects.create(
        name="VIP customers"
    )
    leads, _ = ContactList.objects.get_or_create(
        name="Leads", defaults={"description": "Asked for information"}
    )
    for name in ("welcomed", "info", "lead"):
        Tag.objects.get_or_create(name=name)
    specs = [
        ("Welcome new VIP customers", {"type": "list_added", "list": vip.pk}, [
            {"type": "add_tag", "tag": "welcomed"},
            *([{"type": "start_provider_automation", "account": account.pk, "automation": onboarding.pk,
                "variables": {"first_name": "{{first_name}}"}}] if onboarding else []),
            {"type": "send_text", "account": account.pk, "channel": "sms", "text": "Benvenuto tra i VIP, {{first_name}}!"},
        ]),
        ("INFO keyword → Leads list", {"type": "inbound_keyword", "keywords": ["info"], "match": "contains"}, [
            {"type": "add_tag", "tag": "info"}, {"type": "add_to_list", "list": leads.pk},
        ]),
        ("Birthday greetings at 9:00", {"type": "date_field", "field": "birth_date", "at": "09:00"}, [
            {"type": "send_text", "account": account.pk, "channel": "sms", "text": "Tanti auguri, {{first_name}}!"},
        ]),
        ("WhatsApp not read within 24 h → SMS",
         {"type": "message_status", "status": "read", "within_hours": 24, "channel": "whatsapp"}, [
            {"type": "send_text", "account": account.pk, "channel": "sms", "text": "Ciao {{first_name}}, ti abbiamo scritto su WhatsApp."},
        ]),
    ]  # fmt: skip
    created = 0
    for name, trigger, actions in specs:
        if Automation.objects.filter(name=name).exists():
            continue
        services.save_automation({"name": name, "enabled": True, "trigger": trigger, "conditions": [{"type": "not_opted_out"}],
                                  "actions": actions})  # fmt: skip
        created += 1
    if stdout is not None:
        stdout.write(
            f"Automations: {Automation.objects.count()} ({created} new), e.g. “Welcome new VIP customers”."
        )
    return created

"""Shared set-up for the automation tests: accounts, a Spoki fake, pulled automations, a drain."""

from __future__ import annotations

from automations import services
from automations.engine import drain_events, run_due
from contacts.events import ContactEvent
from messaging.models import ProviderAccount

KEY = "spoki-key-automations"


def spoki_account(server, name="Spoki test") -> ProviderAccount:
    return ProviderAccount.objects.create(
        provider="spoki", name=name, base_url=server.url, credentials={"api_key": KEY}
    )


def sandbox_account(name="Sandbox") -> ProviderAccount:
    return ProviderAccount.objects.create(provider="sandbox", name=name)


def pulled(account, remote_id=None):
    services.pull_provider_automations(account)
    qs = account.provider_automations.all()
    return qs.get(remote_id=str(remote_id)) if remote_id is not None else qs.first()


def automation(name="A", *, trigger, actions, conditions=None, enabled=True, **extra):
    return services.save_automation(
        {"name": name, "enabled": enabled, "trigger": trigger, "conditions": conditions or [], "actions": actions,
         **extra}
    )  # fmt: skip


def drain():
    """What the worker does after a commit: consume events, perform due steps."""
    counts = drain_events()
    run_due()
    return counts


def pending_events() -> int:
    return ContactEvent.objects.filter(consumed_at__isnull=True).count()

"""Spoki automations as normalised RemoteAutomation records, and starting them (mixed into SpokiProvider).

Pull: GET /automations/ (paged; webhook_set[] holds each API trigger's uuid and secret) and
GET /automations/{id}/custom-fields-used/ for the fields the automation reads. Start:
POST /wh/ap/{uuid}/ for one contact, /wh/ap/{uuid}/bulk/ for up to 500, with the trigger's
secret in the body and no API key (the raw-dict hooks in content.py do the calls).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..base import RemoteAutomation, RemoteContact
from ..errors import ProviderError
from .common import MAX_BULK


def automation_from_api(payload: dict, used: dict | None = None) -> RemoteAutomation:
    trigger_id = secret = ""
    for hook in payload.get("webhook_set") or []:
        if hook.get("is_active", True) and hook.get("uuid") and hook.get("secret"):
            trigger_id, secret = str(hook["uuid"]), str(hook["secret"])
            break
    fields: list[str] = []
    if used:
        fields += [str(f) for f in used.get("contact_fields") or []]
        fields += [str(f.get("code")) for f in used.get("custom_fields") or [] if isinstance(f, dict) and f.get("code")]
    return RemoteAutomation(
        remote_id=str(payload.get("id", "")),
        name=str(payload.get("name") or "")[:200],
        is_active=bool(payload.get("is_active", True)),
        fields=list(dict.fromkeys(fields)),
        trigger_id=trigger_id,
        trigger_secret=secret,
        raw={k: v for k, v in payload.items() if k != "webhook_set"},
    )


class SpokiAutomationsMixin:
    """iter_provider_automations / start_provider_automation for SpokiProvider."""

    automation_bulk_limit = MAX_BULK

    def iter_provider_automations(self) -> Iterator[RemoteAutomation]:
        """Every automation with the fields it uses (one extra call each for custom-fields-used)."""
        for payload in self.iter_automations():
            try:
                used = self.automation_custom_fields_used(str(payload.get("id")))
            except ProviderError:
                used = None  # the list is still useful without the field names
            yield automation_from_api(payload, used)

    def start_provider_automation(
        self, automation: RemoteAutomation, contacts: list[RemoteContact], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """One contact: /wh/ap/{uuid}/; several (≤ 500): /wh/ap/{uuid}/bulk/."""
        hook = {"id": automation.remote_id,
                "webhook_set": [{"uuid": automation.trigger_id, "secret": automation.trigger_secret, "is_active": True}]}  # fmt: skip
        if len(contacts) == 1:
            self.start_automation(hook, contacts[0], metadata)
        elif contacts:
            self.start_automation_bulk(hook, contacts, metadata)

"""Sandbox automations: two fixed flows staff can pick and start with no provider account."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from ..base import RemoteAutomation, RemoteContact
from ..errors import Rejected

log = logging.getLogger(__name__)

FLOWS = (("1", "Onboarding", ["first_name"]), ("2", "Birthday greetings", ["first_name", "BIRTHDAY_GIFT"]))


class SandboxAutomationsMixin:
    """iter_provider_automations / start_provider_automation for the in-process Sandbox."""

    automation_bulk_limit = 500

    def _secret(self, remote_id: str) -> str:
        seed = f"{getattr(self.account, 'pk', 0)}:{remote_id}"
        return hashlib.sha256(seed.encode()).hexdigest()[:32]

    def iter_provider_automations(self) -> Iterator[RemoteAutomation]:
        for remote_id, name, fields in FLOWS:
            yield RemoteAutomation(
                remote_id=remote_id, name=name, fields=list(fields), trigger_id=f"sandbox-{remote_id}",
                trigger_secret=self._secret(remote_id),
            )  # fmt: skip

    def start_provider_automation(
        self,
        automation: RemoteAutomation,
        contacts: list[RemoteContact],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if automation.trigger_secret != self._secret(automation.remote_id):
            raise Rejected(
                "Sandbox rejected the request (403): invalid automation secret", provider="sandbox"
            )
        if len(contacts) > self.automation_bulk_limit:
            raise Rejected(
                "Sandbox rejected the request (400): at most 500 contacts per call", provider="sandbox"
            )
        log.info("sandbox automation %s started for %d contacts", automation.name, len(contacts))

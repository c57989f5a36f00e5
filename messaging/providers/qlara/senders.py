"""Qlara's senders: SMS senders, RCS agents and WhatsApp numbers, as normalised RemoteSender records.

The collection documents the three listings (`GET …/sms/senders`, `…/rcs/agents`,
`…/whatsapp/phone-numbers`) but its saved examples are `{}`, so the field names are read
tolerantly: the first of several plausible keys that is present wins. `address` is what a send
names (the sender text, the agent id, the phone number id — MD's `phoneNumberId`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..base import Channel, RemoteSender

# Words Qlara (or its examples) may use for a sender that can be used; anything else is shown
# to staff as the provider's word and the sender is kept inactive.
USABLE = frozenset({"", "approved", "active", "enabled", "verified", "connected", "receive_and_send", "send"})


def _pick(row: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = row.get(key)
        if value not in (None, ""):
            return str(value)
    return ""


def _usable(status: str) -> bool:
    return status.strip().lower() in USABLE


def sms_sender(row: dict[str, Any]) -> RemoteSender | None:
    address = _pick(row, "sender", "name", "value", "senderName", "alias")
    if not address:
        return None
    status = _pick(row, "status", "state")
    return RemoteSender(channel=Channel.SMS.value, address=address, label=address, active=_usable(status),
                        status=status, raw=row)  # fmt: skip


def rcs_agent(row: dict[str, Any]) -> RemoteSender | None:
    address = _pick(row, "agentId", "agent_id", "id")
    if not address:
        return None
    status = _pick(row, "status", "state")
    return RemoteSender(channel=Channel.RCS.value, address=address, label=_pick(row, "name", "displayName") or address,
                        active=_usable(status), status=status, raw=row)  # fmt: skip


def whatsapp_number(row: dict[str, Any]) -> RemoteSender | None:
    address = _pick(row, "id", "phoneNumberId", "phone_number_id")
    if not address:
        return None
    number = _pick(row, "phoneNumber", "displayPhoneNumber", "phone_number")
    name = _pick(row, "displayName", "verifiedName", "name")
    label = f"{name} ({number})" if name and number else (name or number or address)
    status = _pick(row, "status", "onboardingScope")
    return RemoteSender(channel=Channel.WHATSAPP.value, address=address, label=label,
                        active=_usable(status), status=status, raw=row)  # fmt: skip


def iter_senders(provider) -> Iterator[RemoteSender]:
    """Every sender on the account, SMS first, then RCS agents, then WhatsApp numbers."""
    for rows, build in (
        (provider.iter_sms_senders(), sms_sender),
        (provider.iter_rcs_agents(), rcs_agent),
        (provider.iter_whatsapp_numbers(), whatsapp_number),
    ):
        for row in rows:
            sender = build(row) if isinstance(row, dict) else None
            if sender is not None:
                yield sender

"""Spoki's senders: the account's channels (`GET /api/1/channel/`), WhatsApp numbers and SMS senders.

`address` is the channel id, which a send names as `channel_id`. The documented object has
`platform` (1 WhatsApp, 3 SMS one-way) and `status` (1 Onboarding started, 2 Connected,
3 Active, 4 Disconnected) as integers; the saved examples show the words instead
("WhatsApp", "Active"), and the account's embedded channels carry `is_active` and `phone`
instead of `identifier`. All of these are read; only Active channels can send ("Channel must
be active"), the others are kept inactive with their status in words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..base import Channel, RemoteSender

PLATFORMS = {1: Channel.WHATSAPP.value, 3: Channel.SMS.value, "whatsapp": Channel.WHATSAPP.value,
             "sms one-way": Channel.SMS.value, "sms": Channel.SMS.value}  # fmt: skip
STATUSES = {1: "Onboarding Started", 2: "Connected", 3: "Active", 4: "Disconnected"}


def _platform(value: Any) -> str:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, str):
        value = value.strip().lower()
    return PLATFORMS.get(value, "")


def _status(value: Any) -> str:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return STATUSES.get(value, str(value))
    return str(value or "").strip()


def sender_from_channel(row: dict[str, Any]) -> RemoteSender | None:
    channel = _platform(row.get("platform", 1 if "phone_status" in row else None))
    if not channel or row.get("id") in (None, ""):
        return None
    number = str(row.get("identifier") or row.get("phone") or "")
    name = str(row.get("name") or "")
    label = f"{name} ({number})" if name and number else (name or number or str(row["id"]))
    status = _status(row.get("status"))
    active = status.lower() == "active" if status else bool(row.get("is_active", False))
    return RemoteSender(channel=channel, address=str(row["id"]), label=label, active=active,
                        status=status, raw=row)  # fmt: skip


def iter_senders(provider) -> Iterator[RemoteSender]:
    for row in provider.iter_channels():
        sender = sender_from_channel(row) if isinstance(row, dict) else None
        if sender is not None:
            yield sender

"""Spryng's senders: the WhatsApp numbers of the account's WABA (Meta's `…/{waba_id}/phone_numbers`).

`address` is Meta's phone number id, which a WhatsApp send names. Spryng documents no listing
of SMS originators (any text up to 11 letters or 14 digits is accepted per message), so SMS
senders are typed by staff on the account. Without a `waba_id` setting there is nothing to list.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..base import Channel, RemoteSender


def sender_from_phone_number(row: dict[str, Any]) -> RemoteSender | None:
    address = str(row.get("id") or "")
    if not address:
        return None
    number = str(row.get("display_phone_number") or "")
    name = str(row.get("verified_name") or "")
    label = f"{name} ({number})" if name and number else (name or number or address)
    status = str(
        row.get("code_verification_status") or row.get("name_status") or row.get("quality_rating") or ""
    )
    # Meta refuses sends from numbers whose display name was rejected; everything else can send.
    active = str(row.get("name_status") or "").upper() not in ("DECLINED", "REJECTED")
    return RemoteSender(channel=Channel.WHATSAPP.value, address=address, label=label, active=active,
                        status=status, raw=row)  # fmt: skip


def iter_senders(provider) -> Iterator[RemoteSender]:
    if not provider.settings.get("waba_id"):
        return
    for row in provider.iter_whatsapp_numbers():
        sender = sender_from_phone_number(row) if isinstance(row, dict) else None
        if sender is not None:
            yield sender

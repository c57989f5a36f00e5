"""MyOperator's senders: the account's WhatsApp numbers (`GET /chat/phonenumbers`).

`address` is the Meta `phone_number_id` a send names; the label is the WABA name (with
`expand=waba_account`) and the number. A number is usable when its `status` is "active" and
Meta has it connected (`phone_number_status` "connected"; an "otp_verified" number whose
onboarding is still "pending" cannot send yet).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..base import Channel, RemoteSender


def sender_from_phone_number(row: dict[str, Any]) -> RemoteSender | None:
    address = str(row.get("phone_number_id") or "")
    if not address:
        return None
    number = (
        f"+{row.get('country_code') or ''}{row.get('phone_number') or ''}" if row.get("phone_number") else ""
    )
    waba = row.get("waba_account") if isinstance(row.get("waba_account"), dict) else {}
    name = str(waba.get("waba_name") or "")
    label = f"{name} ({number})" if name and number else (name or number or address)
    status = str(row.get("status") or "")
    phone_status = str(row.get("phone_number_status") or "")
    active = status.lower() == "active" and phone_status.lower() in ("", "connected")
    words = ", ".join(w for w in (status, phone_status) if w)
    return RemoteSender(channel=Channel.WHATSAPP.value, address=address, label=label, active=active,
                        status=words, raw=row)  # fmt: skip


def iter_senders(provider) -> Iterator[RemoteSender]:
    waba_id = str(provider.settings.get("waba_id") or "")
    for row in provider.iter_phone_numbers(waba_id=waba_id, expand="waba_account"):
        sender = sender_from_phone_number(row) if isinstance(row, dict) else None
        if sender is not None:
            yield sender

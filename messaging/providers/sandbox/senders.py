"""The Sandbox's senders: one plausible sender per channel, so the campaign form has something to pick."""

from __future__ import annotations

from collections.abc import Iterator

from ..base import Channel, RemoteSender


class SandboxSendersMixin:
    """Senders of the in-process provider (its own `sender` setting first, when set)."""

    def iter_senders(self) -> Iterator[RemoteSender]:
        """An SMS originator, a WhatsApp number, an RCS agent and a voice caller id, all active."""
        own = str(self.settings.get("sender") or "")
        if own and own != "Switchboard":
            yield RemoteSender(channel=Channel.SMS.value, address=own, label=own, status="active")
        yield RemoteSender(
            channel=Channel.SMS.value, address="Switchboard", label="Switchboard", status="active"
        )
        yield RemoteSender(channel=Channel.WHATSAPP.value, address="sandbox-wa-1",
                           label="Switchboard Sandbox (+39 02 0000 0001)", status="active")  # fmt: skip
        yield RemoteSender(channel=Channel.RCS.value, address="sandbox_rcs_agent", label="Switchboard Sandbox",
                           status="active")  # fmt: skip
        yield RemoteSender(channel=Channel.VOICE.value, address="+390200000002", label="+39 02 0000 0002",
                           status="active")  # fmt: skip

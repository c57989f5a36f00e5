"""Registering our webhook URL with Spoki: one V2 external webhook per event type we handle.

Spoki gives every subscription its own signing secret ("whsec_…"); we keep them as a map
{event: secret} in the account's encrypted webhook secret, and webhooks.verify picks the one
for the event a body names. Only subscriptions whose ids we recorded, or whose URL is ours, are
touched: other integrations on the same Spoki account are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import unpage

# message.note, chat, channel, campaign and form events change nothing we keep.
EVENTS = (
    "message.inbound", "message.outbound",
    "contact.created", "contact.updated", "contact.deleted",
    "contact_tag.created", "contact_tag.deleted", "contact_list.created", "contact_list.deleted",
    "contact_field.created_or_updated", "contact_field.deleted",
    "template.created", "template.updated", "template.deleted",
)  # fmt: skip


def register(provider, url: str, current: Mapping[str, Any]) -> dict[str, Any]:
    known = {str(k): str(v) for k, v in (current.get("subscriptions") or {}).items()}
    rows, _, _ = unpage(provider.http.get(provider._path("external-webhooks"), bucket="webhooks"))
    by_id = {str(r.get("id")): r for r in rows if isinstance(r, dict)}
    mine: dict[str, dict] = {}
    for row in by_id.values():
        event = str(row.get("event") or "")
        if event in EVENTS and (row.get("url") == url or known.get(event) == str(row.get("id"))):
            mine.setdefault(event, row)
    subscriptions, secrets = {}, {}
    for event in EVENTS:
        row = mine.get(event)
        if row is None:
            body = {"event": event, "version": 2, "url": url, "is_active": True}
            row = provider.http.post(provider._path("external-webhooks"), json_body=body, bucket="webhooks")
        elif row.get("url") != url or not row.get("is_active", True) or int(row.get("version") or 1) < 2:
            path = provider._path(f"external-webhooks/{row['id']}")
            patch = {"url": url, "is_active": True, "version": 2}
            row = {**row, **(provider.http.patch(path, json_body=patch, bucket="webhooks") or {})}
        subscriptions[event] = str(row.get("id"))
        secrets[event] = str(row.get("secret") or "")
    return {"url": url, "subscriptions": subscriptions, "secrets": secrets}


def rotate(provider, current: Mapping[str, Any]) -> dict[str, Any]:
    subscriptions = {str(k): str(v) for k, v in (current.get("subscriptions") or {}).items()}
    secrets = {}
    for event, remote_id in subscriptions.items():
        path = provider._path(f"external-webhooks/{remote_id}/rotate_secret")
        row = provider.http.post(path, json_body={}, bucket="webhooks", idempotent=True) or {}
        secrets[event] = str(row.get("secret") or "")
    return {**current, "subscriptions": subscriptions, "secrets": secrets}

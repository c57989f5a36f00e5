"""The operations on senders: the sync's upsert of pulled ones, staff's manual ones, and the check
a campaign's sender must pass.

Every write here runs in one transaction; callers (the sync resource, the admin, the campaign
rules) hold no locks of their own. Nothing here knows a provider's field names: the provider
package turns its listing into RemoteSender records.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from messaging.providers.base import Op, RemoteSender, Resource

from .models import Sender

MAX_NAMED = 5  # senders named in a refusal ("choose one of …")


def lists_senders(account) -> bool:
    """Whether the account's provider lists its senders (else staff type them on the account)."""
    return account.provider_class.capabilities.supports(Resource.SENDERS, Op.PULL)


def record_pulled_senders(account, remote: list[RemoteSender]) -> dict[str, int]:
    """Upsert the provider's complete listing; switch off pulled senders it no longer lists.

    A manual sender the provider turns out to list becomes a pulled one (the provider now keeps
    it up to date). An empty listing switches nothing off: it says more about the account (a
    missing setting, a suspended channel) than about each sender, and the run notes it.
    Returns counts: created, updated, unchanged, deactivated, skipped.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deactivated": 0, "skipped": 0}
    now = timezone.now()
    valid = set(Sender.Channel.values)
    seen: dict[tuple[str, str], RemoteSender] = {}
    for item in remote:
        address = (item.address or "").strip()[:100]
        if not address or item.channel not in valid:
            counts["skipped"] += 1
            continue
        seen.setdefault((item.channel, address), item)
    with transaction.atomic():
        existing = {
            (s.channel, s.address): s for s in Sender.objects.select_for_update().filter(account=account)
        }
        for (channel, address), item in seen.items():
            label = (item.label or address).strip()[:200]
            status = (item.status or "").strip()[:100]
            sender = existing.get((channel, address))
            if sender is None:
                Sender.objects.create(account=account, channel=channel, address=address, label=label,
                                      active=item.active, source=Sender.Source.PULLED, provider_status=status,
                                      last_seen_at=now)  # fmt: skip
                counts["created"] += 1
                continue
            changes = {"label": label, "active": item.active, "source": Sender.Source.PULLED,
                       "provider_status": status}  # fmt: skip
            changed = [k for k, v in changes.items() if getattr(sender, k) != v]
            for key in changed:
                setattr(sender, key, changes[key])
            sender.last_seen_at = now
            sender.save(update_fields=[*changed, "last_seen_at"])
            counts["updated" if changed else "unchanged"] += 1
        if seen:
            gone = [
                s.pk for key, s in existing.items()
                if key not in seen and s.source == Sender.Source.PULLED and s.active
            ]  # fmt: skip
            counts["deactivated"] = Sender.objects.filter(pk__in=gone).update(active=False)
    return counts


def manual_sender_problems(account, *, channel: str, address: str, label: str = "",
                           sender: Sender | None = None) -> dict[str, list[str]]:  # fmt: skip
    """Every reason this sender cannot be saved, by field (the admin form shows them on the fields)."""
    address = (address or "").strip()
    label = (label or "").strip()
    errors: dict[str, list[str]] = {}
    if channel not in Sender.Channel.values:
        errors["channel"] = [_("Choose SMS, WhatsApp, RCS or voice.")]
    if not address:
        errors["address"] = [_("Give the sender: a name or number for SMS, the phone number id for WhatsApp, "
                               "the agent id for RCS.")]  # fmt: skip
    elif len(address) > 100 or any(ord(c) < 32 or ord(c) == 127 for c in address):
        errors["address"] = [_("The sender must be at most 100 characters, without control characters.")]
    if any(ord(c) < 32 or ord(c) == 127 for c in label):
        errors["label"] = [_("The name must not contain control characters.")]
    if (
        sender is not None
        and sender.source == Sender.Source.PULLED
        and (sender.channel != channel or sender.address != address)
    ):
        errors["address"] = [
            _("This sender comes from the provider: its channel and address cannot change here.")
        ]
    if not errors and account is not None:
        taken = Sender.objects.filter(account=account, channel=channel, address=address)
        if sender is not None and sender.pk:
            taken = taken.exclude(pk=sender.pk)
        if taken.exists():
            errors["address"] = [_("This account already has this sender.")]
    return errors


def save_manual_sender(account, *, channel: str, address: str, label: str = "", active: bool = True,
                       sender: Sender | None = None) -> Sender:  # fmt: skip
    """Create or change a sender typed by staff. A pulled sender keeps its channel and address
    (the provider's); staff may still rename it or switch it off. Raises ValidationError by field."""
    errors = manual_sender_problems(account, channel=channel, address=address, label=label, sender=sender)
    if errors:
        raise ValidationError(errors)
    if sender is None:
        sender = Sender(account=account, source=Sender.Source.MANUAL)
    sender.channel, sender.address = channel, (address or "").strip()
    sender.label, sender.active = (label or "").strip()[:200], bool(active)
    try:
        with transaction.atomic():
            sender.save()
    except IntegrityError:  # a race with another save of the same sender
        raise ValidationError({"address": [_("This account already has this sender.")]}) from None
    return sender


def active_senders(account, channel: str):
    """The account's senders a campaign on `channel` can use."""
    return Sender.objects.filter(account=account, channel=channel, active=True)


def check_sender(account, channel: str, address: str) -> str:
    """Why `address` cannot be this campaign's sender ("" when it can, or when it is blank:
    blank means the account's default, as its settings say). Only the address is matched: the
    name shown may repeat, the address is what the provider is given."""
    address = (address or "").strip()
    if not address or account is None:
        return ""
    usable = list(active_senders(account, channel).order_by("label", "address"))
    if any(s.address == address for s in usable):
        return ""
    known = Sender.objects.filter(account=account, channel=channel, address=address).first()
    if known is not None:
        return _("“%(sender)s” is switched off on %(account)s.") % {"sender": known, "account": account.name}
    if not usable:
        if lists_senders(account):
            return _("%(account)s has no active sender for this channel. Sync the account to pull its "
                     "senders, or add one on the account.") % {"account": account.name}  # fmt: skip
        return _("%(account)s has no sender for this channel yet: add one on the account first.") % {
            "account": account.name
        }
    names = ", ".join(str(s) for s in usable[:MAX_NAMED])
    return _("%(account)s has no sender “%(sender)s” for this channel. Choose one of: %(names)s.") % {
        "account": account.name, "sender": address, "names": names,
    }  # fmt: skip


def pull_senders_later(account, *, trigger: str = "api", user=None):
    """After an account is saved: queue a pull of its senders (on commit), where its provider lists them.

    Returns the SyncRun, or None when there is nothing to pull (inactive account, no listing).
    """
    if account is None or not account.is_active or not lists_senders(account):
        return None
    from messaging.sync.services import start_sync

    run, _started = start_sync(account, "senders", "pull", trigger=trigger, user=user)
    return run

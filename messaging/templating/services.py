"""Template services: the only code that writes templates and their per-account statuses.

Campaigns call `is_template_approved()` and `render_template()` (rendering.py); the admin,
the API, the sync command and tasks call the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from messaging.providers.errors import ProviderError

from .models import MessageTemplate, TemplateLink
from .remote import apply_remote, content_fingerprint, incoming, our_status, outgoing
from .rendering import RenderedTemplate, render_template
from .usage import template_uses

__all__ = ["ApprovalCheck", "RenderedTemplate", "is_template_approved", "render_template", "template_uses"]


@dataclass(frozen=True)
class ApprovalCheck:
    """`bool(check)` is True when the template may be sent on the account; else `reason` says why."""

    approved: bool
    reason: str = ""
    status: str = ""  # the TemplateLink status, "" when never submitted there
    remote_id: str = ""

    def __bool__(self) -> bool:
        return self.approved


def is_template_approved(template: MessageTemplate, account) -> ApprovalCheck:
    """Whether `template` is approved on `account`, else why not (in words for staff).

    SMS templates need no approval: they are usable on any account that sends SMS.
    """
    provider = account.provider_class
    if template.kind == MessageTemplate.Kind.SMS:
        if provider.capabilities.can_send("sms"):
            return ApprovalCheck(True, status=TemplateLink.Status.APPROVED)
        return ApprovalCheck(False, _("%(account)s cannot send SMS.") % {"account": account})
    link = TemplateLink.objects.filter(template=template, account=account).first()
    if link is None:
        return ApprovalCheck(
            False,
            _("“%(name)s” was never submitted to %(account)s.") % {"name": template.name, "account": account},
        )
    if link.status == TemplateLink.Status.APPROVED:
        return ApprovalCheck(True, status=link.status, remote_id=link.remote_id)
    words = {
        TemplateLink.Status.DRAFT: _("is a draft on %(account)s (not submitted for review)"),
        TemplateLink.Status.PENDING: _("is still waiting for review on %(account)s"),
        TemplateLink.Status.REJECTED: _("was rejected on %(account)s"),
        TemplateLink.Status.PAUSED: _("is paused on %(account)s"),
        TemplateLink.Status.DISABLED: _("is disabled on %(account)s"),
    }
    reason = _("“%(name)s” ") % {"name": template.name} + words.get(
        link.status, _("is not usable on %(account)s")
    ) % {"account": account}
    if link.reason:
        reason += f": {link.reason}"
    return ApprovalCheck(False, reason, status=link.status, remote_id=link.remote_id)


# --- writing templates ----------------------------------------------------------------------------


class TemplateInUse(Exception):
    """Deleting the template is refused: a scheduled or sending campaign (or similar) uses it."""


def _full_clean(template: MessageTemplate) -> None:
    template.full_clean()


@transaction.atomic
def create_template(data: dict, *, user=None) -> MessageTemplate:
    """Create a template from field values; ValidationError (by field) when a rule is broken."""
    template = MessageTemplate(**data)
    template.created_by = user if getattr(user, "pk", None) else None
    _full_clean(template)
    template.save()
    return template


def approved_links(template: MessageTemplate) -> list[TemplateLink]:
    return list(template.links.filter(status=TemplateLink.Status.APPROVED).select_related("account"))


def edit_warning(template: MessageTemplate) -> str:
    """What staff must read before saving an edit (empty when nothing is submitted anywhere)."""
    links = list(template.links.exclude(remote_id="").select_related("account"))
    if not links:
        return ""
    names = ", ".join(link.account.name for link in links)
    message = _(
        "Saving sends the template for review again on every account (%(names)s); until approved it cannot be sent there."
    ) % {"names": names}
    replace = [link.account.name for link in links if not link.account.get_provider().can_update_templates]
    if replace:
        message += " " + _(
            "%(names)s cannot edit templates: the old one is deleted there and a new one created, "
            "which loses its approval and its quality history."
        ) % {"names": ", ".join(replace)}
    return message


@transaction.atomic
def update_template(
    template: MessageTemplate, data: dict, *, resubmit: bool = True, confirm_replace: bool = False
) -> tuple[MessageTemplate, list[dict]]:
    """Change a template; when its content changed, send it again to every account it is on.

    Returns (template, per-account outcomes). Providers that cannot edit templates get delete +
    create only with confirm_replace=True (else their outcome asks for it).
    """
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    before = content_fingerprint(template)
    for field, value in data.items():
        setattr(template, field, value)
    _full_clean(template)
    template.save()
    outcomes: list[dict] = []
    if resubmit and content_fingerprint(template) != before:
        accounts = [link.account for link in template.links.exclude(remote_id="").select_related("account")]
        if accounts:
            outcomes = submit_template(template, accounts, confirm_replace=confirm_replace)
    return template, outcomes


def template_users(template: MessageTemplate) -> list:
    return template_uses(template)


@transaction.atomic
def delete_template(template: MessageTemplate, *, remote: bool = True, force: bool = False) -> list[str]:
    """Delete a template here and (remote=True) on every account it was submitted to.

    Refused with TemplateInUse when a blocking user (a scheduled or sending campaign) holds it,
    naming it. `force` is passed to providers that refuse while an automation of theirs uses it
    (Spoki). Returns notes for staff (e.g. an account that could not delete it).
    """
    blocking = [use.label for use in template_uses(template) if use.blocking]
    if blocking:
        raise TemplateInUse(
            _("“%(name)s” cannot be deleted: %(users)s uses it.")
            % {"name": template.name, "users": ", ".join(blocking)}
        )
    notes = []
    if remote:
        for link in template.links.exclude(remote_id="").select_related("account"):
            provider = link.account.get_provider()
            try:
                provider.delete_template_for(link.remote_id, language=template.language, force=force)
            except ProviderError as exc:
                raise TemplateInUse(
                    _("%(account)s refused to delete it: %(detail)s")
                    % {"account": link.account, "detail": exc}
                ) from exc
    template.delete()
    return notes


# --- submitting -----------------------------------------------------------------------------------


def _outcome(account, link: TemplateLink | None, ok: bool, detail: str = "") -> dict:
    return {
        "account": account.pk,
        "account_name": account.name,
        "provider": account.provider,
        "ok": ok,
        "status": link.status if link else "",
        "reason": link.reason if link else "",
        "remote_id": link.remote_id if link else "",
        "detail": detail,
    }


def accounts_for(template: MessageTemplate):
    """Active accounts whose provider can hold templates of this kind (what staff are offered)."""
    from messaging.models import ProviderAccount

    out = []
    for account in ProviderAccount.objects.filter(is_active=True).order_by("name"):
        cls = account.provider_class
        if cls.capabilities.supports("templates", "push") and template.kind in cls.template_kinds:
            out.append(account)
    return out


def submit_template(
    template: MessageTemplate, accounts, *, user=None, confirm_replace: bool = False
) -> list[dict]:
    """Send the template for approval to each account; one outcome dict per account.

    Validates first (ValidationError, nothing sent). A provider's refusal is kept on the
    account's TemplateLink (status rejected, the provider's own words) and the others go on.
    """
    _full_clean(template)
    if template.kind == MessageTemplate.Kind.SMS:
        raise ValidationError({"kind": _("SMS templates need no approval: they can be used at once.")})
    return [push_template(template, account, confirm_replace=confirm_replace) for account in accounts]


def push_template(
    template: MessageTemplate, account, *, provider=None, confirm_replace: bool = False
) -> dict:
    """Create or update the template on one account and record the outcome (its own transaction)."""
    provider = provider or account.get_provider()
    cls = type(provider)
    if not cls.capabilities.supports("templates", "push") or template.kind not in cls.template_kinds:
        return _outcome(account, None, False, _("%(account)s cannot hold %(kind)s templates.") % {
            "account": account, "kind": template.get_kind_display()})  # fmt: skip
    link, _created = TemplateLink.objects.get_or_create(template=template, account=account)
    if link.remote_id and link.status in (TemplateLink.Status.PENDING, TemplateLink.Status.APPROVED):
        from messaging.sync.models import RemoteLink

        synced = RemoteLink.objects.filter(account=account, template=template).values_list(
            "fingerprint", flat=True
        )
        if content_fingerprint(template) in synced:
            # Submitting again what is already there would only send an approved template back to review.
            return _outcome(account, link, True, _("Already submitted; nothing changed since."))
    record, order = outgoing(template, provider, link.remote_id)
    now = timezone.now()
    try:
        if link.remote_id and not provider.can_update_templates:
            if not confirm_replace:
                return _outcome(account, link, False, _(
                    "%(account)s cannot edit templates: confirm to delete it there and create it again "
                    "(it loses its approval until reviewed again).") % {"account": account})  # fmt: skip
            provider.delete_template_for(link.remote_id, language=template.language)
            record.remote_id = ""
            result = provider.create_template(record)
        elif link.remote_id:
            result = provider.update_template(record)
        else:
            result = provider.create_template(record)
        remote_id = result.remote_id or link.remote_id
        if remote_id:
            provider.submit_template(remote_id)
    except ProviderError as exc:
        with transaction.atomic():
            changed = link.set_status(TemplateLink.Status.REJECTED, str(exc), now=now)
            link.save(update_fields=changed or None)
        return _outcome(account, link, False, str(exc))
    with transaction.atomic():
        status = our_status(result, TemplateLink.Status.PENDING)
        if status == TemplateLink.Status.DRAFT:
            status = TemplateLink.Status.PENDING  # submitted: under review from now on
        link.set_status(status, result.status_reason or "", now=now)
        link.remote_id, link.variable_order = remote_id, order
        link.submitted_at = link.last_synced_at = now
        link.save()
        _save_remote_link(link, template, incoming(result, provider, order), now)
    return _outcome(account, link, True)


def _save_remote_link(
    link: TemplateLink, template: MessageTemplate, remote_decoded, now, run=None, provider=None
) -> None:
    from messaging.sync.models import RemoteLink
    from messaging.sync.templates import link_key

    key = link_key(provider or link.account.provider_class, link.remote_id, template.language)
    RemoteLink.objects.filter(account=link.account, template=template).exclude(remote_id=key).delete()
    RemoteLink.objects.update_or_create(
        account=link.account, kind=RemoteLink.Kind.TEMPLATE, remote_id=key,
        defaults={
            "template": template, "fingerprint": content_fingerprint(template),
            "remote_fingerprint": content_fingerprint(remote_decoded), "synced_key": f"{template.name}|{template.language}",
            "last_synced_at": now, **({"last_seen_run": run.pk} if run is not None and run.pk else {}),
        },
    )  # fmt: skip


def changed_since_sync(account) -> list[TemplateLink]:
    """This account's submitted templates whose content changed here since the last sync."""
    from messaging.sync.models import RemoteLink

    fps = dict(
        RemoteLink.objects.filter(
            account=account, kind=RemoteLink.Kind.TEMPLATE, template__isnull=False
        ).values_list("template_id", "fingerprint")
    )
    links = TemplateLink.objects.filter(account=account).exclude(remote_id="").select_related("template")
    return [link for link in links if fps.get(link.template_id) != content_fingerprint(link.template)]


# --- pulling (called by messaging/sync/templates.py) --------------------------------------------------


def record_pulled_template(account, provider, remote, *, run=None) -> tuple[str, str]:
    """Match one pulled template (link → name + language → new) and record its status and content.

    Returns (count name: created|updated|unchanged|conflicts, a note or "").
    """
    from messaging.sync.models import RemoteLink
    from messaging.sync.templates import link_key

    now = timezone.now()
    key = link_key(provider, remote.remote_id, remote.language)
    remote_link = (
        RemoteLink.objects.filter(account=account, kind=RemoteLink.Kind.TEMPLATE, remote_id=key)
        .select_related("template")
        .first()
    )
    template = remote_link.template if remote_link else None
    kind = remote.channel or "whatsapp"
    if template is None and remote.language:
        template = MessageTemplate.objects.filter(name=remote.name, language=remote.language).first()
    elif template is None:  # no language at the provider (Qlara's RCS templates): by name and kind
        template = MessageTemplate.objects.filter(name=remote.name, kind=kind).order_by("pk").first()
        if template is not None and template.kind != (remote.channel or "whatsapp"):
            return "unchanged", _("A %(kind)s template called %(name)s (%(language)s) exists here; the %(provider)s one was not linked.") % {
                "kind": template.get_kind_display(), "name": remote.name, "language": remote.language,
                "provider": provider.display_name}  # fmt: skip
    link = TemplateLink.objects.filter(template=template, account=account).first() if template else None
    decoded = incoming(remote, provider, (link.variable_order if link else None) or {})
    outcome, note = "unchanged", ""
    if template is None:
        language = remote.language or settings.LANGUAGE_CODE.split("-")[0]
        template = MessageTemplate(name=remote.name, language=language, kind=kind)
        if template.kind == "rcs":
            template.rcs_type = "carousel" if len(remote.cards) > 1 else "card" if remote.cards else "text"
        apply_remote(template, decoded)
        template.save()
        outcome = "created"
    elif remote_link is not None and remote_link.remote_fingerprint:
        ours_changed = content_fingerprint(template) != remote_link.fingerprint
        theirs_changed = content_fingerprint(decoded) != remote_link.remote_fingerprint
        if theirs_changed and (not ours_changed or account.conflict_policy == "provider_wins"):
            outcome = "conflicts" if ours_changed else "updated"
            if apply_remote(template, decoded):
                template.save()
            else:
                outcome = "unchanged" if not ours_changed else outcome
        elif theirs_changed:
            outcome = "conflicts"
            note = _("%(name)s changed here and at %(provider)s; Switchboard's version is kept and sent on push.") % {
                "name": template.name, "provider": provider.display_name}  # fmt: skip
    if link is None:
        link = TemplateLink(
            template=template,
            account=account,
            remote_id=remote.remote_id,
            variable_order=(
                {"body": decoded.variables} if provider.template_syntax(template.kind).positional else {}
            ),
        )
    changed = link.set_status(our_status(remote, link.status), remote.status_reason or "", now=now)
    if outcome == "unchanged" and link.pk and changed:
        outcome = "updated"
    link.remote_id = remote.remote_id or link.remote_id
    link.last_synced_at = now
    link.save()
    if outcome != "conflicts" or not note:
        _save_remote_link(link, template, decoded, now, run)
    else:
        RemoteLink.objects.filter(account=account, template=template).update(
            last_seen_run=run.pk if run else None
        )
    return outcome, note


def sync_template_now(template: MessageTemplate, *, user=None) -> list[dict]:
    """ "Sync now" on one template: pull its status from every account it is on."""
    outcomes = []
    for link in template.links.exclude(remote_id="").select_related("account"):
        provider = link.account.get_provider()
        try:
            remote = provider.get_template_for(link.remote_id, language=template.language)
        except ProviderError as exc:
            outcomes.append(_outcome(link.account, link, False, str(exc)))
            continue
        record_pulled_template(link.account, provider, remote)
        link.refresh_from_db()
        outcomes.append(_outcome(link.account, link, True))
    return outcomes


def refresh_pending_statuses(template: MessageTemplate, *, older_than) -> int:
    """Pull the status of this template's pending links not synced within `older_than` (the
    live page calls this while staff watch a review); returns how many were asked."""
    cutoff = timezone.now() - older_than
    links = (
        template.links.filter(status=TemplateLink.Status.PENDING)
        .exclude(remote_id="")
        .select_related("account")
    )
    asked = 0
    for link in links:
        if link.last_synced_at and link.last_synced_at > cutoff:
            continue
        provider = link.account.get_provider()
        try:
            remote = provider.get_template_for(link.remote_id, language=template.language)
        except ProviderError:
            TemplateLink.objects.filter(pk=link.pk).update(last_synced_at=timezone.now())
            continue
        record_pulled_template(link.account, provider, remote)
        asked += 1
    return asked

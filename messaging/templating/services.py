"""Template services: the only code that writes templates and their per-account statuses.

Campaigns call `is_template_approved()` and `render_template()` (rendering.py); the admin,
the API, the sync command and tasks call the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from .models import MessageTemplate, TemplateLink
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

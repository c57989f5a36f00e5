"""Where automations meet the rest of Switchboard: accounts, templates, campaigns, sending.

Kept in one module so the other apps' names (H9's templates, H10's Message and send service)
are looked up in one place. Nothing here branches on a provider's name: capabilities decide.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from messaging.models import ProviderAccount


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _pk(value, field: str) -> int:
    if isinstance(value, bool):
        raise _err(field, _("must be an id"))
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise _err(field, _("must be an id")) from None
    if not 1 <= pk <= 2**62:
        raise _err(field, _("must be an id"))
    return pk


def resolve_account(value, field: str) -> ProviderAccount:
    if value in (None, ""):
        raise _err(field, _("choose an account"))
    if isinstance(value, str) and value.strip() and not value.strip().isdigit():
        account = ProviderAccount.objects.filter(name=value.strip()).first()
    else:
        account = ProviderAccount.objects.filter(pk=_pk(value, field)).first()
    if account is None:
        raise _err(field, _("account %(v)s does not exist") % {"v": value})
    if not account.is_active:
        raise _err(field, _("account %(v)s is switched off") % {"v": account})
    return account


def clean_channel(account: ProviderAccount, channel, field: str) -> str:
    """The channel to send on: the one asked for, else the account's first; it must be able to send it."""
    capabilities = account.provider_class.capabilities
    channels = sorted(c.value for c in capabilities.send)
    if not channels:
        raise _err(field, _("account %(a)s cannot send messages") % {"a": account})
    if channel in (None, ""):
        return "sms" if "sms" in channels else channels[0]
    channel = str(channel).lower()
    if channel not in channels:
        raise _err(
            field,
            _("account %(a)s cannot send %(c)s (it sends: %(list)s)")
            % {"a": account, "c": channel, "list": ", ".join(channels)},
        )
    return channel


def _template_model():
    try:
        return apps.get_model("messaging", "MessageTemplate")
    except LookupError:
        return None


def resolve_template(account: ProviderAccount, value, field: str):
    """A template that exists and is approved on `account` (else the reason)."""
    model = _template_model()
    if model is None:
        raise _err(field, _("templates are not available in this installation"))
    if value in (None, ""):
        raise _err(field, _("choose a template"))
    template = model.objects.filter(pk=_pk(value, field)).first()
    if template is None:
        raise _err(field, _("template %(v)s does not exist") % {"v": value})
    reason = template_problem(template, account)
    if reason:
        raise _err(field, reason)
    return template


def template_problem(template, account) -> str:
    """'' when the template can be sent through the account, else why not (H9's approval check)."""
    from messaging.templating.services import is_template_approved

    check = is_template_approved(template, account)
    return "" if check else (check.reason or _("the template is not approved on %(a)s") % {"a": account})


def resolve_campaign(value, field: str) -> int:
    try:
        model = apps.get_model("campaigns", "Campaign")
    except LookupError:
        raise _err(field, _("campaigns are not available in this installation")) from None
    pk = _pk(value, field)
    if not model.objects.filter(pk=pk).exists():
        raise _err(field, _("campaign %(v)s does not exist") % {"v": value})
    return pk


def resolve_provider_automation(account: ProviderAccount, value, field: str):
    from .models import ProviderAutomation

    capabilities = account.provider_class.capabilities
    if not capabilities.supports("automations", "start"):
        raise _err(field, _("account %(a)s cannot start automations") % {"a": account})
    if value in (None, ""):
        raise _err(field, _("choose one of the account's automations"))
    found = None
    if str(value).isdigit():
        found = ProviderAutomation.objects.filter(account=account, pk=int(value)).first()
    if found is None:
        found = ProviderAutomation.objects.filter(account=account, remote_id=str(value)[:64]).first()
    if found is None:
        raise _err(
            field,
            _("automation %(v)s is not among those pulled from %(a)s; pull them first")
            % {"v": value, "a": account},
        )
    if not found.has_secret:
        raise _err(
            field,
            _("the automation %(n)s has no API trigger secret, so it cannot be started") % {"n": found.name},
        )
    return found

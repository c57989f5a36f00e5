"""What makes a campaign sendable, and how one recipient's message is filled in.

`check_campaign` returns every problem at once, keyed by the field staff must fix, so the
form and the API put the reason on the field. Nothing here writes.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import CustomField
from messaging.providers.base import Op, Resource
from messaging.senders.services import check_sender
from messaging.templating.rendering import CONTACT_ATTRIBUTES, contact_values, render_template
from messaging.templating.services import is_template_approved
from messaging.templating.variables import fill, malformed_in, names_in

# Messages per second when a provider documents no limit (the in-process sandbox).
DEFAULT_MAX_RATE = 1000
MAX_RATE = 10_000


def provider_max_rate(account, *, batched: bool = False) -> int:
    """Messages per second the account's provider allows (its documented call limit).

    With a batch form (one call, many recipients) and identical texts, one call carries
    `batch_send_limit` messages.
    """
    provider = account.provider_class
    limits = [limit.calls / limit.per_seconds for limit in provider.rate_limits if limit.bucket == "default"]
    if not limits:
        return DEFAULT_MAX_RATE
    calls_per_second = min(limits)
    per_call = max(1, provider.batch_send_limit) if batched else 1
    return max(1, int(calls_per_second * per_call))


def provider_runs_campaign(account, channel: str) -> bool:
    """Provider-run when the provider prefers to run campaigns, can create and start them, and
    speaks the channel (Spoki runs WhatsApp campaigns only; an SMS campaign there is refused)."""
    provider = account.provider_class
    caps = provider.capabilities
    return (
        bool(
            provider.runs_campaigns
            and caps.supports(Resource.CAMPAIGNS, Op.PUSH)
            and caps.supports(Resource.CAMPAIGNS, Op.START)
            and caps.can_send(channel)
        )
        and channel != "voice"
    )


def known_fields() -> set[str]:
    return set(CONTACT_ATTRIBUTES) | set(CustomField.objects.values_list("key", flat=True))


def check_variables(variables) -> list[str]:
    """Problems with a variables mapping ({"var": {"field": …, "fallback": …}} or {"var": {"value": …}})."""
    if variables in (None, ""):
        return []
    if not isinstance(variables, dict):
        return [_('Variables must be an object: {"name": {"field": "first_name", "fallback": "…"}}.')]
    errors = []
    fields = known_fields()
    for name, spec in variables.items():
        if not isinstance(spec, dict) or not ({"field", "value"} & set(spec)):
            errors.append(
                _('“%(name)s”: give a contact field ("field") or a fixed value ("value").') % {"name": name}
            )
            continue
        if "field" in spec and spec["field"] not in fields:
            errors.append(
                _("“%(name)s” is mapped to “%(field)s”, which is not a contact field or custom field.")
                % {"name": name, "field": spec["field"]}
            )
        for key in ("fallback", "value"):
            if key in spec and not isinstance(spec[key], str | int | float):
                errors.append(_("“%(name)s”: %(key)s must be text.") % {"name": name, "key": key})
    return errors


def check_campaign(
    campaign, *, list_ids=None, exclude_ids=None, starting: bool = False
) -> dict[str, list[str]]:
    """Every reason this campaign cannot be saved (or, with starting=True, started), by field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    account = campaign.account
    provider = account.provider_class
    if list_ids is None and campaign.pk:
        list_ids = list(campaign.lists.values_list("pk", flat=True))
    if not list_ids:
        add("lists", _("Choose at least one list to send to."))
    if not account.is_active:
        add("account", _("%(account)s is switched off.") % {"account": account.name})
    if not provider.capabilities.can_send(campaign.channel) and not provider_runs_campaign(
        account, campaign.channel
    ):
        add("channel", _("%(account)s cannot send %(channel)s messages.")
            % {"account": account.name, "channel": campaign.get_channel_display()})  # fmt: skip
    sender_problem = check_sender(account, campaign.channel, campaign.sender)
    if sender_problem:
        add("sender", sender_problem)
    template = campaign.template
    if campaign.channel == "whatsapp" and template is None:
        add("template", _("WhatsApp campaigns need an approved template."))
    if template is None and not (campaign.text or "").strip():
        add("text", _("Write the message text or choose a template."))
    if template is None and campaign.text and campaign.channel not in ("sms", "voice", "rcs"):
        add("text", _("Free text is only for SMS, RCS and voice; choose a template."))
    if template is not None:
        if template.kind != campaign.channel and not (template.kind == "sms" and campaign.channel == "voice"):
            add("template", _("“%(name)s” is a %(kind)s template; this campaign sends %(channel)s.")
                % {"name": template.name, "kind": template.get_kind_display(),
                   "channel": campaign.get_channel_display()})  # fmt: skip
        else:
            check = is_template_approved(template, account)
            if not check:
                add("template", check.reason)
    for problem in check_variables(campaign.variables):
        add("variables", problem)
    if campaign.text and template is None:
        bad = malformed_in(campaign.text)
        if bad:
            add(
                "text",
                _("These placeholders are not valid: %(bad)s. Write {{first_name}}.")
                % {"bad": ", ".join(bad)},
            )
        unknown = [
            n
            for n in names_in(campaign.text)
            if n not in known_fields() and n not in (campaign.variables or {})
        ]
        if unknown:
            add("text", _("Unknown fields in the text: %(names)s.") % {"names": ", ".join(unknown)})
    if (
        campaign.scheduled_at
        and campaign.scheduled_at < timezone.now()
        and campaign.status in ("draft", "scheduled")
    ):
        add("scheduled_at", _("This date and time is in the past."))
    if campaign.track_clicks and provider_runs_campaign(account, campaign.channel):
        add("track_clicks", _("%(account)s sends campaigns itself, so Switchboard cannot put tracked links in "
                              "its messages. Untick click tracking.") % {"account": account.name})  # fmt: skip
    cap = provider_max_rate(account, batched=not has_personal_text(campaign))
    if campaign.rate_per_second < 1:
        add("rate_per_second", _("Send at least one message per second."))
    elif campaign.rate_per_second > cap:
        add("rate_per_second", _("%(provider)s allows at most %(cap)s messages per second.")
            % {"provider": provider.display_name, "cap": cap})  # fmt: skip
    if (campaign.window_start is None) != (campaign.window_end is None):
        add("window_end", _("Give both the start and the end of the sending window, or neither."))
    elif campaign.window_start is not None and campaign.window_start >= campaign.window_end:
        add("window_end", _("The sending window must end after it starts."))
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in campaign.window_days or []):
        add("window_days", _("Days are 0 (Monday) to 6 (Sunday)."))
    if starting and not errors:
        from .audience import compute_audience

        if compute_audience(campaign).audience == 0:
            add(
                "lists",
                _("Nobody to send to: every contact in these lists is excluded, opted out or blocked."),
            )
    return errors


def has_personal_text(campaign) -> bool:
    """Whether recipients get different texts (then no batch call can carry them together)."""
    if campaign.template is not None:
        return True
    return bool(names_in(campaign.text or ""))


def values_for(contact, variables: dict | None) -> dict[str, str]:
    """A contact's values for the campaign's variable mapping (fallbacks for empty fields)."""
    own = contact_values(contact)
    values: dict[str, str] = {}
    for name, spec in (variables or {}).items():
        if not isinstance(spec, dict):
            continue
        if "value" in spec:
            values[name] = str(spec["value"])
        else:
            value = own.get(spec.get("field", ""), "")
            values[name] = value or str(spec.get("fallback", ""))
    return values


def render_for(campaign, contact) -> dict:
    """The Message fields for one recipient: text (what they read) and what the provider needs."""
    values = values_for(contact, campaign.variables)
    if campaign.template is not None:
        rendered = render_template(
            campaign.template, contact=contact, values=values, account=campaign.account
        )
        out = rendered.outbound
        return {
            "text": rendered.text,
            "template_name": out.get("template_name", ""),
            "template_language": out.get("template_language", ""),
            "variables": out.get("variables") or [],
            "payload": {k: out[k] for k in ("media_url", "buttons") if out.get(k)}
            | ({"fallback": campaign.fallback_channels} if campaign.fallback_channels else {}),
        }
    text = fill(campaign.text, {**contact_values(contact), **values})
    return {"text": text, "template_name": "", "template_language": "", "variables": [],
            "payload": {"fallback": campaign.fallback_channels} if campaign.fallback_channels else {}}  # fmt: skip

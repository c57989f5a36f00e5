"""Before starting: who gets it (after each exclusion), what the first people read, parts, cost; a test send."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from contacts.phones import PhoneError, normalize_phone
from messaging.providers.errors import NotSupported, ProviderError
from messaging.sending import send_message
from messaging.templating.sms import count_sms

from .audience import compute_audience
from .links import counted_text, sample_text
from .rules import has_personal_text, provider_max_rate, render_for

SAMPLE_SIZE = 3


def preview_campaign(campaign) -> dict:
    """The numbers and texts staff confirm before starting (nothing is written or sent)."""
    audience = compute_audience(campaign)
    sample = []
    parts = 0
    encoding = ""
    for contact in audience.contacts[:SAMPLE_SIZE]:
        rendered = render_for(campaign, contact)
        # What the recipient reads: with click tracking, its links already swapped for short links.
        text = sample_text(campaign, rendered)
        sample.append({"phone": contact.phone, "text": text})
        if campaign.channel in ("sms", "rcs") or campaign.fallback_channels:
            counted = count_sms(text)
            if counted.parts >= parts:
                parts, encoding = counted.parts, counted.encoding
    if not sample and campaign.text:
        counted = count_sms(counted_text(campaign, campaign.text))
        parts, encoding = counted.parts, counted.encoding
    cost, currency = None, ""
    try:
        amount, currency = campaign.account.get_provider().quote(
            campaign.channel, audience.audience, parts or 1
        )
        cost = Decimal(amount).quantize(Decimal("0.01"))
    except NotSupported:
        pass
    except ProviderError:
        cost = None
    rate = min(
        campaign.rate_per_second, provider_max_rate(campaign.account, batched=not has_personal_text(campaign))
    )
    return {
        "audience": audience.audience,
        "excluded": audience.excluded,
        "sample": sample,
        "parts": parts,
        "encoding": encoding,
        "cost": str(cost) if cost is not None else None,  # a string, as DRF writes decimals
        "currency": currency,
        "rate_per_second": rate,
        "duration_seconds": int(audience.audience / rate) if rate else None,
        "execution": campaign.execution,
    }


def send_test(campaign, phone: str, *, by=None):
    """Send the campaign's message to one number (filled with the first recipient's values, else samples)."""
    try:
        phone = normalize_phone(phone)
    except (PhoneError, ValidationError, ValueError):
        raise ValidationError({"phone": [_("This is not a phone number we can send to.")]}) from None
    if not phone:
        raise ValidationError({"phone": [_("Give a phone number.")]})
    first = compute_audience(campaign).contacts.first()
    rendered = render_for(campaign, first) if first is not None else render_for(campaign, None)
    return send_message(
        campaign.account, channel=campaign.channel, phone=phone, text=rendered["text"],
        template_name=rendered["template_name"], template_language=rendered["template_language"],
        variables=rendered["variables"], sender=campaign.sender, source="test",
    )  # fmt: skip

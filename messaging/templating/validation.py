"""Every rule a template must meet before it is sent to a provider, in one place.

`template_errors(template)` returns {field: [messages]} for an unsaved or saved
MessageTemplate; MessageTemplate.clean() raises them as a ValidationError, so the admin
form, the API serializer (full_clean) and the submit service all apply the same rules.
The limits are WhatsApp's (Meta's) and Qlara's RCS limits as documented.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .sms import count_sms
from .variables import VARIABLE, malformed_in, names_in, texts_of

NAME = re.compile(r"^[a-z0-9_]+$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2,4})?$")
NAME_MAX = 512
HEADER_TEXT_MAX = 60
BODY_MAX = 1024
FOOTER_MAX = 60
BUTTONS_MAX = 10
BUTTON_TYPE_MAX = {"url": 2, "phone_number": 1, "copy_code": 1}
BUTTON_TEXT_MAX = 25
COPY_CODE_MAX = 15
URL_MAX = 2000
PHONE = re.compile(r"^\+[1-9][0-9]{6,19}$")
WHATSAPP_BUTTONS = ("quick_reply", "url", "phone_number", "copy_code")
HEADER_TYPES = ("none", "text", "image", "video", "document")
MEDIA_EXTENSIONS = {
    "image": (".jpg", ".jpeg", ".png"),
    "video": (".mp4", ".3gp"),
    "document": (".pdf",),
}
WHATSAPP_CARDS = (2, 10)

RCS_TEXT_MAX = 2000
RCS_TITLE_MAX = 200
RCS_DESCRIPTION_MAX = 2000
RCS_CARDS = (2, 10)
RCS_SUGGESTIONS_PER_CARD = 4
RCS_SUGGESTIONS_PER_MESSAGE = 11
RCS_SUGGESTION_TEXT_MAX = 25
# Every suggestion type Qlara's RCS guide documents, and the field each one needs.
RCS_SUGGESTIONS = {
    "reply": (),
    "url": ("url",),
    "dial": ("phone_number",),
    "location": (),  # latitude+longitude or a query
    "share_location": (),
    "calendar": ("title", "start", "end"),
}
SMS_MAX_PARTS = 10


class Errors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def is_http_url(value: str) -> bool:
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def template_errors(t) -> dict[str, list[str]]:
    """{field: [messages]} for template `t` (empty when it may be submitted)."""
    errors = Errors()
    _check_name(t, errors)
    _check_variables(t, errors)
    if t.kind == "whatsapp":
        _check_whatsapp(t, errors)
    elif t.kind == "rcs":
        _check_rcs(t, errors)
    elif t.kind == "sms":
        _check_sms(t.body, "body", errors)
    else:
        errors.add("kind", _("Choose WhatsApp, RCS or SMS."))
    return dict(errors)


def _check_name(t, errors: Errors) -> None:
    name = t.name or ""
    if not name:
        errors.add("name", _("Give the template a name."))
    elif not NAME.match(name):
        errors.add("name", _("Use only lowercase letters, digits and underscores (e.g. promo_natale)."))
    if len(name) > NAME_MAX:
        errors.add("name", _("At most %(n)d characters.") % {"n": NAME_MAX})
    if not LANGUAGE.match(t.language or ""):
        errors.add("language", _("Use a language code such as it, en or en_US."))


def _check_variables(t, errors: Errors) -> None:
    fields = {
        "body": t.body or "",
        "footer": t.footer or "",
        "sms_fallback": getattr(t, "sms_fallback", "") or "",
    }
    fields["header"] = str((t.header or {}).get("text") or "") if isinstance(t.header, dict) else ""
    for field, text in fields.items():
        for bad in malformed_in(text):
            errors.add(
                field,
                _("%(bad)s is not a variable: write a name in double braces, e.g. {{first_name}}.")
                % {"bad": bad},
            )
    names = names_in(*texts_of(t)) if isinstance(t.header, dict) else names_in(t.body)
    numbers = sorted(int(n) for n in names if n.isdigit())
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        errors.add("body", _("Numbered variables must run {{1}}, {{2}}, {{3}}… without gaps."))
    samples = t.samples if isinstance(t.samples, dict) else {}
    if not isinstance(t.samples, dict):
        errors.add("samples", _("Sample values must be given as name → value."))
    missing = [n for n in names if not str(samples.get(n) or "").strip()]
    if missing:
        errors.add(
            "samples",
            _("Give a sample value for %(names)s (WhatsApp requires an example for every variable).")
            % {"names": ", ".join("{{" + n + "}}" for n in missing)},
        )


def _check_whatsapp(t, errors: Errors) -> None:
    if t.category not in ("marketing", "utility", "authentication"):
        errors.add("category", _("Choose marketing, utility or authentication."))
    _check_header(t.header, errors)
    body = t.body or ""
    if not body.strip():
        errors.add("body", _("Write the message body."))
    if len(body) > BODY_MAX:
        errors.add(
            "body", _("At most %(n)d characters (now %(count)d).") % {"n": BODY_MAX, "count": len(body)}
        )
    stripped = body.strip()
    if stripped and (VARIABLE.match(stripped) or re.search(VARIABLE.pattern + r"$", stripped)):
        errors.add("body", _("The body may not start or end with a variable: add some words around it."))
    footer = t.footer or ""
    if len(footer) > FOOTER_MAX:
        errors.add(
            "footer", _("At most %(n)d characters (now %(count)d).") % {"n": FOOTER_MAX, "count": len(footer)}
        )
    if names_in(footer):
        errors.add("footer", _("The footer cannot hold variables."))
    _check_whatsapp_buttons(t.buttons, errors)
    if t.cards:
        _check_whatsapp_cards(t.cards, errors)


def _check_header(header, errors: Errors) -> None:
    if not isinstance(header, dict):
        errors.add("header", _("The header must be an object with a type."))
        return
    kind = str(header.get("type") or "none")
    if kind not in HEADER_TYPES:
        errors.add("header", _("Header type must be none, text, image, video or document."))
        return
    if kind == "text":
        text = str(header.get("text") or "")
        if not text.strip():
            errors.add("header", _("Write the header text, or choose no header."))
        if len(text) > HEADER_TEXT_MAX:
            errors.add(
                "header",
                _("At most %(n)d characters (now %(count)d).") % {"n": HEADER_TEXT_MAX, "count": len(text)},
            )
        if len(VARIABLE.findall(text)) > 1:
            errors.add("header", _("A header may hold at most one variable."))
    elif kind in MEDIA_EXTENSIONS:
        url = str(header.get("url") or "")
        if not is_http_url(url):
            errors.add(
                "header", _("Give a sample %(kind)s URL starting with http:// or https://.") % {"kind": kind}
            )
        elif not urlsplit(url).path.lower().endswith(MEDIA_EXTENSIONS[kind]):
            errors.add(
                "header",
                _("A %(kind)s header needs a %(ext)s file.")
                % {"kind": kind, "ext": ", ".join(MEDIA_EXTENSIONS[kind])},
            )


def _check_whatsapp_buttons(buttons, errors: Errors) -> None:
    if not isinstance(buttons, list) or not all(isinstance(b, dict) for b in buttons):
        errors.add("buttons", _("Buttons must be a list of objects with a type and a text."))
        return
    if len(buttons) > BUTTONS_MAX:
        errors.add(
            "buttons", _("At most %(n)d buttons (now %(count)d).") % {"n": BUTTONS_MAX, "count": len(buttons)}
        )
    counts = Counter(str(b.get("type") or "") for b in buttons)
    labels = {"url": _("URL"), "phone_number": _("phone number"), "copy_code": _("copy code")}
    for kind, limit in BUTTON_TYPE_MAX.items():
        if counts[kind] > limit:
            errors.add("buttons", _("At most %(n)d %(kind)s button(s).") % {"n": limit, "kind": labels[kind]})
    for i, button in enumerate(buttons, start=1):
        kind = str(button.get("type") or "")
        text = str(button.get("text") or "")
        where = _("Button %(i)d") % {"i": i}
        if kind not in WHATSAPP_BUTTONS:
            errors.add(
                "buttons",
                _("%(where)s: type must be quick reply, URL, phone number or copy code.") % {"where": where},
            )
            continue
        if kind != "copy_code" and not text.strip():
            errors.add("buttons", _("%(where)s: write its text.") % {"where": where})
        if len(text) > BUTTON_TEXT_MAX:
            errors.add(
                "buttons",
                _("%(where)s: text at most %(n)d characters.") % {"where": where, "n": BUTTON_TEXT_MAX},
            )
        if kind == "url":
            url = str(button.get("url") or "")
            if not is_http_url(VARIABLE.sub("x", url)) or not url.startswith(("http://", "https://")):
                errors.add(
                    "buttons", _("%(where)s: the URL must start with http:// or https://.") % {"where": where}
                )
            if len(url) > URL_MAX:
                errors.add(
                    "buttons", _("%(where)s: URL at most %(n)d characters.") % {"where": where, "n": URL_MAX}
                )
            found = list(VARIABLE.finditer(url))
            if len(found) > 1 or (found and found[-1].end() != len(url)):
                errors.add(
                    "buttons", _("%(where)s: a URL may hold one variable, at its end.") % {"where": where}
                )
        elif kind == "phone_number":
            if not PHONE.match(str(button.get("phone_number") or "")):
                errors.add(
                    "buttons",
                    _("%(where)s: give the phone number in international form, e.g. +390212345678.")
                    % {"where": where},
                )
        elif kind == "copy_code":
            code = str(button.get("example") or "")
            if not code or len(code) > COPY_CODE_MAX:
                errors.add(
                    "buttons",
                    _("%(where)s: give an example code of 1 to %(n)d characters.")
                    % {"where": where, "n": COPY_CODE_MAX},
                )


def _check_whatsapp_cards(cards, errors: Errors) -> None:
    low, high = WHATSAPP_CARDS
    if not isinstance(cards, list) or not low <= len(cards) <= high:
        errors.add("cards", _("A carousel has %(low)d to %(high)d cards.") % {"low": low, "high": high})
        return
    for i, card in enumerate(cards, start=1):
        if not isinstance(card, dict) or not is_http_url(str(card.get("media_url") or "")):
            errors.add(
                "cards", _("Card %(i)d: give an image or video URL starting with https://.") % {"i": i}
            )
        elif len(str(card.get("description") or "")) > 160:
            errors.add("cards", _("Card %(i)d: text at most 160 characters.") % {"i": i})


def _check_rcs(t, errors: Errors) -> None:
    kind = t.rcs_type or "text"
    total = 0
    if kind == "text":
        if not (t.body or "").strip():
            errors.add("body", _("Write the message text."))
        if len(t.body or "") > RCS_TEXT_MAX:
            errors.add("body", _("At most %(n)d characters.") % {"n": RCS_TEXT_MAX})
        total += _check_suggestions(t.buttons, "buttons", _("Message"), errors)
    else:
        cards = t.cards if isinstance(t.cards, list) else None
        if cards is None or not all(isinstance(c, dict) for c in cards):
            errors.add("cards", _("Cards must be a list of objects."))
            return
        if kind == "card" and len(cards) != 1:
            errors.add("cards", _("A rich card has exactly one card."))
        if kind == "carousel" and not RCS_CARDS[0] <= len(cards) <= RCS_CARDS[1]:
            errors.add(
                "cards",
                _("A carousel has %(low)d to %(high)d cards.") % {"low": RCS_CARDS[0], "high": RCS_CARDS[1]},
            )
        if kind == "card" and t.card_orientation not in ("vertical", "horizontal"):
            errors.add("card_orientation", _("Choose vertical or horizontal."))
        for i, card in enumerate(cards, start=1):
            where = _("Card %(i)d") % {"i": i}
            title, description = str(card.get("title") or ""), str(card.get("description") or "")
            if not (title or description or card.get("media_url")):
                errors.add("cards", _("%(where)s: give a title, a description or media.") % {"where": where})
            if len(title) > RCS_TITLE_MAX:
                errors.add(
                    "cards",
                    _("%(where)s: title at most %(n)d characters.") % {"where": where, "n": RCS_TITLE_MAX},
                )
            if len(description) > RCS_DESCRIPTION_MAX:
                errors.add(
                    "cards",
                    _("%(where)s: description at most %(n)d characters.")
                    % {"where": where, "n": RCS_DESCRIPTION_MAX},
                )
            if card.get("media_url") and not is_http_url(str(card["media_url"])):
                errors.add(
                    "cards",
                    _("%(where)s: the media URL must start with http:// or https://.") % {"where": where},
                )
            total += _check_suggestions(
                card.get("suggestions") or [], "cards", where, errors, per=RCS_SUGGESTIONS_PER_CARD
            )
    if total > RCS_SUGGESTIONS_PER_MESSAGE:
        errors.add(
            "buttons",
            _("At most %(n)d suggestions in one message (now %(count)d).")
            % {"n": RCS_SUGGESTIONS_PER_MESSAGE, "count": total},
        )
    if t.sms_fallback:
        _check_sms(t.sms_fallback, "sms_fallback", errors)


def _check_suggestions(
    items, field: str, where: str, errors: Errors, per: int = RCS_SUGGESTIONS_PER_MESSAGE
) -> int:
    if not isinstance(items, list) or not all(isinstance(s, dict) for s in items):
        errors.add(field, _("%(where)s: suggestions must be a list of objects.") % {"where": where})
        return 0
    if len(items) > per:
        errors.add(field, _("%(where)s: at most %(n)d suggestions.") % {"where": where, "n": per})
    for i, item in enumerate(items, start=1):
        kind = str(item.get("type") or "")
        label = _("%(where)s, suggestion %(i)d") % {"where": where, "i": i}
        if kind not in RCS_SUGGESTIONS:
            errors.add(
                field,
                _("%(where)s: type must be one of %(types)s.")
                % {"where": label, "types": ", ".join(RCS_SUGGESTIONS)},
            )
            continue
        text = str(item.get("text") or "")
        if not text.strip() or len(text) > RCS_SUGGESTION_TEXT_MAX:
            errors.add(
                field,
                _("%(where)s: text of 1 to %(n)d characters.")
                % {"where": label, "n": RCS_SUGGESTION_TEXT_MAX},
            )
        for key in RCS_SUGGESTIONS[kind]:
            if not str(item.get(key) or "").strip():
                errors.add(field, _("%(where)s: %(key)s is required.") % {"where": label, "key": key})
        if kind == "url" and item.get("url") and not is_http_url(str(item["url"])):
            errors.add(field, _("%(where)s: the URL must start with http:// or https://.") % {"where": label})
        if kind == "dial" and item.get("phone_number") and not PHONE.match(str(item["phone_number"])):
            errors.add(field, _("%(where)s: give the phone number in international form.") % {"where": label})
        if kind == "location" and not (item.get("query") or (item.get("latitude") and item.get("longitude"))):
            errors.add(
                field,
                _("%(where)s: give a place to search or its latitude and longitude.") % {"where": label},
            )
    return len(items)


def _check_sms(text: str, field: str, errors: Errors) -> None:
    if not (text or "").strip():
        errors.add(field, _("Write the message text."))
        return
    count = count_sms(text)
    if count.parts > SMS_MAX_PARTS:
        errors.add(
            field, _("At most %(n)d SMS parts (now %(parts)d).") % {"n": SMS_MAX_PARTS, "parts": count.parts}
        )

"""Every rule checked before a template goes to a provider, with the field it belongs to."""

import pytest
from django.core.exceptions import ValidationError

from messaging.models import MessageTemplate
from messaging.templating.validation import template_errors


def wa(**overrides):
    data = {
        "name": "promo_natale", "kind": "whatsapp", "language": "it", "category": "marketing",
        "header": {"type": "none"}, "body": "Ciao {{first_name}}, ecco lo sconto.", "footer": "",
        "buttons": [], "samples": {"first_name": "Maria"},
    }  # fmt: skip
    data.update(overrides)
    return MessageTemplate(**data)


def errors(template) -> dict:
    return template_errors(template)


def test_a_good_template_passes():
    assert errors(wa()) == {}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"name": "Promo Natale"}, "name", "lowercase letters"),
        ({"name": ""}, "name", "name"),
        ({"name": "a" * 513}, "name", "512"),
        ({"language": "Italian"}, "language", "language code"),
        ({"category": ""}, "category", "marketing"),
        ({"body": ""}, "body", "body"),
        ({"body": "x" * 1025}, "body", "1024"),
        ({"body": "{{first_name}}, ecco"}, "body", "start or end"),
        ({"body": "Ecco per te {{first_name}}"}, "body", "start or end"),
        ({"body": "Ciao {{first name}}, ecco"}, "body", "not a variable"),
        ({"body": "Ciao {{first_name}, ecco"}, "body", "not a variable"),
        ({"body": "Ciao {{1}} e {{3}} ecco", "samples": {"1": "a", "3": "b"}}, "body", "without gaps"),
        ({"samples": {}}, "samples", "{{first_name}}"),
        ({"footer": "f" * 61}, "footer", "60"),
        ({"footer": "Ciao {{first_name}}"}, "footer", "cannot hold variables"),
        ({"header": {"type": "text", "text": "h" * 61}}, "header", "60"),
        ({"header": {"type": "text", "text": "{{a}} {{b}}"}, "samples": {"first_name": "M", "a": "1", "b": "2"}},
         "header", "at most one variable"),
        ({"header": {"type": "text", "text": ""}}, "header", "header text"),
        ({"header": {"type": "image", "url": "ftp://x/y.png"}}, "header", "https://"),
        ({"header": {"type": "image", "url": "https://ex.com/a.pdf"}}, "header", ".jpg"),
        ({"header": {"type": "video", "url": "https://ex.com/a.png"}}, "header", ".mp4"),
        ({"header": {"type": "gif"}}, "header", "none, text, image"),
        ({"buttons": [{"type": "quick_reply", "text": str(i)} for i in range(11)]}, "buttons", "At most 10"),
        ({"buttons": [{"type": "url", "text": "a", "url": "https://a.it"}] * 3}, "buttons", "URL button"),
        ({"buttons": [{"type": "phone_number", "text": "a", "phone_number": "+390212345678"}] * 2}, "buttons", "phone number button"),
        ({"buttons": [{"type": "copy_code", "example": "A1"}] * 2}, "buttons", "copy code button"),
        ({"buttons": [{"type": "url", "text": "Apri", "url": "www.ex.com"}]}, "buttons", "http://"),
        ({"buttons": [{"type": "url", "text": "Apri", "url": "https://ex.com/{{code}}/x"}], "samples": {"first_name": "M", "code": "c"}},
         "buttons", "at its end"),
        ({"buttons": [{"type": "quick_reply", "text": "x" * 26}]}, "buttons", "25"),
        ({"buttons": [{"type": "quick_reply", "text": ""}]}, "buttons", "write its text"),
        ({"buttons": [{"type": "phone_number", "text": "Chiama", "phone_number": "02 1234"}]}, "buttons", "international"),
        ({"buttons": [{"type": "copy_code", "example": "X" * 16}]}, "buttons", "1 to 15"),
        ({"buttons": [{"type": "flow", "text": "x"}]}, "buttons", "quick reply, URL"),
        ({"buttons": "nope"}, "buttons", "list"),
    ],
)  # fmt: skip
def test_whatsapp_rules(overrides, field, words):
    found = errors(wa(**overrides))
    assert field in found, found
    assert any(words in message for message in found[field]), found[field]


def test_url_button_with_variable_at_the_end_is_fine():
    template = wa(buttons=[{"type": "url", "text": "Apri", "url": "https://ex.com/o/{{code}}"}],
                  samples={"first_name": "M", "code": "X"})  # fmt: skip
    assert errors(template) == {}


def rcs(**overrides):
    data = {"name": "rcs_promo", "kind": "rcs", "language": "it", "rcs_type": "text", "body": "Ciao!",
            "buttons": [], "cards": [], "samples": {}}  # fmt: skip
    data.update(overrides)
    return MessageTemplate(**data)


CARD = {
    "title": "Offerta",
    "description": "Solo oggi",
    "media_url": "https://ex.com/a.jpg",
    "suggestions": [],
}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"body": ""}, "body", "text"),
        ({"rcs_type": "card", "cards": [CARD], "card_orientation": ""}, "card_orientation", "vertical"),
        ({"rcs_type": "card", "cards": [CARD, CARD], "card_orientation": "vertical"}, "cards", "exactly one"),
        ({"rcs_type": "carousel", "cards": [CARD]}, "cards", "2 to 10"),
        ({"rcs_type": "carousel", "cards": [CARD] * 11}, "cards", "2 to 10"),
        ({"rcs_type": "carousel", "cards": [{**CARD, "title": "t" * 201}] * 2}, "cards", "200"),
        ({"rcs_type": "carousel", "cards": [{**CARD, "description": "d" * 2001}] * 2}, "cards", "2000"),
        ({"rcs_type": "carousel", "cards": [{**CARD, "suggestions": [{"type": "reply", "text": "a"}] * 5}] * 2},
         "cards", "at most 4"),
        ({"rcs_type": "carousel", "cards": [{**CARD, "suggestions": [{"type": "reply", "text": "a"}] * 4}] * 3},
         "buttons", "At most 11"),
        ({"buttons": [{"type": "reply", "text": "x" * 26}]}, "buttons", "1 to 25"),
        ({"buttons": [{"type": "url", "text": "Sito"}]}, "buttons", "url is required"),
        ({"buttons": [{"type": "dial", "text": "Chiama", "phone_number": "123"}]}, "buttons", "international"),
        ({"buttons": [{"type": "location", "text": "Dove"}]}, "buttons", "latitude"),
        ({"buttons": [{"type": "calendar", "text": "Salva", "title": "Evento"}]}, "buttons", "start is required"),
        ({"buttons": [{"type": "teleport", "text": "x"}]}, "buttons", "type must be one of"),
        ({"sms_fallback": "x" * 1531}, "sms_fallback", "SMS parts"),
    ],
)  # fmt: skip
def test_rcs_rules(overrides, field, words):
    found = errors(rcs(**overrides))
    assert field in found, found
    assert any(words in message for message in found[field]), found[field]


def test_every_rcs_suggestion_type_can_be_valid():
    suggestions = [
        {"type": "reply", "text": "Sì"},
        {"type": "url", "text": "Sito", "url": "https://ex.com"},
        {"type": "dial", "text": "Chiama", "phone_number": "+390212345678"},
        {"type": "location", "text": "Dove", "query": "Duomo Milano"},
        {"type": "calendar", "text": "Salva", "title": "Saldi", "start": "2026-12-01T10:00", "end": "2026-12-01T12:00"},
    ]  # fmt: skip
    assert errors(rcs(buttons=suggestions[:4])) == {}
    assert errors(rcs(rcs_type="carousel", cards=[{**CARD, "suggestions": suggestions[:4]}, CARD])) == {}


def test_sms_rules():
    assert errors(MessageTemplate(name="sms_x", kind="sms", language="it", body="", samples={})) == {
        "body": ["Write the message text."]
    }
    long = MessageTemplate(name="sms_x", kind="sms", language="it", body="€" * 800, samples={})
    assert "SMS parts" in errors(long)["body"][0]


def test_model_clean_raises_by_field_and_nothing_is_saved(db):
    with pytest.raises(ValidationError) as info:
        wa(name="Bad Name", body="").full_clean()
    assert {"name", "body"} <= set(info.value.message_dict)
    assert not MessageTemplate.objects.exists()

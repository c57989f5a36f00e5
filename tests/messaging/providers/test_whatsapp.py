from messaging.providers.whatsapp import split_components


def test_components_in_any_order_become_template_parts():
    parts = split_components(
        [
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships {{1}}"},
            "not a component",
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["h"]}},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x.example/{{3}}"}, "junk"]},
        ],
        variables_in_buttons=True,
    )
    assert parts.header == {"type": "image", "example": {"header_handle": ["h"]}}
    assert parts.body.startswith("Hi {{1}}") and parts.footer == "Reply STOP to opt out"
    assert parts.buttons == [{"type": "URL", "url": "https://x.example/{{3}}"}]
    assert parts.variables == ["1", "2", "3"]
    assert split_components([]).variables == []

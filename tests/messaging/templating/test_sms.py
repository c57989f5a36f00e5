"""The SMS counter: GSM-7 extension characters count double, one non-GSM character → UCS-2."""

import pytest

from messaging.templating.sms import count_sms


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count double
        ("€" * 81, "GSM-7", 162, 2),
        ("^{}\\[~]|\f", "GSM-7", 18, 1),
        ("è é ù ì ò à", "GSM-7", 11, 1),  # plain GSM-7
        ("È", "UCS-2", 1, 1),  # not in GSM-7
        ("á", "UCS-2", 1, 1),
        ("a" * 69 + "á", "UCS-2", 70, 1),
        ("a" * 70 + "á", "UCS-2", 71, 2),
        ("a" * 133 + "á", "UCS-2", 134, 2),
        ("a" * 134 + "á", "UCS-2", 135, 3),
        ("ciao 😀", "UCS-2", 7, 1),  # outside the BMP: two UTF-16 units
    ],
)
def test_count(text, encoding, units, parts):
    count = count_sms(text)
    assert (count.encoding, count.units, count.parts) == (encoding, units, parts)
    assert count.characters == len(text)


def test_remaining_and_what_forced_the_switch():
    count = count_sms("Ciao {Maria}, È pronto")
    assert count.encoding == "UCS-2"
    assert count.non_gsm == ("È",)
    assert count.per_part == 70 and count.remaining == 70 - count.units
    gsm = count_sms("Prezzo 10€ [promo]")
    assert gsm.double == ("[", "]", "€")
    assert gsm.units == len("Prezzo 10€ [promo]") + 3
    assert count_sms("a" * 200).per_part == 153


def test_a_double_character_never_straddles_two_parts():
    # 152 + 2 does not fit in 153: "€" moves whole to part 2, which then overflows into part 3.
    text = "a" * 152 + "€" + "a" * 152
    count = count_sms(text)
    assert (count.units, count.parts) == (306, 3)
    assert count.remaining == 153 - 1
    emoji = "a" * 66 + "😀" + "a" * 66  # the surrogate pair cannot be split either
    assert count_sms(emoji).parts == 3 and count_sms("a" * 68 + "😀").parts == 1 and count_sms("a" * 69 + "😀").parts == 2

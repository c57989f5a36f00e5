import pytest

from contacts.phones import PhoneError, looks_e164, normalize_phone, search_digits


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("333 123 4567", "+393331234567"),
        ("+39 333 123 4567", "+393331234567"),
        ("0039 333 1234567", "+393331234567"),
        ("333-1234567", "+393331234567"),
        ("(02) 1234 5678", "+390212345678"),
        ("tel:+44-20-7946-0958", "+442079460958"),
        ("+1 (415) 555-2671", "+14155552671"),
    ],
)
def test_human_formats_become_e164(raw, expected, settings):
    settings.SWITCHBOARD_DEFAULT_COUNTRY = "IT"
    assert normalize_phone(raw) == expected


def test_default_country_is_configurable(settings):
    settings.SWITCHBOARD_DEFAULT_COUNTRY = "GB"
    assert normalize_phone("020 7946 0958") == "+442079460958"
    assert normalize_phone("333 123 4567", "IT") == "+393331234567"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("12", "too short"), ("", "missing"), ("hello", "not a phone number"), ("333 123 4567 8901 2345", "too long"),
     ("+39 999 999", "not a valid number for IT"), ("+44 20 1234", "not a valid number for GB")],
)  # fmt: skip
def test_invalid_numbers_say_why(raw, reason):
    with pytest.raises(PhoneError) as err:
        normalize_phone(raw, "IT")
    assert str(err.value) == reason


def test_search_digits_and_e164_precheck():
    assert search_digits("333 123") == ["333123"]
    assert search_digits("0039 333") == ["39333"]
    assert search_digits("020 7946") == ["0207946", "207946"]
    assert search_digits("abc") == []
    assert looks_e164("+393331234567") and not looks_e164("3331234567")

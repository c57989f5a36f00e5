"""The SMS segment counter: characters, encoding and parts, as a pure function.

GSM 03.38: the basic table costs one septet per character, the extension table
(`\\f ^ { } \\ [ ~ ] | €`) two (escape + character). One character outside both
switches the whole message to UCS-2, where each UTF-16 code unit costs one (an emoji
outside the BMP costs two). One part holds 160 septets / 70 units; a longer message is
split into parts of 153 / 67 (the rest is the concatenation header); a two-unit character
never straddles a part boundary, so it may start a new part early.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsCount:
    characters: int  # what the person typed (Python characters)
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2)
    parts: int
    per_part: int  # capacity of one part at this length (160/153 or 70/67)
    remaining: int  # units left in the last part
    double: tuple[str, ...] = ()  # extension characters present (they count double)
    non_gsm: tuple[str, ...] = ()  # the characters that forced UCS-2

    def as_dict(self) -> dict:
        data = asdict(self)
        data["double"], data["non_gsm"] = list(self.double), list(self.non_gsm)
        return data


def encoding_of(text: str) -> str:
    return GSM7 if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else UCS2


def count_sms(text: str) -> SmsCount:
    """Count `text` as an SMS. An empty text is 0 parts."""
    text = text or ""
    encoding = encoding_of(text)
    if encoding == GSM7:
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    else:
        units = len(text.encode("utf-16-le")) // 2
    single, multi = LIMITS[encoding]
    if units == 0:
        parts, per_part, remaining = 0, single, single
    elif units <= single:
        parts, per_part, remaining = 1, single, single - units
    else:
        # Concatenated parts: a character never straddles two parts (an escape + extension
        # character, or a UTF-16 surrogate pair, moves whole to the next part).
        parts, used, per_part = 1, 0, multi
        for c in text:
            width = (2 if c in GSM7_EXTENSION else 1) if encoding == GSM7 else len(c.encode("utf-16-le")) // 2
            if used + width > multi:
                parts, used = parts + 1, 0
            used += width
        remaining = multi - used
    double = tuple(sorted({c for c in text if c in GSM7_EXTENSION}))
    non_gsm = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))
    return SmsCount(len(text), encoding, units, parts, per_part, remaining, double, non_gsm)

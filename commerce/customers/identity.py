"""Normalising the contact details that link one person across systems.

Systems store what the person typed: " Jane.Doe@Example.com ", "(646) 500-0000". Matching
compares normalised forms: emails trimmed and lower-cased (the domain part is case-
insensitive by RFC 5321 and every major provider treats the local part so too), phones in
E.164. A national number without a country code is read in `default_region`; a NANP one
(US, CA) must then have its 10 digits, since a 7-digit local number names no one line and
two people's would compare equal. An extension ("x12", "ext. 12") is not part of E.164
and is dropped.
"""

from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"[^\d+]")
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d+\s*$", re.IGNORECASE)
# Country calling codes of the numbering plans the datasets use; NANP first.
_NATIONAL_PREFIX = {"US": "1", "CA": "1", "GB": "44", "IE": "353", "FR": "33", "DE": "49"}


def normalise_email(email: str | None) -> str | None:
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned if "@" in cleaned else None


def normalise_phone(phone: str | None, default_region: str = "US") -> str | None:
    """E.164 form of `phone`, or None when it cannot be a phone number."""
    if phone is None:
        return None
    raw = _NON_DIGITS.sub("", _EXTENSION.sub("", phone.strip()))
    if raw.startswith("+"):
        digits = raw[1:]
    elif raw.startswith("00"):
        digits = raw[2:]
    else:
        country = _NATIONAL_PREFIX.get(default_region, "1")
        national = raw[1:] if raw.startswith("0") and country != "1" else raw
        if country == "1" and len(national) == 11 and national.startswith("1"):
            national = national[1:]
        if country == "1" and len(national) != 10:
            return None
        digits = country + national
    if "+" in digits or not 8 <= len(digits) <= 15:
        return None
    return "+" + digits

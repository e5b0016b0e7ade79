"""A UK postcode reduced to its district (outward code), the only part of it that ever leaves the machine.

"NG5 1AB" -> "NG5". A full postcode names a few dozen homes, a district thousands (DESIGN.md: only the district
is stored or sent). The format (BS 7666): outward code = area (1-2 letters) + district (a digit, then an optional
digit or letter); inward code = a digit and two letters, always three characters, so a postcode typed without
its space still splits unambiguously. A district alone ("NG5") is accepted as well. Pure.
"""

from __future__ import annotations

import re

_OUTWARD = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")
_INWARD = re.compile(r"[0-9][A-Z]{2}")
_SPECIAL = {"GIR0AA": "GIR"}  # Girobank's historic non-geographic postcode, the one exception to the format


class PostcodeError(ValueError):
    """Not a UK postcode or postcode district; str() is a one-line message naming the input."""


def postcode_district(text: str) -> str:
    """The district of a full postcode or of a district given alone, upper case; PostcodeError otherwise."""
    words = text.upper().split()
    compact = "".join(words)
    if compact in _SPECIAL:
        return _SPECIAL[compact]
    if len(words) == 2:
        outward, inward = words
    elif len(words) == 1 and len(compact) > 4:  # no space: the inward code is the last three characters
        outward, inward = compact[:-3], compact[-3:]
    else:
        outward, inward = compact, None
    if (len(words) not in (1, 2) or not _OUTWARD.fullmatch(outward)
            or (inward is not None and not _INWARD.fullmatch(inward))):
        raise PostcodeError(f"{text.strip()!r} is not a UK postcode or postcode district (e.g. NG5 1AB or NG5)")
    return outward

"""A training hub as the planner types it: `NG18 1AB`, `NG18`, `53.14,-1.20`, each optionally `:KM` of reach.

Pure parsing; where a postcode lies is the caller's lookup (planning/postcode_directory.py, or the centroids of
the areas mapped), passed in as a function.
"""

from __future__ import annotations

import math
import re
from typing import Callable

from homeshore.planning.map_model import Hub
from homeshore.planning.postcode import PostcodeError, postcode_district

DEFAULT_REACH_KM = 25.0  # about half an hour by car or train, the reach the seed's pilots recruited within
MAX_REACH_KM = 1000.0
_LAT_LON = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*")


class HubError(ValueError):
    """A hub that cannot be placed; one line naming it."""


def parse_hub(text: str, locate: Callable[[str], tuple[float, float]],
              default_reach_km: float = DEFAULT_REACH_KM) -> Hub:
    """`locate(postcode)` gives (lat, lon) of a postcode or district, raising ValueError (or a subclass) with a
    one-line message for one it does not know."""
    place, reach_km = _split_reach(text, default_reach_km)
    match = _LAT_LON.fullmatch(place)
    if match:
        lat, lon = float(match[1]), float(match[2])
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise HubError(f"--hub {text!r}: latitude must be within ±90 and longitude within ±180")
        return Hub(label=f"{lat:g},{lon:g}", lat=lat, lon=lon, reach_km=reach_km)
    try:
        postcode_district(place)
    except PostcodeError:
        raise HubError(f"--hub {text!r}: give a UK postcode, a postcode district or LAT,LON, with an optional "
                       ":KM of reach (e.g. 'NG18 1AB:25')") from None
    label = " ".join(place.upper().split())
    try:
        lat, lon = locate(label)
    except ValueError as error:
        raise HubError(f"--hub {text!r}: {error}") from None
    return Hub(label=label, lat=lat, lon=lon, reach_km=reach_km)


def _split_reach(text: str, default_reach_km: float) -> tuple[str, float]:
    place, colon, reach = text.rpartition(":")
    if not colon:
        return text.strip(), default_reach_km
    try:
        reach_km = float(reach)
    except ValueError:
        raise HubError(f"--hub {text!r}: the reach after ':' must be a number of km, not {reach!r}") from None
    if not (math.isfinite(reach_km) and 0.0 < reach_km <= MAX_REACH_KM):
        raise HubError(f"--hub {text!r}: the reach must be more than 0 and at most {MAX_REACH_KM:g} km")
    return place.strip(), reach_km

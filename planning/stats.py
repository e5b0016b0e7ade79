"""Percentiles and medians as the team agreed: linear interpolation between closest ranks (Hyndman-Fan type 7).

Type 7 is numpy's default and `statistics.quantiles(data, n=100, method="inclusive")` for an integer `pct` (equal
to within rounding: `statistics` weighs both neighbours, (x * (100 - d) + y * d) / 100, which can land an ulp
outside [x, y]; here the step from x is added, so equal neighbours give exactly their value and the result
never leaves the data's range, and a home whose every test reads 8.0 is judged at 8.0). A single value is its
own percentile. Pure; no numpy (not available where homeshore runs).
"""

from __future__ import annotations

import math
from typing import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct`th percentile (0 <= pct <= 100) of `values`; ValueError if there are none or pct is off the scale."""
    if not len(values):
        raise ValueError("percentile of no values")
    if not (isinstance(pct, (int, float)) and 0.0 <= pct <= 100.0):
        raise ValueError(f"percentile must be within 0..100, not {pct!r}")
    ordered = sorted(values)
    # Rank h = pct/100 * (n - 1), split as statistics.quantiles does: j = floor(h), weight delta/100 on the next.
    scaled = pct * (len(ordered) - 1)
    j = math.floor(scaled / 100)
    delta = scaled - j * 100
    if j + 1 >= len(ordered):  # pct = 100, or a single value
        return float(ordered[-1])
    low, high = ordered[j], ordered[j + 1]
    return float(min(max(low + (high - low) * delta / 100, low), high))


def median(values: Sequence[float]) -> float:
    """The middle value, or the mean of the two middle ones; ValueError if there are none."""
    if not len(values):
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2

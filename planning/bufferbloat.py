"""Bufferbloat grade: how much a router's queue adds to the round-trip time while the line is busy.

The scale of issue 5 (the one of the DSLReports and Waveform tests), on the increase of RTT under load over the
idle RTT: A+ below 5 ms, A below 30, B below 60, C below 200, D below 400, F from 400 ms. Each bound belongs
to the worse grade: an increase of exactly 30 ms is a B.
"""

from __future__ import annotations

import math

# (grade, increase in ms below which it applies), best first
GRADE_BOUNDS_MS: tuple[tuple[str, float], ...] = (("A+", 5.0), ("A", 30.0), ("B", 60.0), ("C", 200.0), ("D", 400.0))
WORST_GRADE = "F"


def rtt_increase_ms(idle_rtt_ms: float, loaded_rtt_ms: float) -> float:
    """Loaded minus idle RTT, rounded to the nanosecond so that decimal inputs (35.1 - 5.1) fall where they read."""
    if not (math.isfinite(idle_rtt_ms) and math.isfinite(loaded_rtt_ms)):
        raise ValueError(f"RTTs must be finite: idle {idle_rtt_ms!r} ms, loaded {loaded_rtt_ms!r} ms")
    return round(loaded_rtt_ms - idle_rtt_ms, 6)


def bufferbloat_grade(idle_rtt_ms: float, loaded_rtt_ms: float) -> str:
    """"A+", "A", "B", "C", "D" or "F" for the RTT increase under load (a decrease, which is noise, is A+)."""
    increase_ms = rtt_increase_ms(idle_rtt_ms, loaded_rtt_ms)
    for grade, below_ms in GRADE_BOUNDS_MS:
        if increase_ms < below_ms:
            return grade
    return WORST_GRADE

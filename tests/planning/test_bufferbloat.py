"""Bufferbloat grade at each bound of issue 5's scale: A+ < 5 ms, A < 30, B < 60, C < 200, D < 400, F beyond."""

from __future__ import annotations

import pytest

from homeshore.planning.bufferbloat import bufferbloat_grade, rtt_increase_ms

IDLE_MS = 20.0


@pytest.mark.parametrize(("increase_ms", "grade"), [
    (-15.0, "A+"),  # loaded below idle: noise, not a queue
    (0.0, "A+"), (4.999, "A+"),
    (5.0, "A"), (29.999, "A"),
    (30.0, "B"), (59.999, "B"),
    (60.0, "C"), (199.999, "C"),
    (200.0, "D"), (399.999, "D"),
    (400.0, "F"), (400.001, "F"), (5000.0, "F"),
])
def test_grade_at_every_bound(increase_ms: float, grade: str) -> None:
    assert bufferbloat_grade(IDLE_MS, IDLE_MS + increase_ms) == grade


@pytest.mark.parametrize(("idle_ms", "loaded_ms", "grade"), [
    (2.3, 32.3, "B"),  # 32.3 - 2.3 is 29.999999999999996 in floats: still exactly 30 ms, a B
    (3.2, 8.2, "A"),  # 4.999999999999999
    (4.1, 64.1, "C"),  # 59.99999999999999
])
def test_decimal_inputs_fall_where_they_read(idle_ms: float, loaded_ms: float, grade: str) -> None:
    assert bufferbloat_grade(idle_ms, loaded_ms) == grade


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_rtt_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        bufferbloat_grade(IDLE_MS, bad)
    with pytest.raises(ValueError):
        rtt_increase_ms(bad, IDLE_MS)

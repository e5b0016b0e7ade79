"""percentile() and median() against the standard library and hand-worked type-7 values."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.planning.stats import median, percentile

FIGURES = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(FIGURES, min_size=2, max_size=60), st.integers(min_value=1, max_value=99))
def test_integer_percentiles_equal_statistics_quantiles_inclusive(values: list[float], pct: int) -> None:
    expected = statistics.quantiles(values, n=100, method="inclusive")[pct - 1]
    assert percentile(values, pct) == pytest.approx(expected, rel=1e-12, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(st.lists(FIGURES, min_size=1, max_size=60), st.floats(min_value=0, max_value=100))
def test_any_percentile_is_linear_between_closest_ranks(values: list[float], pct: float) -> None:
    # Hyndman & Fan (1996) definition 7, written from the paper: rank h = (n - 1) p, interpolate x[floor h] and
    # x[floor h + 1].
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    below = int(rank)
    above = min(below + 1, len(ordered) - 1)
    expected = ordered[below] + (rank - below) * (ordered[above] - ordered[below])
    assert percentile(values, pct) == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert min(values) <= percentile(values, pct) <= max(values)


@settings(max_examples=200, deadline=None)
@given(FIGURES, st.integers(min_value=1, max_value=40), st.floats(min_value=0, max_value=100))
def test_equal_values_give_exactly_that_value(value: float, count: int, pct: float) -> None:
    # A home whose every test reads the threshold must be judged at the threshold, not an ulp below it.
    assert percentile([value] * count, pct) == value


@pytest.mark.parametrize("values, pct, expected", [
    ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
    ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([1.0, 2.0, 3.0, 4.0], 12.5, 1.375),  # h = 0.375
    ([4.0, 1.0, 3.0, 2.0], 10, 1.3),  # unsorted input; h = 0.3
    ([10.0] * 9 + [100.0], 90, 19.0),  # h = 8.1: 10 + 0.1 * 90
    ([5.0, 5.0, 50.0], 10, 5.0),  # h = 0.2 between two equal values: one lucky test does not lift it
    ([2.0, 50.0, 50.0], 10, 11.6),  # h = 0.2: 2 + 0.2 * 48
    ([7.5], 10, 7.5),  # a single value is its own percentile
    ([7.5], 90, 7.5),
])
def test_hand_worked_percentiles(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(FIGURES, min_size=1, max_size=60))
def test_median_equals_statistics_median(values: list[float]) -> None:
    assert median(values) == statistics.median(values)


@pytest.mark.parametrize("values, expected", [([3.0], 3.0), ([3.0, 1.0], 2.0), ([5.0, 1.0, 3.0], 3.0),
                                              ([1.0, 2.0, 10.0, 20.0], 6.0)])
def test_hand_worked_medians(values: list[float], expected: float) -> None:
    assert median(values) == expected


@pytest.mark.parametrize("pct", [-0.1, 100.1, math.nan, math.inf])
def test_percentile_outside_0_to_100_is_refused(pct: float) -> None:
    with pytest.raises(ValueError, match="within 0..100"):
        percentile([1.0, 2.0], pct)


def test_no_values_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 10)
    with pytest.raises(ValueError, match="no values"):
        median([])

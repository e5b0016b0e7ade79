"""Backoff: exponential growth with full jitter, cap and floor, Retry-After first, reset after a success.
Pure, so tested with a seeded random.Random."""

from __future__ import annotations

import random

import pytest

from homeshore.collector.backoff import Backoff
from homeshore.collector.writer import WriteOutcome, WriteResult

TIMEOUT = WriteResult(WriteOutcome.RETRY, None, "TimeoutError: timed out")
REFUSED = WriteResult(WriteOutcome.REFUSED, 401, "HTTP 401: authorization failed")


def busy(retry_after_s: float) -> WriteResult:
    return WriteResult(WriteOutcome.RETRY, 503, "HTTP 503: Service Unavailable", retry_after_s)


class TopOfRange(random.Random):
    """Draws the top of every interval asked for, so the delays are the ceilings themselves."""

    def uniform(self, a: float, b: float) -> float:
        return b


class BottomOfRange(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def test_the_ceiling_doubles_from_base_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=60.0, rng=TopOfRange())
    assert [backoff.delay_s(TIMEOUT) for _ in range(11)] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0,
                                                              60.0, 60.0]
    assert backoff.failures == 11


def test_a_draw_of_zero_is_lifted_to_the_floor_of_half_base() -> None:
    backoff = Backoff(base_s=3.0, cap_s=60.0, rng=BottomOfRange())
    assert [backoff.delay_s(TIMEOUT) for _ in range(4)] == [1.5, 1.5, 1.5, 1.5]


def test_delays_are_uniform_draws_under_the_ceiling() -> None:
    """The delay is the seeded generator's own draw over [0, ceiling], lifted to the floor."""
    backoff = Backoff(base_s=1.0, cap_s=60.0, rng=random.Random(7))
    reference = random.Random(7)
    ceilings_s = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0, 60.0]
    delays_s = [backoff.delay_s(TIMEOUT) for _ in ceilings_s]
    assert delays_s == [max(0.5, reference.uniform(0.0, ceiling_s)) for ceiling_s in ceilings_s]
    assert all(0.5 <= delay_s <= ceiling_s for delay_s, ceiling_s in zip(delays_s, ceilings_s))


def test_the_spread_fills_the_whole_interval_once_capped() -> None:
    """Full jitter: thousands of agents that failed together come back spread over [floor, cap]."""
    rng = random.Random(1)
    delays = []
    for _ in range(2000):
        backoff = Backoff(base_s=2.0, cap_s=300.0, rng=rng)
        for _ in range(20):
            delay = backoff.delay_s(TIMEOUT)
        delays.append(delay)
    assert min(delays) == 1.0  # the floor: draws below it are lifted
    assert max(delays) > 290.0 and max(delays) <= 300.0
    assert 130.0 < sum(delays) / len(delays) < 170.0  # uniform over [0, 300] lifted at 1 s: mean ~150


def test_retry_after_wins_capped_and_floored_and_still_counts_as_a_failure() -> None:
    backoff = Backoff(base_s=1.0, cap_s=120.0, rng=random.Random(3))
    assert backoff.delay_s(busy(30.0)) == 30.0
    assert backoff.delay_s(busy(3600.0)) == 120.0
    assert backoff.delay_s(busy(0.0)) == 0.5
    assert backoff.failures == 3
    assert backoff.delay_s(TIMEOUT) <= 8.0  # the fourth failure: ceiling 2^3


def test_reset_after_a_success_starts_again_from_base() -> None:
    backoff = Backoff(base_s=1.0, cap_s=300.0, rng=random.Random(5))
    for _ in range(30):
        backoff.delay_s(REFUSED)
    backoff.reset()
    assert backoff.failures == 0
    assert 0.5 <= backoff.delay_s(TIMEOUT) <= 1.0
    assert backoff.failures == 1


def test_a_long_outage_does_not_overflow() -> None:
    backoff = Backoff(base_s=1.0, cap_s=300.0, rng=random.Random(9))
    for _ in range(5000):  # 2.0 ** 5000 would raise OverflowError
        delay = backoff.delay_s(TIMEOUT)
    assert 0.5 <= delay <= 300.0


@pytest.mark.parametrize(("base_s", "cap_s"), [(0.0, 10.0), (-1.0, 10.0), (10.0, 5.0)])
def test_bad_parameters_are_refused(base_s: float, cap_s: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base_s=base_s, cap_s=cap_s)

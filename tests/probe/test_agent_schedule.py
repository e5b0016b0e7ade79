"""The agent's schedule (probe/agent_schedule.py): ticks that never stack, speed tests at random times that wait
for calls, jittered flushes. Pure: seeded random sources, times as numbers."""

from __future__ import annotations

import random
import statistics

import pytest

from homeshore.probe.agent_schedule import (SpeedtestAction, Tick, first_speedtest_s, flush_delay_s,
                                            next_speedtest_s, next_tick, speedtest_action)

HOUR_S = 3600.0


@pytest.mark.parametrize("due_s, now_s, interval_s, expected", [
    (10.0, 10.05, 1.0, Tick(11.0, 0)),  # a quick collection: the next tick on the grid
    (10.0, 10.99, 1.0, Tick(11.0, 0)),
    (10.0, 11.2, 1.0, Tick(12.0, 1)),  # overran one tick: skipped, not run late
    (10.0, 13.5, 1.0, Tick(14.0, 3)),
    (100.0, 100.0, 10.0, Tick(110.0, 0)),
    (100.0, 99.0, 10.0, Tick(110.0, 0)),  # a clock read before the due time still moves on by one interval
])
def test_next_tick_stays_on_the_grid_and_counts_the_ticks_an_overrun_skipped(due_s, now_s, interval_s,
                                                                              expected) -> None:
    assert next_tick(due_s, now_s, interval_s) == expected


def test_next_tick_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        next_tick(0.0, 1.0, 0.0)


def test_the_first_speed_test_falls_anywhere_in_the_first_interval() -> None:
    rng = random.Random(1)
    times = [first_speedtest_s(1000.0, 4.0, rng) - 1000.0 for _ in range(2000)]
    assert 0.0 <= min(times) < 0.02 * 4 * HOUR_S  # reaches near the start...
    assert 0.98 * 4 * HOUR_S < max(times) <= 4 * HOUR_S  # ...and near the end of the interval
    assert statistics.mean(times) == pytest.approx(2 * HOUR_S, rel=0.05)


def test_later_speed_tests_come_between_half_and_one_and_a_half_intervals_apart_averaging_the_interval() -> None:
    rng = random.Random(2)
    gaps = [next_speedtest_s(50.0, 4.0, rng) - 50.0 for _ in range(2000)]
    assert 2 * HOUR_S <= min(gaps) < 2.05 * HOUR_S
    assert 5.95 * HOUR_S < max(gaps) <= 6 * HOUR_S
    assert statistics.mean(gaps) == pytest.approx(4 * HOUR_S, rel=0.03)


def test_agents_with_different_seeds_never_share_their_speed_test_times() -> None:
    firsts = {round(first_speedtest_s(0.0, 4.0, random.Random(seed)), 3) for seed in range(500)}
    assert len(firsts) == 500
    # An agent that restarts draws anew from its own source: not in step with another agent either.
    a, b = random.Random(7), random.Random(8)
    assert [next_speedtest_s(0.0, 4.0, a) for _ in range(5)] != [next_speedtest_s(0.0, 4.0, b) for _ in range(5)]


@pytest.mark.parametrize("now_s, due_s, call, expected", [
    (99.0, 100.0, False, SpeedtestAction.WAIT),
    (99.0, 100.0, True, SpeedtestAction.WAIT),
    (100.0, 100.0, False, SpeedtestAction.RUN),
    (100.0, 100.0, True, SpeedtestAction.DEFER),  # a call in progress: never a speed test over it
    (5000.0, 100.0, True, SpeedtestAction.DEFER),  # however long the call
    (5001.0, 100.0, False, SpeedtestAction.RUN),  # the call ended: run at once, no new random wait
])
def test_a_due_speed_test_waits_for_the_call_in_progress_and_runs_as_soon_as_it_ends(now_s, due_s, call,
                                                                                     expected) -> None:
    assert speedtest_action(now_s, due_s, call) is expected


def test_flush_delays_are_jittered_by_twenty_percent_both_ways() -> None:
    rng = random.Random(3)
    delays = [flush_delay_s(10.0, rng) for _ in range(2000)]
    assert 8.0 <= min(delays) < 8.05 and 11.95 < max(delays) <= 12.0
    assert len({round(d, 6) for d in delays}) == len(delays)  # not all agents on the same second

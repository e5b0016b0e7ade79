"""When the agent does things, pure: ticks that never stack, speed tests at random times that wait for calls to
end, and flushes that never fall on the same second for every agent.

Times are seconds on a monotonic clock; randomness comes from a `random.Random` the caller passes, so tests
use a seeded one. The agent seeds its own from the operating system's entropy: two agents, or one agent
restarted, never share a schedule (Telegraf's `collection_jitter` and `flush_jitter`, for the same reason:
thousands of homes must not run their speed tests, or hit the collector, at the same moment).
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

SPEEDTEST_SPREAD = (0.5, 1.5)  # interval_h x uniform(this): mean interval_h, never two within half of it
FLUSH_JITTER = 0.2  # flush every flush_interval_s x uniform(1 - this, 1 + this)
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Tick:
    """The next tick of a source whose collection ran from its due time until `now_s`."""

    due_s: float  # when to collect next
    skipped: int  # ticks that passed while the collection ran (overrun): skipped, never run late in a row


def next_tick(due_s: float, now_s: float, interval_s: float) -> Tick:
    """The first tick after `now_s` on the grid due_s + k x interval_s (k >= 1). A collection that overran its
    interval skips the ticks it covered rather than running them back to back (Telegraf's agent does the same),
    so a slow source never stacks its runs and never drifts."""
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, not {interval_s}")
    steps = max(1, math.floor((now_s - due_s) / interval_s) + 1)
    return Tick(due_s + steps * interval_s, steps - 1)


def first_speedtest_s(now_s: float, interval_h: float, rng: random.Random) -> float:
    """The first speed test after start: at a random offset within the first interval (an agent fleet started
    together by a software update spreads over the whole interval at once)."""
    return now_s + rng.uniform(0.0, interval_h * SECONDS_PER_HOUR)


def next_speedtest_s(now_s: float, interval_h: float, rng: random.Random) -> float:
    """The speed test after one that ended at `now_s`: interval_h on average, uniformly 0.5-1.5 times it."""
    low, high = SPEEDTEST_SPREAD
    return now_s + interval_h * SECONDS_PER_HOUR * rng.uniform(low, high)


class SpeedtestAction(enum.Enum):
    WAIT = "wait"  # not due yet
    DEFER = "defer"  # due, but a call is in progress: a speed test would fill the link the call needs
    RUN = "run"


def speedtest_action(now_s: float, due_s: float, call_in_progress: bool) -> SpeedtestAction:
    """What to do now. A deferred test runs as soon as the call ends (it stays due: no new random time)."""
    if now_s < due_s:
        return SpeedtestAction.WAIT
    return SpeedtestAction.DEFER if call_in_progress else SpeedtestAction.RUN


def flush_delay_s(interval_s: float, rng: random.Random, *, jitter: float = FLUSH_JITTER) -> float:
    """Seconds until the next flush: the configured interval, jittered by +-`jitter` of itself."""
    return interval_s * rng.uniform(1.0 - jitter, 1.0 + jitter)

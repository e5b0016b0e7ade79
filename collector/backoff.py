"""How long to wait after a failed flush: exponential with "full jitter", and the server's Retry-After first.

Full jitter (a uniform draw in [0, base_s * 2^(n-1)], capped) spreads thousands of agents that lost the collector
at the same moment over the whole interval, so they do not come back in step when it returns (DESIGN.md,
"Scale"; Telegraf's flush_jitter has the same purpose). A floor of base_s / 2 keeps a draw near zero from
turning into a busy loop. A Retry-After (429, 503) is the server saying when it can take more: it wins over the
computed delay, still capped at cap_s and at least the floor.

Pure: no clock, no sleep; the caller sleeps. The random source is a parameter, so tests pass a seeded one.
"""

from __future__ import annotations

import random

from homeshore.collector.writer import WriteResult

_MAX_DOUBLINGS = 62  # 2**62 s is beyond any cap; stops the power from growing without end


class Backoff:
    def __init__(self, *, base_s: float = 1.0, cap_s: float = 300.0, rng: random.Random | None = None) -> None:
        if base_s <= 0:
            raise ValueError(f"base_s must be positive, not {base_s}")
        if cap_s < base_s:
            raise ValueError(f"cap_s ({cap_s}) must be at least base_s ({base_s})")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng if rng is not None else random.Random()
        self._failures = 0  # consecutive, since the last reset

    @property
    def floor_s(self) -> float:
        return self.base_s / 2

    @property
    def failures(self) -> int:
        return self._failures

    def delay_s(self, failure: WriteResult) -> float:
        """Seconds to wait before the next flush; counts one more consecutive failure."""
        self._failures += 1
        if failure.retry_after_s is not None:
            return min(self.cap_s, max(self.floor_s, failure.retry_after_s))
        ceiling_s = min(self.cap_s, self.base_s * 2.0 ** min(self._failures - 1, _MAX_DOUBLINGS))
        return max(self.floor_s, self._rng.uniform(0.0, ceiling_s))

    def reset(self) -> None:
        """After a success: the next failure starts again from base_s."""
        self._failures = 0

"""Interarrival jitter (RFC 3550 §6.4.1 and Appendix A.8), with the statistics tshark reports beside it.

J is kept in timestamp units, as RFC 3550 defines it: J += (|D(i-1,i)| - J) / 16, where D is the difference of
the relative transit times of consecutive packets. min/mean/max are taken, as Wireshark does, over the packets
that update J (not the first of a stream or talkspurt); the mean is the mean of those J values.
"""

from __future__ import annotations

import math


class JitterMeter:
    """One stream's jitter. Feed packets in arrival order; call `restart()` where the transit reference must not
    carry over (a new talkspurt after silence suppression, a sequence reset)."""

    __slots__ = (
        "clock_hz",
        "jitter_ts",
        "min_ts",
        "max_ts",
        "sum_ts",
        "count",
        "max_delta_s",
        "window_max_ts",
        "_last_transit",
        "_last_arrival_s",
        "_last_ts",
    )

    def __init__(self, clock_hz: int):
        self.clock_hz = clock_hz
        self.jitter_ts = 0.0
        self.min_ts = math.inf
        self.max_ts = 0.0
        self.sum_ts = 0.0
        self.count = 0
        self.max_delta_s = 0.0
        self.window_max_ts = -1.0  # max of J since the last `start_window()`; -1 when J was not updated since
        self._last_transit: float | None = None
        self._last_arrival_s = 0.0
        self._last_ts = 0

    def update(self, arrival_s: float, timestamp_ext: int) -> None:
        """RFC 3550 A.8 with `timestamp_ext` unwrapped past 2^32 by the caller."""
        transit = arrival_s * self.clock_hz - timestamp_ext
        last = self._last_transit
        if last is not None:
            d = transit - last
            jitter = self.jitter_ts + ((d if d >= 0 else -d) - self.jitter_ts) / 16.0
            self.jitter_ts = jitter
            self.sum_ts += jitter
            self.count += 1
            if jitter > self.max_ts:
                self.max_ts = jitter
            if jitter > self.window_max_ts:
                self.window_max_ts = jitter
            if jitter < self.min_ts:
                self.min_ts = jitter
            delta = arrival_s - self._last_arrival_s
            if delta > self.max_delta_s:
                self.max_delta_s = delta
        self._last_transit = transit
        self._last_arrival_s = arrival_s

    def rereference(self, arrival_s: float, timestamp_ext: int) -> None:
        """Take this arrival as the transit reference without updating J (a re-delivered packet)."""
        if self._last_transit is not None:
            self._last_transit = arrival_s * self.clock_hz - timestamp_ext
            self._last_arrival_s = arrival_s

    def restart(self) -> None:
        """The next packet only sets the reference: it starts a new talkspurt or segment."""
        self._last_transit = None

    def start_window(self) -> float | None:
        """Max jitter (ms) since the previous call, or None when J was not updated in between."""
        window_max = self.window_max_ts
        self.window_max_ts = -1.0
        return self._ms(window_max) if window_max >= 0 else None

    def _ms(self, value_ts: float) -> float:
        return value_ts * 1000.0 / self.clock_hz

    @property
    def jitter_ms(self) -> float:
        return self._ms(self.jitter_ts)

    @property
    def max_ms(self) -> float | None:
        return self._ms(self.max_ts) if self.count else None

    @property
    def min_ms(self) -> float | None:
        return self._ms(self.min_ts) if self.count else None

    @property
    def mean_ms(self) -> float | None:
        return self._ms(self.sum_ts / self.count) if self.count else None

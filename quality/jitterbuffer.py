"""Jitter-buffer emulation: which packets a receiver would play and which it would discard as too late.

Both buffers are streaming: one packet per `offer()`, in arrival order, constant memory. Times are the capture
clock in seconds; `rtp_ts_ext` is the RTP timestamp unwrapped across 2^32 (RFC 3550 §5.1), so only differences
of it are used and a wrap costs nothing. A packet plays if it arrives no later than its playout time; RFC 3611
§4.7.1 counts the others as discarded, and RFC 3611 §4.7.2 treats them like lost packets.
"""

from __future__ import annotations

import math
from typing import Final

_ALPHA: Final = 0.998002  # Ramjee et al. 1994, algorithm 1: weight of the history in d and v
_BETA: Final = 4.0  # ... and the number of variations added to d for the playout delay
_SLACK_S: Final = 1e-9  # float round-off in arrival arithmetic; far below any capture clock's resolution
_NO_TRANSIT_S: Final = math.inf  # no packet since the start or a resync (a Final: mypyc reads it without a lookup)


class JitterBuffer:
    """What the stream needs of either buffer: `offer` each packet, `resync` at a reset, and the playout delay."""

    __slots__ = ("clock_hz", "played", "discarded", "current_delay_ms")

    def __init__(self, clock_hz: int, delay_ms: float) -> None:
        if clock_hz <= 0:
            raise ValueError(f"clock_hz must be positive, got {clock_hz!r}")
        self.clock_hz = clock_hz
        self.played = 0
        self.discarded = 0
        self.current_delay_ms = delay_ms

    def offer(self, arrival_s: float, rtp_ts_ext: int, talkspurt_start: bool = False) -> bool:
        raise NotImplementedError

    def resync(self) -> None:
        raise NotImplementedError


class FixedJitterBuffer(JitterBuffer):
    """Playout at a fixed delay after the first packet: packet plays at arrival0 + depth + (ts - ts0)/clock.
    Later arrival = discard.

    Equivalently a packet plays when its transit (arrival - ts/clock) exceeds the first packet's by at most
    `depth_ms`. The first packet after construction or `resync()` always plays and sets the reference.
    """

    __slots__ = ("depth_ms", "_depth_s", "_arrival0_s", "_ts0")

    def __init__(self, clock_hz: int, depth_ms: float = 60.0):
        super().__init__(clock_hz, depth_ms)
        if not (depth_ms >= 0 and math.isfinite(depth_ms)):
            raise ValueError(f"depth_ms must be zero or more, got {depth_ms!r}")
        self.depth_ms = depth_ms
        self._depth_s = depth_ms / 1000.0
        self._arrival0_s: float | None = None
        self._ts0 = 0

    def offer(self, arrival_s: float, rtp_ts_ext: int, talkspurt_start: bool = False) -> bool:
        """True if the packet plays, False if it arrived after its playout time and is discarded.
        `talkspurt_start` is accepted for the same call as the adaptive buffer; a fixed buffer does not adapt."""
        if self._arrival0_s is None:
            self._arrival0_s, self._ts0 = arrival_s, rtp_ts_ext
        # Integer timestamp difference first: exact however large the extended timestamp grows.
        late_s = (arrival_s - self._arrival0_s) - (rtp_ts_ext - self._ts0) / self.clock_hz
        if late_s <= self._depth_s + _SLACK_S:
            self.played += 1
            return True
        self.discarded += 1
        return False

    def resync(self) -> None:
        """Take the next packet as the new reference (after a sequence or timestamp reset, or at a talkspurt
        the caller chooses to resync on). Counters carry on."""
        self._arrival0_s = None


def make_jitter_buffer(depth_ms: float | None, clock_hz: int) -> JitterBuffer:
    """An adaptive buffer for None, else a fixed one of `depth_ms` (as `parse_spec` returns them)."""
    return AdaptiveJitterBuffer(clock_hz) if depth_ms is None else FixedJitterBuffer(clock_hz, depth_ms)


def parse_spec(spec: str) -> float | None:
    """None for "adaptive", the depth in ms for "fixed:N"; ValueError with a one-line message otherwise."""
    if spec == "adaptive":
        return None
    kind, _, depth = spec.partition(":")
    try:
        depth_ms = float(depth)
    except ValueError:
        depth_ms = -1.0
    if kind != "fixed" or not 0 <= depth_ms <= 10_000:
        raise ValueError(f"jitter buffer must be 'adaptive' or 'fixed:<ms>' (0-10000), not {spec!r}")
    return depth_ms


class AdaptiveJitterBuffer(JitterBuffer):
    """Adaptive playout (Ramjee et al. 1994, algorithm 1, as used by common VoIP stacks): delay estimate d and
    variation v updated per packet (d = a*d + (1-a)*n, v = a*v + (1-a)*|d-n|, a = 0.998002), playout delay
    = d + 4v, applied only at the start of a talkspurt (marker bit or a timestamp jump larger than one packet),
    within [min_ms, max_ms].

    Sender and capture clocks are not synchronised, so n is measured from the fastest transit seen so far (a
    packet that took the quickest path has n = 0); `current_delay_ms` is then the time such a packet waits in
    the buffer. Every packet, played or not, updates d and v. "One packet" is the smallest positive timestamp
    step seen, and a step above it (silence suppression, but also a lost packet) starts a talkspurt; so does
    `talkspurt_start` (the marker bit, RFC 3551 §4.1) and the first packet.
    """

    __slots__ = (
        "min_ms",
        "max_ms",
        "_arrival0_s",
        "_ts0",
        "_base_transit_s",
        "_d_s",
        "_v_s",
        "_playout_transit_s",
        "_max_ts",
        "_packet_ts",
    )

    def __init__(self, clock_hz: int, min_ms: float = 20.0, max_ms: float = 200.0):
        # current_delay_ms: the playout delay of the current talkspurt, over the fastest transit
        super().__init__(clock_hz, min_ms)
        if not (0 <= min_ms <= max_ms and math.isfinite(max_ms)):
            raise ValueError(f"need 0 <= min_ms <= max_ms, got {min_ms!r} and {max_ms!r}")
        self.min_ms = min_ms
        self.max_ms = max_ms
        self._d_s = 0.0
        self._v_s = 0.0
        self._arrival0_s: float | None = None
        self._ts0 = 0
        self._base_transit_s = _NO_TRANSIT_S
        self._playout_transit_s = 0.0
        self._max_ts = 0
        self._packet_ts: int | None = None

    def offer(self, arrival_s: float, rtp_ts_ext: int, talkspurt_start: bool = False) -> bool:
        """True if the packet plays, False if it arrived after its playout time and is discarded."""
        if self._arrival0_s is None:
            self._arrival0_s, self._ts0, self._max_ts = arrival_s, rtp_ts_ext, rtp_ts_ext
            talkspurt_start = True
        transit_s = (arrival_s - self._arrival0_s) - (rtp_ts_ext - self._ts0) / self.clock_hz
        if transit_s < self._base_transit_s:
            if self._base_transit_s != _NO_TRANSIT_S:
                self._d_s += self._base_transit_s - transit_s  # same absolute estimate, new zero point
            self._base_transit_s = transit_s
        n_s = transit_s - self._base_transit_s
        self._d_s = _ALPHA * self._d_s + (1 - _ALPHA) * n_s
        self._v_s = _ALPHA * self._v_s + (1 - _ALPHA) * abs(self._d_s - n_s)

        step_ts = rtp_ts_ext - self._max_ts
        if step_ts > 0:  # a reordered (older) packet says nothing about talkspurts
            if self._packet_ts is not None and step_ts > self._packet_ts:
                talkspurt_start = True
            if self._packet_ts is None or step_ts < self._packet_ts:
                self._packet_ts = step_ts
            self._max_ts = rtp_ts_ext
        if talkspurt_start:
            delay_ms = min(max((self._d_s + _BETA * self._v_s) * 1000.0, self.min_ms), self.max_ms)
            self.current_delay_ms = delay_ms
            # Fixed in absolute terms for the whole talkspurt, even if a faster packet moves the zero point.
            self._playout_transit_s = self._base_transit_s + delay_ms / 1000.0

        if transit_s <= self._playout_transit_s + _SLACK_S:
            self.played += 1
            return True
        self.discarded += 1
        return False

    def resync(self) -> None:
        """Forget the timestamp and transit references (after a sequence or timestamp reset): the next packet
        starts a talkspurt. d and v describe the network path, so they carry over, as do the counters."""
        self._arrival0_s = None
        self._ts0 = 0
        self._base_transit_s = _NO_TRANSIT_S
        self._playout_transit_s = 0.0
        self._max_ts = 0
        self._packet_ts = None

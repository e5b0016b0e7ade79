"""RTP clock rate inferred from timestamps against arrival times.

Static payload types and SDP state a clock rate, but senders get it wrong (an L16 stream signalled at 11025 Hz
whose timestamps step at 8000 Hz makes Wireshark report 8.7 ms of jitter that is not there), and WebRTC calls
carry no SDP in the capture at all. The timestamp is the sender's sample clock, so over the probation window it
is a straight line in arrival time whose slope is the clock rate; arrival jitter is zero-mean noise on that line.

The slope is a Theil-Sen estimate: the median of the slopes between packets at least a quarter of the window
apart. A pair of consecutive 20-ms packets with ±10 ms of arrival jitter can read anything from 0 to 3 times the
true rate, but a pair 160 ms apart reads it within 13 %, and the median of a few hundred such pairs is much
closer still.
Silence gaps and Opus DTX (one packet every 400 ms) only widen the window; reordered, bursty or stray packets are
outvoted; video (several packets per frame sharing a timestamp) still draws the 90 kHz line through its frames.
Runs once per stream, on the probation window: no per-packet work after it.
"""

from __future__ import annotations

from typing import Final

from homeshore.quality.codecs import snap_clock_rate

MIN_POINTS: Final = 8
MAX_POINTS: Final = 64  # a bounded sample: at most 64 * 63 / 2 pair slopes
MIN_SPAN_S: Final = 0.1  # pairs closer in arrival than this say little (10 ms of jitter is 10 % of it)
AGREEING_SHARE: Final = 0.5  # share of the pair slopes within 10 % of the median for the fit to count
SNAP_TOLERANCE: Final = 0.04  # 11025/12000 and 44100/48000 are 8 % apart: snap only when clearly one of them


def fit_clock_hz(points: list[tuple[float, int]]) -> float | None:
    """Theil-Sen slope (timestamp units per second) of (arrival s, timestamp unwrapped) points in arrival order,
    from the pairs at least a quarter of the arrival span (and MIN_SPAN_S) apart; None when there are too few such
    pairs or they do not agree (no straight line: not a media clock)."""
    if len(points) > MAX_POINTS:
        step = len(points) / MAX_POINTS
        points = [points[int(i * step)] for i in range(MAX_POINTS)]
    if len(points) < MIN_POINTS:
        return None
    times = sorted(p[0] for p in points)
    min_gap = max(MIN_SPAN_S, (times[-1] - times[0]) / 4)
    slopes = []
    for i, (t_i, ts_i) in enumerate(points):
        for t_j, ts_j in points[i + 1 :]:
            gap = t_j - t_i
            if gap >= min_gap:
                slopes.append((ts_j - ts_i) / gap)
            elif gap <= -min_gap:
                slopes.append((ts_i - ts_j) / -gap)
    if len(slopes) < MIN_POINTS:
        return None
    slopes.sort()
    centre = slopes[len(slopes) // 2]
    if centre <= 0:
        return None
    agreeing = sum(1 for slope in slopes if abs(slope - centre) <= 0.1 * centre)
    return centre if agreeing >= AGREEING_SHARE * len(slopes) else None


def infer_clock_hz(points: list[tuple[float, int]]) -> int | None:
    """The standard clock rate (8000, 16000, 48000, 90000 ...) the timestamps of `points` step at, or None when the
    fit fails or lands between standard rates."""
    rate = fit_clock_hz(points)
    return None if rate is None else snap_clock_rate(rate, SNAP_TOLERANCE)


def timeline(packets: list[tuple[float, int, int]]) -> list[tuple[float, int]]:
    """(arrival s, timestamp unwrapped from the first packet's) for (arrival s, sequence, timestamp) of one
    payload type in arrival order; repeated sequence numbers (duplicates, padding) are taken once."""
    if not packets:
        return []
    seen: set[int] = set()
    first_ts = packets[0][2]
    points = []
    for arrival, seq, ts in packets:
        if seq in seen:
            continue
        seen.add(seq)
        delta = (ts - first_ts) & 0xFFFFFFFF
        points.append((arrival, delta - 0x100000000 if delta >= 0x80000000 else delta))
    return points

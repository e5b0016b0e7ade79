"""Loss patterns from per-packet received flags: RFC 3611 §4.7.2 burst/gap metrics and the G.107 BurstR.

Input everywhere is one flag per expected packet, in extended-sequence order: 1/True = received and played,
0/False = lost or discarded (RFC 3611 §4.7.2 treats both the same). Work is done on bytes with regular
expressions and bytes.count, so a one-hour stream (180,000 flags at 20 ms) costs milliseconds.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_LOSS_RUN = re.compile(rb"\x00+")


@dataclass(frozen=True)
class LossPattern:
    """Burst/gap metrics of one stream (RFC 3611 §4.7.2), as exact fractions rather than the 8-bit fields of
    the XR block: multiply a density by 256 and cap at 255 to fill the wire field."""

    packets_expected: int
    packets_lost: int
    burst_density: float  # fraction 0..1 of burst packets lost or discarded; 0 if no burst
    gap_density: float  # fraction 0..1 of gap packets lost or discarded; 0 if no gap
    burst_duration_ms: float  # mean burst length, first to last loss inclusive; 0 if no burst
    gap_duration_ms: float  # mean length of the non-empty gaps; the whole stream if there is no burst
    mean_burst_packets: float  # mean packets expected (lost and received) per burst; 0 if no burst
    consecutive_loss_histogram: tuple[tuple[int, int], ...]  # (run length, number of runs), by length
    max_consecutive_lost: int


def loss_pattern(
    received: bytes | bytearray | Sequence[bool], packet_interval_ms: float, gmin: int = 16
) -> LossPattern:
    """Classify every packet into bursts and gaps as RFC 3611 §4.7.2 defines them.

    A burst is the longest sequence that starts and ends with a lost packet and holds no run of `gmin` or more
    received packets; so two losses fewer than `gmin` received packets apart share a burst, and a loss with at
    least `gmin` received packets on each side is a gap loss. The stream counts as preceded and followed by
    `gmin` received packets (§4.7.2), so a loss at either end is not a burst by itself. Densities are
    lost / expected within bursts and within gaps; durations are packet counts times `packet_interval_ms`.

    This is the definition, not the Appendix A.2 estimator: A.2 infers densities from Markov transition counts
    and labels each loss only when the next one arrives (a single isolated loss makes A.2 report burst density
    255/256); here each packet's state is exact.
    """
    if not (packet_interval_ms > 0 and math.isfinite(packet_interval_ms)):
        raise ValueError(f"packet_interval_ms must be positive, got {packet_interval_ms!r}")
    if gmin < 1:
        raise ValueError(f"gmin must be at least 1, got {gmin!r}")
    flags = _as_flags(received)
    expected = len(flags)
    lost = flags.count(0)

    bursts = burst_packets = burst_lost = 0
    first_burst_start = last_burst_end = 0
    for match in _burst_regex(gmin).finditer(flags):
        start, end = match.span()
        if not bursts:
            first_burst_start = start
        last_burst_end = end
        bursts += 1
        burst_packets += end - start
        burst_lost += flags.count(0, start, end)

    if bursts:
        # Gaps between bursts hold at least gmin packets; the leading and trailing ones may be empty.
        gaps = bursts - 1 + (first_burst_start > 0) + (last_burst_end < expected)
    else:
        gaps = 1 if expected else 0
    gap_packets = expected - burst_packets
    runs = Counter(len(run) for run in _LOSS_RUN.findall(flags))
    return LossPattern(
        packets_expected=expected,
        packets_lost=lost,
        burst_density=burst_lost / burst_packets if burst_packets else 0.0,
        gap_density=(lost - burst_lost) / gap_packets if gap_packets else 0.0,
        burst_duration_ms=burst_packets / bursts * packet_interval_ms if bursts else 0.0,
        gap_duration_ms=gap_packets / gaps * packet_interval_ms if gaps else 0.0,
        mean_burst_packets=burst_packets / bursts if bursts else 0.0,
        consecutive_loss_histogram=tuple(sorted(runs.items())),
        max_consecutive_lost=max(runs, default=0),
    )


def burst_ratio(received: bytes | bytearray | Sequence[bool]) -> float:
    """BurstR of ITU-T G.107 (Ie,eff) / G.113 Appendix I: 1 for random loss, above 1 for bursty loss.

    Estimated from the flags as a two-state Markov chain, BurstR = 1 / (p + q), with p = P(lost | previous
    received) and q = P(received | previous lost). Returns 1.0 when there is no loss, or when either state has
    no observed successor (nothing received, a stream of one packet, a single loss at the very end).
    """
    flags = _as_flags(received)
    if not flags or flags.count(0) == 0:
        return 1.0
    last = flags[-1]
    received_with_next = flags.count(1) - (last == 1)
    lost_with_next = flags.count(0) - (last == 0)
    if received_with_next == 0 or lost_with_next == 0:
        return 1.0
    # "\x01\x00" and "\x00\x01" cannot overlap themselves, so bytes.count counts every transition.
    p = flags.count(b"\x01\x00") / received_with_next
    q = flags.count(b"\x00\x01") / lost_with_next
    return 1.0 / (p + q)


def _as_flags(received: bytes | bytearray | Sequence[bool]) -> bytes:
    """One byte per packet, 1 received and 0 lost; bytes input must already hold only 0 and 1."""
    if isinstance(received, (bytes, bytearray, memoryview)):
        flags = bytes(received)
        if flags.translate(None, b"\x00\x01"):
            raise ValueError("received flags given as bytes must be 0 or 1 (not ASCII '0'/'1')")
        return flags
    return bytes(map(bool, received))


@functools.lru_cache(maxsize=8)
def _burst_regex(gmin: int) -> re.Pattern[bytes]:
    # RFC 3611 §4.7.2: a loss, then one or more (fewer than gmin received, a loss). Greedy matching from the
    # left takes the longest such sequence; a lone loss does not match, so it stays in the gap.
    return re.compile(rb"\x00(?:\x01{0,%d}\x00)+" % (gmin - 1))

"""The browser call's packets, arrival log and figures, pure (server/webrtc_call.py is the I/O around them).

Each side of the call sends one packet every 20 ms on the data channel: 172 bytes, a G.711 RTP packet's size
(12-byte header, 160 bytes of audio), carrying its sequence number (4 bytes, big-endian) and its sender's clock
at sending in ms (an IEEE 754 double), then zeros. A leg is scored by homeshore's own engine, as the CLI's
synthetic call scores its legs (probe/synthetic_score.score_leg: RFC 3550 A.8 jitter, RFC 3611 bursts, the
G.107 E-model), from each packet's transit: its arrival time less its send time, on two different clocks. The
clocks differ by a constant (the browser's performance.now() and the server's monotonic clock), which jitter,
built on differences of transits, never sees.

The round trip needs no common clock either: the upstream transit is true delay + c, the downstream one true
delay - c, so the median of each added is the round trip, whatever c is (clock drift over a 20-s call, a few
microseconds, is negligible). It gives the E-model its mouth-to-ear delay, as the CLI's call does.
"""

from __future__ import annotations

import math
import statistics
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from homeshore.probe.synthetic_score import PACKET_S, LegScore, score_leg
from homeshore.probe.udpprobe_wire import G711_SIZE

PACKET_BYTES = G711_SIZE  # 172
PACKETS_PER_S = round(1 / PACKET_S)  # 50
_HEAD = struct.Struct("!Id")
_PADDING = bytes(PACKET_BYTES - _HEAD.size)


def pack(seq: int, sent_ms: float) -> bytes:
    return _HEAD.pack(seq, sent_ms) + _PADDING


def unpack(data: object) -> tuple[int, float] | None:
    """(sequence number, send time ms) of a call packet; None for anything else (wrong type or size, or a
    send time that is not a finite number)."""
    if not isinstance(data, bytes) or len(data) != PACKET_BYTES:
        return None
    seq, sent_ms = _HEAD.unpack_from(data)
    return (seq, sent_ms) if math.isfinite(sent_ms) else None


@dataclass(frozen=True)
class CallFigures:
    """One browser call. blocked: no ICE candidate pair (or no DTLS) came up within the bound, so nothing was
    measured and reason says why; otherwise each leg as homeshore's engine scores it (LegScore: packets,
    loss, bursts, jitter ms, R, MOS), downstream None (with a reason) when the browser sent no arrival log.
    packets_per_leg is what each side was to send; connect_s how long the channel took to open after the
    answer (or how long we waited before calling it blocked); rtt_ms the round trip (module docstring)."""

    seconds: int
    packets_per_leg: int
    blocked: bool
    reason: str | None
    connect_s: float
    rtt_ms: float | None = None
    upstream: LegScore | None = None
    downstream: LegScore | None = None


class BadLog(ValueError):
    """An arrival log that is not what the page sends; the message is one line for the 400 reply."""


def parse_log(document: object, packets: int) -> list[tuple[int, float]]:
    """(seq, arrival ms) per packet the browser received, from its log {"seq": [...], "arrival_ms": [...]}:
    two arrays of the same length, at most `packets` long, seq whole numbers in 0..packets-1, arrival times
    finite numbers. BadLog otherwise."""
    if not isinstance(document, dict) or set(document) != {"seq", "arrival_ms"}:
        raise BadLog('the log is an object with exactly "seq" and "arrival_ms"')
    seqs, arrivals = document["seq"], document["arrival_ms"]
    if not isinstance(seqs, list) or not isinstance(arrivals, list) or len(seqs) != len(arrivals):
        raise BadLog('"seq" and "arrival_ms" are arrays of the same length')
    if len(seqs) > packets:
        raise BadLog(f"{len(seqs)} arrivals logged, more than the {packets} packets sent")
    if not all(type(seq) is int and 0 <= seq < packets for seq in seqs):
        raise BadLog(f'"seq" holds whole numbers from 0 to {packets - 1}')
    if not all(type(ms) in (int, float) and math.isfinite(ms) for ms in arrivals):
        raise BadLog('"arrival_ms" holds finite numbers')
    return list(zip(seqs, (float(ms) for ms in arrivals)))


def transits_ns(arrivals: Sequence[tuple[int, float]], sent_ms: Sequence[float | None]) -> list[tuple[int, int]]:
    """(seq, arrival - send in ns) for each arrival of a packet whose send time is known."""
    return [(seq, round((arrival_ms - sent_ms[seq]) * 1e6)) for seq, arrival_ms in arrivals
            if seq < len(sent_ms) and sent_ms[seq] is not None]


def round_trip_ms(upstream: Sequence[tuple[int, int]], downstream: Sequence[tuple[int, int]]) -> float | None:
    """The median upstream transit plus the median downstream one (module docstring); None without both."""
    if not upstream or not downstream:
        return None
    return (statistics.median(t for _, t in upstream) + statistics.median(t for _, t in downstream)) / 1e6


def score(seconds: int, connect_s: float, upstream: Sequence[tuple[int, int]],
          downstream: Sequence[tuple[int, int]] | None) -> CallFigures:
    """The figures of a call that came up: upstream transits as the server saw them, downstream ones from the
    browser's log (None: no log came, and only the upstream is scored)."""
    packets = seconds * PACKETS_PER_S
    rtt_ms = round_trip_ms(upstream, downstream or ())
    return CallFigures(
        seconds=seconds, packets_per_leg=packets, blocked=False,
        reason=None if downstream is not None else "the browser sent no arrival log: downstream not measured",
        connect_s=connect_s, rtt_ms=rtt_ms, upstream=score_leg("upstream", packets, upstream, rtt_ms),
        downstream=None if downstream is None else score_leg("downstream", packets, downstream, rtt_ms))


def blocked(seconds: int, waited_s: float, reason: str) -> CallFigures:
    return CallFigures(seconds=seconds, packets_per_leg=seconds * PACKETS_PER_S, blocked=True, reason=reason,
                       connect_s=waited_s)

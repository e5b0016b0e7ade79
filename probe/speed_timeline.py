"""The steady rate of a speed-test phase from when its bytes arrived, with the warm-up left out. Pure.

    rate = steady_rate_mbps(samples, start_s=started_s, warmup_s=warmup_for(10), phase_s=10)  # client timeline
    rate = steady_rate_from_bins_mbps(receipt["bins"], bin_s=receipt["bin_s"], warmup_s=..., phase_s=10)  # receipt

Why a warm-up is discarded: a phase starts with nothing in flight. Each TCP connection begins in slow start
(RFC 5681 §3.1: an initial window of ~10 segments, doubling per round trip) and speedtest-cli starts its
threads, and with them its connections, one after the other; so the first second or so carries less than the
link can, and a figure taken over the whole phase (speedtest-cli's) reads low by an amount that depends on the
round-trip time rather than on the link. The rule: discard the first max(1 s, 20 % of the phase). One second
covers slow start at the round-trip times of a home link (~10 doublings at up to 100 ms of RTT); the 20 %
covers the queue a long phase builds, and keeps at least 80 % of any phase longer than 5 s.

What is measured: the bytes that arrived after the warm-up and by the end of the phase, divided by the time
from the end of the warm-up to the arrival of the last of them. Ending at the last byte, not at the nominal
end, means a stall at the end (the sender giving up) is not counted as a slow link. Bytes after the end are
left out: when speedtest-cli stops, a connection that was waiting for a retransmission can still deliver a
few bytes a few hundred ms later, and counting them would stretch the time by far more than they add (at
2 Mbit/s through a 50-ms tbf queue, one such straggler at 5.3 s of a 5-s phase made 1.78 of 1.90 Mbit/s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

WARMUP_MIN_S = 1.0
WARMUP_FRACTION = 0.2
MIN_STEADY_S = 0.5  # less than this after the warm-up is too little to call a rate


def warmup_for(phase_s: float) -> float:
    """The seconds discarded at the start of a phase of phase_s seconds: max(1 s, 20 % of the phase)."""
    return max(WARMUP_MIN_S, WARMUP_FRACTION * phase_s)


def steady_rate_mbps(samples: Sequence[tuple[float, int]], *, start_s: float, warmup_s: float,
                     phase_s: float | None = None, unread_at_cut_bytes: int = 0,
                     min_steady_s: float = MIN_STEADY_S) -> float | None:
    """Mbit/s (10^6 bit/s) of payload after the warm-up, from (arrival time s, bytes) samples.

    A sample's bytes arrived at or before its time (a read returns what came since the previous one), so a
    sample counts when its time is after start_s + warmup_s, and (phase_s given) not after start_s + phase_s.
    Samples need not be sorted (several threads append to one timeline). unread_at_cut_bytes: what had
    arrived by the end of the warm-up but was read after it (the receive buffers' contents then), subtracted:
    a reader held up for 0.2 s at that moment (a busy machine) would otherwise count 0.2 s of the link's
    bytes twice over. None when no byte came in the window, or the steady part is shorter than min_steady_s."""
    cut_s = start_s + warmup_s
    end_s = start_s + phase_s if phase_s is not None else float("inf")
    steady = [(time_s, size) for time_s, size in samples if cut_s < time_s <= end_s and size > 0]
    if not steady:
        return None
    last_s = max(time_s for time_s, _ in steady)
    duration_s = last_s - cut_s
    if duration_s < min_steady_s:
        return None
    return max(0, sum(size for _, size in steady) - unread_at_cut_bytes) * 8 / duration_s / 1e6


def bins_to_samples(bins: Sequence[int], *, bin_s: float, start_s: float = 0.0) -> list[tuple[float, int]]:
    """Bytes per bin (bin k covers start_s + [k, k+1) * bin_s) as samples at each bin's end, the latest time its
    bytes can have arrived. The last non-empty bin is left out: the sender stopped somewhere within it, so
    counting it as full would charge a whole bin's time for part of one."""
    last = max((k for k, size in enumerate(bins) if size > 0), default=-1)
    return [(start_s + (k + 1) * bin_s, size) for k, size in enumerate(bins[:last]) if size > 0]


def steady_rate_from_bins_mbps(bins: Sequence[int], *, bin_s: float, warmup_s: float,
                               phase_s: float | None = None, min_steady_s: float = MIN_STEADY_S) -> float | None:
    """steady_rate_mbps of binned counts (the speed server's receipt: bin 0 holds the first byte, so the phase
    is taken to start with bin 0). The warm-up is rounded up and the phase down to whole bins, so that no bin is
    split between warm-up, steady part and what came after the end."""
    warmup_bins = math.ceil(warmup_s / bin_s - 1e-9)
    phase_bins = math.floor(phase_s / bin_s + 1e-9) if phase_s is not None else len(bins)
    samples = bins_to_samples(bins, bin_s=bin_s)
    return steady_rate_mbps(samples, start_s=0.0, warmup_s=warmup_bins * bin_s, phase_s=phase_bins * bin_s,
                            min_steady_s=min_steady_s)

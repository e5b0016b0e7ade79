"""RTP clock rate inferred from timestamps against arrival times.

Static payload types and SDP state a clock rate, but senders get it wrong (an L16 stream signalled at 11025 Hz
whose timestamps step at 8000 Hz makes Wireshark report 8.7 ms of jitter that is not there). Comparing the
timestamp step with the arrival gap over consecutive packets tells the real rate.
"""

from __future__ import annotations

from statistics import median

from homeshore.quality.codecs import snap_clock_rate

MIN_PAIRS = 8
AGREEING_SHARE = 0.6  # share of pairs within 10 % of the median rate for the inference to count


def infer_clock_hz(pairs: list[tuple[float, int]]) -> int | None:
    """Clock rate from (arrival gap s, timestamp step) of consecutive packets, snapped to a standard rate; None when
    the pairs are too few or too scattered (bursty arrival, video frames sharing a timestamp)."""
    rates = [step / gap for gap, step in pairs if gap > 0.0005 and step > 0]
    if len(rates) < MIN_PAIRS:
        return None
    centre = median(rates)
    agreeing = sum(1 for rate in rates if abs(rate - centre) <= 0.1 * centre)
    if agreeing < AGREEING_SHARE * len(rates):
        return None
    return snap_clock_rate(centre)

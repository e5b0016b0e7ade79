"""The steady rate after the warm-up (probe/speed_timeline.py), against figures worked out by hand.

Times are multiples of 0.25 s where possible, exact in binary, so that "after the warm-up" is not decided by a
rounding error; 1 Mbit/s is 125,000 bytes per second.
"""

from __future__ import annotations

import pytest

from homeshore.probe.speed_timeline import (
    bins_to_samples,
    steady_rate_from_bins_mbps,
    steady_rate_mbps,
    warmup_for,
)


@pytest.mark.parametrize("phase_s, expected_s", [(2, 1.0), (5, 1.0), (5.5, 1.1), (10, 2.0), (30, 6.0)])
def test_warmup_is_one_second_or_a_fifth_of_the_phase_whichever_is_longer(phase_s: float, expected_s: float) -> None:
    assert warmup_for(phase_s) == pytest.approx(expected_s)


STEADY_1_MBPS = [(0.25 * k, 31_250) for k in range(1, 21)]  # 31,250 B every 0.25 s up to 5 s: 1 Mbit/s
SLOW_START = [(0.5, 1_000), (1.0, 5_000), (2.0, 250_000), (3.0, 250_000)]
STALL_AT_END = [(0.5 * k, 125_000) for k in range(1, 7)] + [(4.5, 0)]  # 2 Mbit/s to 3 s, then nothing (EOF read)


STRAGGLER = STEADY_1_MBPS + [(5.25, 0), (5.5, 1_448)]  # a retransmission delivered after the phase's end


@pytest.mark.parametrize("samples, phase_s, expected_mbps", [
    # 16 samples in (1, 5]: 500,000 B over 4 s; the straggler's 1,448 B at 5.5 s are after the end
    (STRAGGLER, 5.0, 1.0),
    # without the end, it stretches the time: 501,448 B over 4.5 s
    (STRAGGLER, None, 501_448 * 8 / 4.5 / 1e6),
    # an end within the samples: 12 samples in (1, 4], 375,000 B over 3 s
    (STEADY_1_MBPS, 4.0, 1.0),
])
def test_bytes_after_the_end_of_the_phase_are_left_out(samples, phase_s: float | None, expected_mbps: float) -> None:
    assert steady_rate_mbps(samples, start_s=0.0, warmup_s=1.0, phase_s=phase_s) == pytest.approx(expected_mbps)


@pytest.mark.parametrize("samples, start_s, warmup_s, expected_mbps", [
    # 16 samples after 1 s: 500,000 B over 5 - 1 = 4 s
    (STEADY_1_MBPS, 0.0, 1.0, 1.0),
    # the same on the monotonic clock of a process that has run for a while
    ([(1000.0 + t, n) for t, n in STEADY_1_MBPS], 1000.0, 1.0, 1.0),
    # slow start left out: 500,000 B over 3 - 1 = 2 s is 2 Mbit/s (the whole phase would say 506,000 B / 3 s,
    # 1.35 Mbit/s)
    (SLOW_START, 0.0, 1.0, 2.0),
    # a sample exactly at the end of the warm-up arrived within it: 500,000 B over 3 - 1 = 2 s still
    ([(1.0, 250_000), *SLOW_START[2:]], 0.0, 1.0, 2.0),
    # a stall at the end does not count as a slow link: 4 x 125,000 B over 3 - 1 = 2 s; the zero-byte read at
    # 4.5 s (end of file) does not stretch the time either
    (STALL_AT_END, 0.0, 1.0, 2.0),
    # a stall in the middle does count: 375,000 B (t = 2.5, 3, 3.5) over 3.5 - 1 = 2.5 s = 1.2 Mbit/s
    ([(0.5, 125_000), (1.0, 125_000), (2.5, 125_000), (3.0, 125_000), (3.5, 125_000)], 0.0, 1.0, 1.2),
    # several threads append out of order: the same figure as sorted
    (list(reversed(STEADY_1_MBPS)), 0.0, 1.0, 1.0),
    # a longer warm-up (20 % of a 10-s phase): 12 samples after 2 s, 375,000 B over 3 s
    (STEADY_1_MBPS, 0.0, 2.0, 1.0),
])
def test_steady_rate_of_samples(samples, start_s: float, warmup_s: float, expected_mbps: float) -> None:
    assert steady_rate_mbps(samples, start_s=start_s, warmup_s=warmup_s) == pytest.approx(expected_mbps)


def test_bytes_waiting_in_the_receive_buffers_at_the_cut_are_not_counted() -> None:
    # a reader held up at the end of the warm-up: 60,000 B that arrived by 1 s are read at 1.25 s with the
    # link's own; 16 samples in (1, 5] are 560,000 B, of which 500,000 B arrived after 1 s: 1 Mbit/s
    late = [(t, n + 60_000) if t == 1.25 else (t, n) for t, n in STEADY_1_MBPS]
    assert steady_rate_mbps(late, start_s=0.0, warmup_s=1.0) == pytest.approx(1.12)
    assert steady_rate_mbps(late, start_s=0.0, warmup_s=1.0, unread_at_cut_bytes=60_000) == pytest.approx(1.0)


@pytest.mark.parametrize("samples, why", [
    ([], "no samples"),
    ([(0.25, 10_000), (0.75, 10_000), (1.0, 10_000)], "every byte within the warm-up"),
    ([(0.5, 10_000), (1.25, 10_000)], "0.25 s after the warm-up: too little to call a rate"),
    ([(0.5, 10_000), (2.0, 0), (3.0, 0)], "only end-of-file reads after the warm-up"),
])
def test_no_rate_when_too_little_comes_after_the_warmup(samples, why: str) -> None:
    assert steady_rate_mbps(samples, start_s=0.0, warmup_s=1.0) is None, why


def test_bins_become_samples_at_their_end_without_the_last_partial_bin() -> None:
    assert bins_to_samples([100, 0, 300, 50], bin_s=0.25) == [(0.25, 100), (0.75, 300)]
    assert bins_to_samples([], bin_s=0.1) == []
    assert bins_to_samples([0, 0], bin_s=0.1) == []


BINS_1_MBPS = [12_500] * 50 + [3_000]  # 0.1-s bins at 1 Mbit/s for 5 s, then the sender stopped within bin 50


@pytest.mark.parametrize("bins, warmup_s, expected_mbps", [
    # bins 10..49 (40 x 12,500 = 500,000 B) over 5.0 - 1.0 = 4 s; the partial bin 50 is left out
    (BINS_1_MBPS, 1.0, 1.0),
    # a warm-up of 1.05 s is rounded up to 11 bins: 39 x 12,500 = 487,500 B over 5.0 - 1.1 = 3.9 s
    (BINS_1_MBPS, 1.05, 1.0),
    # slow start in the first bins: 10 bins of 1,000 B, then 2 Mbit/s (25,000 B per bin) for 3 s, last bin partial:
    # 30 x 25,000 = 750,000 B over 4.0 - 1.0 = 3 s
    ([1_000] * 10 + [25_000] * 30 + [7], 1.0, 2.0),
    # a stall at the end (empty bins after the last byte) is not counted
    (BINS_1_MBPS + [0] * 20, 1.0, 1.0),
    # the receiver's counts of an upload through a 0.5 Mbit/s link: 6,250 B per bin
    ([40_000, 20_000] + [6_250] * 48 + [1_000], 1.0, 0.5),
])
def test_steady_rate_of_receipt_bins(bins: list[int], warmup_s: float, expected_mbps: float) -> None:
    assert steady_rate_from_bins_mbps(bins, bin_s=0.1, warmup_s=warmup_s) == pytest.approx(expected_mbps)
    assert steady_rate_from_bins_mbps(bins, bin_s=0.1, warmup_s=warmup_s, phase_s=5.0) == pytest.approx(expected_mbps)


@pytest.mark.parametrize("phase_s, expected_mbps", [
    # bins 10..49 over 4 s: the bytes of the tail (bins 51..53, a straggler's) are after the 5-s end
    (5.0, 1.0),
    # a phase of 4.05 s ends with bin 39 (rounded down): bins 10..39, 375,000 B over 3 s
    (4.05, 1.0),
    # no end: bins 10..52 (53 is the partial last one), 40 x 12,500 + 3,000 + 2 x 1,000 = 505,000 B over
    # 5.3 - 1 = 4.3 s
    (None, 505_000 * 8 / 4.3 / 1e6),
])
def test_receipt_bins_after_the_phase_are_left_out(phase_s: float | None, expected_mbps: float) -> None:
    bins = BINS_1_MBPS + [1_000, 1_000, 500]
    assert steady_rate_from_bins_mbps(bins, bin_s=0.1, warmup_s=1.0, phase_s=phase_s) == pytest.approx(expected_mbps)


@pytest.mark.parametrize("bins", [[], [0, 0, 0], [12_500] * 10, [12_500] * 15])
def test_no_rate_from_bins_that_end_within_or_just_after_the_warmup(bins: list[int]) -> None:
    # [12_500] * 15: bins 10..13 kept (14 is the partial last one), 0.4 s < 0.5 s
    assert steady_rate_from_bins_mbps(bins, bin_s=0.1, warmup_s=1.0) is None

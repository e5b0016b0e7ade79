"""latency.summarize: probe send times and replies in, loss, RTT and jitter figures out (pure, no sockets).

The expected figures are worked out by hand from the RTT series in each case's comment."""

from __future__ import annotations

import pytest

from homeshore.probe.latency import summarize

MS = 1_000_000  # ns


def run(rtts_ms: list[float | None], *, interval_ms: int = 20, order: list[int] | None = None,
        timeout_s: float = 2.0):
    """Probes every interval_ms; probe i answered after rtts_ms[i] (None: never), replies in `order`."""
    send_ns = [i * interval_ms * MS for i in range(len(rtts_ms))]
    replies = [(seq, send_ns[seq] + round(rtt * MS)) for seq, rtt in enumerate(rtts_ms) if rtt is not None]
    if order is not None:
        replies = [replies[i] for i in order]
    return summarize(send_ns, replies, reply_timeout_s=timeout_s, interval_s=interval_ms / 1000, size_bytes=172)


def test_steady_rtts_have_no_jitter() -> None:
    result = run([10.0] * 50)
    assert (result.sent, result.received, result.lost, result.loss_pct) == (50, 50, 0, 0.0)
    assert result.rtt_min_ms == result.rtt_median_ms == result.rtt_max_ms == pytest.approx(10.0)
    assert result.jitter_ms == pytest.approx(0.0) and result.rfc3550_jitter_ms == pytest.approx(0.0)
    assert result.duration_s == pytest.approx(1.0)  # 50 probes 20 ms apart


def test_alternating_rtts_jitter_is_the_mean_step_and_rfc3550_converges_towards_it() -> None:
    # 10, 14, 10, 14, ...: every step is 4 ms; J += (4 - J) / 16 from 0 over 99 steps = 4 * (1 - (15/16)**99)
    result = run([10.0, 14.0] * 50)
    assert result.jitter_ms == pytest.approx(4.0)
    assert result.rfc3550_jitter_ms == pytest.approx(4 * (1 - (15 / 16) ** 99))
    assert result.rtt_mean_ms == pytest.approx(12.0) and result.rtt_median_ms == pytest.approx(12.0)


@pytest.mark.parametrize("rtts, lost, loss_pct", [
    ([5.0, None, 5.0, None], 2, 50.0),
    ([None] * 4, 4, 100.0),
    ([5.0] * 99 + [None], 1, 1.0),
])
def test_unanswered_probes_are_lost(rtts, lost, loss_pct) -> None:
    result = run(rtts)
    assert (result.lost, result.loss_pct) == (lost, loss_pct)


def test_no_reply_at_all_leaves_every_rtt_figure_unknown() -> None:
    result = run([None] * 3)
    assert result.rtt_median_ms is None and result.jitter_ms is None and result.rfc3550_jitter_ms is None


def test_a_reply_later_than_the_timeout_is_late_and_lost() -> None:
    result = run([5.0, 2500.0, 5.0], timeout_s=2.0)
    assert (result.received, result.lost, result.late) == (2, 1, 1)
    assert result.rtt_max_ms == pytest.approx(5.0)


def test_duplicates_count_once_and_reordering_is_a_reply_behind_a_later_one() -> None:
    send_ns = [0, 20 * MS, 40 * MS]
    replies = [(0, 5 * MS), (0, 6 * MS), (2, 45 * MS), (1, 46 * MS)]  # probe 0 twice; 1 after 2
    result = summarize(send_ns, replies, interval_s=0.02, size_bytes=172)
    assert (result.received, result.duplicates, result.reordered, result.lost) == (3, 1, 1, 0)
    # RTTs in arrival order: 5, 5, 26 ms: steps 0 and 21
    assert result.jitter_ms == pytest.approx(10.5)


def test_p90_is_the_inclusive_ninth_decile() -> None:
    result = run([float(v) for v in range(1, 12)])  # 1..11 ms: inclusive quantiles put p90 at 10
    assert result.rtt_p90_ms == pytest.approx(10.0)


def test_nothing_sent_is_an_empty_result_not_an_error() -> None:
    result = summarize([], [], interval_s=0.02, size_bytes=172)
    assert (result.sent, result.lost, result.loss_pct, result.duration_s) == (0, 0, 0.0, 0.0)

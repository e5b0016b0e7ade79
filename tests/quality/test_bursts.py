"""Tests for RFC 3611 §4.7.2 burst/gap metrics and the G.107 burst ratio."""

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality.bursts import LossPattern, burst_ratio, loss_pattern


def flags(pattern: str) -> bytes:
    """'1' received; '0' lost; 'X' discarded (RFC 3611 §4.7.2 example notation); spaces ignored."""
    return bytes(0 if c in "0X" else 1 for c in pattern if c != " ")


# RFC 3611 §4.7.2 example: a 12-packet burst "X111X1011110" with 4 losses; the lone 0 and the last X are gap
# losses because each has at least Gmin received packets on both sides (the session start counts as Gmin).
RFC_EXAMPLE = "11110111111111111111111X111X1011110111111111111111111X111111111"

# fmt: off
CASES = [
    # id, flags, expected, lost, burst_density, gap_density, burst_ms, gap_ms, mean_burst_packets, histogram
    ("empty", "", 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, ()),
    ("no loss", "1" * 50, 50, 0, 0.0, 0.0, 0.0, 1000.0, 0.0, ()),
    ("one isolated loss", "1" * 20 + "0" + "1" * 20, 41, 1, 0.0, 1 / 41, 0.0, 820.0, 0.0, ((1, 1),)),
    ("loss at start is a gap loss", "0" + "1" * 20, 21, 1, 0.0, 1 / 21, 0.0, 420.0, 0.0, ((1, 1),)),
    ("loss at end is a gap loss", "1" * 20 + "0", 21, 1, 0.0, 1 / 21, 0.0, 420.0, 0.0, ((1, 1),)),
    # 7 received, 5 consecutive lost, 8 received: one burst of 5 packets, two gaps of 7 and 8.
    ("5 consecutive lost in 20", "1" * 7 + "00000" + "1" * 8,
     20, 5, 1.0, 0.0, 100.0, 150.0, 5.0, ((5, 1),)),
    # A 20-packet burst with 5 losses scattered in it (runs of 1, 1, 2, 1), between two 30-packet gaps.
    ("burst of 5 lost in 20", "1" * 30 + "0 111 0 1111 00 11111111 0" + "1" * 30,
     80, 5, 0.25, 0.0, 400.0, 600.0, 20.0, ((1, 3), (2, 1))),
    # 15 received < Gmin: the two pairs are one burst of 2 + 15 + 2 packets.
    ("bursts closer than Gmin merge", "1" * 20 + "00" + "1" * 15 + "00" + "1" * 20,
     59, 4, 4 / 19, 0.0, 380.0, 400.0, 19.0, ((2, 2),)),
    # Exactly 16 received = Gmin: two bursts of 2, three gaps (20, 16, 20 packets).
    ("Gmin boundary: exactly 16 received separates", "1" * 20 + "00" + "1" * 16 + "00" + "1" * 20,
     60, 4, 1.0, 0.0, 40.0, 56 / 3 * 20, 2.0, ((2, 2),)),
    # Two single losses 15 apart form one 17-packet burst; 16 apart they are two gap losses.
    ("two single losses 15 apart", "1" * 20 + "0" + "1" * 15 + "0" + "1" * 20,
     57, 2, 2 / 17, 0.0, 340.0, 400.0, 17.0, ((1, 2),)),
    ("two single losses 16 apart", "1" * 20 + "0" + "1" * 16 + "0" + "1" * 20,
     58, 2, 0.0, 2 / 58, 0.0, 1160.0, 0.0, ((1, 2),)),
    ("burst at the very start: no leading gap", "00" + "1" * 20,
     22, 2, 1.0, 0.0, 40.0, 400.0, 2.0, ((2, 1),)),
    ("everything lost", "0" * 10, 10, 10, 1.0, 0.0, 200.0, 0.0, 10.0, ((10, 1),)),
    ("RFC 3611 4.7.2 example", RFC_EXAMPLE,
     63, 6, 4 / 12, 2 / 51, 240.0, 510.0, 12.0, ((1, 6),)),
]
# fmt: on


@pytest.mark.parametrize(
    "pattern, expected, lost, burst_density, gap_density, burst_ms, gap_ms, mean_burst, histogram",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hand_computed_cases(
    pattern, expected, lost, burst_density, gap_density, burst_ms, gap_ms, mean_burst, histogram
):
    got = loss_pattern(flags(pattern), packet_interval_ms=20.0)
    # Field by field: the compiled build's LossPattern takes only floats, not pytest.approx, in its float fields.
    assert dataclasses.astuple(got) == (
        expected,
        lost,
        pytest.approx(burst_density),
        pytest.approx(gap_density),
        pytest.approx(burst_ms),
        pytest.approx(gap_ms),
        pytest.approx(mean_burst),
        histogram,
        max((length for length, _ in histogram), default=0),
    )
    assert [field.name for field in dataclasses.fields(LossPattern)] == [
        "packets_expected", "packets_lost", "burst_density", "gap_density", "burst_duration_ms", "gap_duration_ms",
        "mean_burst_packets", "consecutive_loss_histogram", "max_consecutive_lost",
    ]


def test_gmin_is_a_parameter():
    # With Gmin = 2, a single received packet no longer separates losses but two do.
    assert loss_pattern(flags("1110101111"), 20.0, gmin=2).mean_burst_packets == 3.0
    assert loss_pattern(flags("11101101111"), 20.0, gmin=2).burst_density == 0.0


def test_bool_sequence_and_bytes_agree():
    pattern = flags(RFC_EXAMPLE)
    as_bools = [bool(b) for b in pattern]
    assert loss_pattern(as_bools, 20.0) == loss_pattern(pattern, 20.0) == loss_pattern(bytearray(pattern), 20.0)
    assert burst_ratio(as_bools) == burst_ratio(pattern)


@pytest.mark.parametrize(
    "received, interval_ms, gmin",
    [(b"01", 20.0, 16), (b"\x00\x02", 20.0, 16), (b"\x01", 0.0, 16), (b"\x01", float("nan"), 16), (b"\x01", 20.0, 0)],
    ids=["ascii digits", "byte 2", "zero interval", "nan interval", "gmin 0"],
)
def test_rejects_bad_input(received, interval_ms, gmin):
    with pytest.raises(ValueError):
        loss_pattern(received, interval_ms, gmin)


# --- brute force: the RFC 3611 §4.7.2 state machine, one packet at a time ---------------------------------


def reference_loss_pattern(received: list[bool], interval_ms: float, gmin: int) -> LossPattern:
    """Naive per-packet state machine: gap, pending (a loss that opens a burst if another follows within
    Gmin received packets) and burst. The session counts as preceded by Gmin received packets."""
    n = len(received)
    in_burst = [False] * n
    bursts: list[list[int]] = []  # [first, last] loss index of each burst
    received_run = gmin
    pending: int | None = None
    burst: list[int] | None = None
    for i, ok in enumerate(received):
        if ok:
            received_run += 1
            if received_run == gmin:  # Gmin received in a row: whatever was open is over
                if burst is not None:
                    bursts.append(burst)
                burst, pending = None, None
        else:
            if received_run < gmin:
                if burst is None:
                    assert pending is not None
                    burst = [pending, i]
                else:
                    burst[1] = i
                pending = None
            else:
                pending = i
            received_run = 0
    if burst is not None:
        bursts.append(burst)
    for first, last in bursts:
        for i in range(first, last + 1):
            in_burst[i] = True

    burst_packets = sum(in_burst)
    burst_lost = sum(1 for i in range(n) if in_burst[i] and not received[i])
    gap_packets = n - burst_packets
    gap_lost = sum(1 for i in range(n) if not in_burst[i] and not received[i])
    gaps = sum(1 for i in range(n) if not in_burst[i] and (i == 0 or in_burst[i - 1]))

    runs: dict[int, int] = {}
    length = 0
    for ok in list(received) + [True]:
        if not ok:
            length += 1
        elif length:
            runs[length] = runs.get(length, 0) + 1
            length = 0

    return LossPattern(
        packets_expected=n,
        packets_lost=received.count(False),
        burst_density=burst_lost / burst_packets if burst_packets else 0.0,
        gap_density=gap_lost / gap_packets if gap_packets else 0.0,
        burst_duration_ms=burst_packets * interval_ms / len(bursts) if bursts else 0.0,
        gap_duration_ms=gap_packets * interval_ms / gaps if gaps else 0.0,
        mean_burst_packets=burst_packets / len(bursts) if bursts else 0.0,
        consecutive_loss_histogram=tuple(sorted(runs.items())),
        max_consecutive_lost=max(runs, default=0),
    )


def assert_same(fast: LossPattern, slow: LossPattern) -> None:
    for field in ("burst_density", "gap_density", "burst_duration_ms", "gap_duration_ms", "mean_burst_packets"):
        assert getattr(fast, field) == pytest.approx(getattr(slow, field), rel=1e-12, abs=1e-12), field
    assert fast.packets_expected == slow.packets_expected
    assert fast.packets_lost == slow.packets_lost
    assert fast.consecutive_loss_histogram == slow.consecutive_loss_histogram
    assert fast.max_consecutive_lost == slow.max_consecutive_lost


# Alternating runs of received and lost packets, with received runs clustered around Gmin so the boundary
# (Gmin - 1 joins, Gmin separates) is hit often.
run_patterns = st.lists(st.tuples(st.integers(0, 24), st.integers(1, 6)), max_size=40).map(
    lambda runs: [ok for received, lost in runs for ok in [True] * received + [False] * lost]
)


@settings(max_examples=400)
@given(received=st.one_of(st.lists(st.booleans(), max_size=200), run_patterns), gmin=st.integers(1, 20))
def test_matches_per_packet_state_machine(received, gmin):
    assert_same(loss_pattern(received, 20.0, gmin), reference_loss_pattern(received, 20.0, gmin))


@given(received=run_patterns, trailing_received=st.integers(0, 30))
def test_default_gmin_is_16(received, trailing_received):
    received = received + [True] * trailing_received
    assert_same(loss_pattern(received, 30.0), reference_loss_pattern(received, 30.0, 16))


@given(received=st.one_of(st.lists(st.booleans(), max_size=200), run_patterns))
def test_invariants(received):
    got = loss_pattern(received, 20.0)
    assert 0.0 <= got.burst_density <= 1.0 and 0.0 <= got.gap_density <= 1.0
    # RFC 3611 §4.7.2 assumes Gmin received packets before and after the session; adding them for real changes
    # no burst, and then every gap loss has Gmin received on each side, so gap density <= 1 / (Gmin + 1).
    padded = loss_pattern([True] * 16 + list(received) + [True] * 16, 20.0)
    assert padded.burst_density == got.burst_density
    assert padded.mean_burst_packets == got.mean_burst_packets
    assert padded.gap_density <= 1 / 17 + 1e-12
    assert sum(length * count for length, count in got.consecutive_loss_histogram) == got.packets_lost
    assert got.burst_duration_ms == pytest.approx(got.mean_burst_packets * 20.0)


# --- speed and burst ratio ------------------------------------------------------------------------------------


def bernoulli(n: int, loss: float, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.random() >= loss for _ in range(n))


def gilbert(n: int, p: float, q: float, seed: int) -> bytes:
    """Two-state Markov loss: p = P(lost | previous received), q = P(received | previous lost)."""
    rng = random.Random(seed)
    out = bytearray(n)
    ok = True
    for i in range(n):
        ok = (rng.random() >= p) if ok else (rng.random() < q)
        out[i] = ok
    return bytes(out)


def test_one_hour_stream():
    """Counts on a one-hour stream; its speed is measured by bench/analyze_vs_tshark.py, not timed here."""
    received = gilbert(180_000, p=0.02, q=0.4, seed=7)  # one hour at 20 ms
    got = loss_pattern(received, 20.0)
    assert got.packets_expected == 180_000
    assert got.packets_lost == received.count(0)
    assert sum(length * runs for length, runs in got.consecutive_loss_histogram) == received.count(0)
    assert got.max_consecutive_lost == max(len(run) for run in received.split(b"\x01") if run)


@pytest.mark.parametrize("loss", [0.01, 0.05, 0.2])
def test_burst_ratio_is_one_for_random_loss(loss):
    assert burst_ratio(bernoulli(180_000, loss, seed=1)) == pytest.approx(1.0, abs=0.1)


def test_burst_ratio_above_one_for_bursty_loss():
    # Same 5 % mean loss rate as a Bernoulli stream, but in runs of mean length 1/q = 4.
    p, q = 0.05 / 0.95 * 0.25, 0.25
    received = gilbert(180_000, p, q, seed=2)
    assert burst_ratio(received) == pytest.approx(1 / (p + q), rel=0.1)
    assert burst_ratio(received) > 3.0
    # G.113: BurstR is also mean observed loss-run length over the mean expected for random loss, 1 / (1 - P).
    histogram = loss_pattern(received, 20.0).consecutive_loss_histogram
    runs = sum(count for _, count in histogram)
    lost = sum(length * count for length, count in histogram)
    loss_rate = lost / len(received)
    assert burst_ratio(received) == pytest.approx((lost / runs) * (1 - loss_rate), rel=0.02)


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("", 1.0),
        ("1" * 100, 1.0),
        ("0" * 100, 1.0),  # nothing received: p is undefined
        ("0", 1.0),
        ("1110", 1.0),  # the only loss has no successor: q is undefined
        ("0001", 1.0),  # the only received packet has no successor: p is undefined
        ("1010", 0.5),  # p = 2/2, q = 1/1: alternating loss is anti-bursty
        ("11000111", 12 / 7),  # p = 1/4 (one 1->0 of four received with a successor), q = 1/3
    ],
)
def test_burst_ratio_small_cases(pattern, expected):
    assert burst_ratio(flags(pattern)) == pytest.approx(expected)

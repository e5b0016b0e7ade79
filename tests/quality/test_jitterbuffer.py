"""Tests for fixed and adaptive (Ramjee et al. 1994, algorithm 1) jitter-buffer emulation."""

import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from homeshore.quality.jitterbuffer import AdaptiveJitterBuffer, FixedJitterBuffer

CLOCK_HZ = 8000
STEP_TS = 160  # 20 ms at 8 kHz
WRAP = 1 << 32


def periodic(n: int, transit_s: float = 0.030, ts0: int = 1000, clock_hz: int = CLOCK_HZ, ptime_ms: int = 20):
    """(arrival_s, rtp_ts_ext) of a stream whose every packet takes the same time."""
    step_ts = clock_hz * ptime_ms // 1000
    return [(transit_s + i * ptime_ms / 1000, ts0 + i * step_ts) for i in range(n)]


def offer_all(buffer, packets) -> list[int]:
    """Indices of the packets the buffer discarded."""
    return [i for i, packet in enumerate(packets) if not buffer.offer(*packet)]


@pytest.mark.parametrize("clock_hz", [8000, 16000, 48000])
def test_periodic_stream_never_discards(clock_hz):
    packets = periodic(3000, clock_hz=clock_hz)
    for buffer in (FixedJitterBuffer(clock_hz, 0.0), FixedJitterBuffer(clock_hz), AdaptiveJitterBuffer(clock_hz)):
        assert offer_all(buffer, packets) == []
        assert (buffer.played, buffer.discarded) == (3000, 0)


@pytest.mark.parametrize("depth_ms, discarded", [(60.0, [25]), (99.0, [25]), (100.0, []), (120.0, [])])
def test_one_packet_delayed_by_100_ms(depth_ms, discarded):
    packets = periodic(50)
    arrival_s, ts = packets[25]
    packets[25] = (arrival_s + 0.100, ts)
    buffer = FixedJitterBuffer(CLOCK_HZ, depth_ms)
    assert offer_all(buffer, packets) == discarded
    assert (buffer.played, buffer.discarded) == (50 - len(discarded), len(discarded))


# Packets leave every 20 ms and normally arrive 30 ms later; the path stalls and packets 10..17 all arrive at
# 380 ms. Packet i is then 380 - (20 i + 30) ms late: 150, 130, 110, 90, 70, 50, 30, 10 ms for i = 10..17.
@pytest.mark.parametrize(
    "depth_ms, discarded",
    [
        (0.0, [10, 11, 12, 13, 14, 15, 16, 17]),
        (60.0, [10, 11, 12, 13, 14]),
        (100.0, [10, 11, 12]),
        (149.0, [10]),
        (150.0, []),  # exactly on the playout time still plays
        (200.0, []),
    ],
)
def test_delay_spike_discards_exactly_the_late_packets(depth_ms, discarded):
    packets = periodic(40)
    for i in range(10, 18):
        packets[i] = (0.380, packets[i][1])
    packets.sort()  # offered in arrival order
    buffer = FixedJitterBuffer(CLOCK_HZ, depth_ms)
    late_ts = {ts for arrival_s, ts in packets if not buffer.offer(arrival_s, ts)}
    assert late_ts == {1000 + i * STEP_TS for i in discarded}
    assert buffer.discarded == len(discarded)


def test_fixed_resync_takes_a_new_reference():
    buffer = FixedJitterBuffer(CLOCK_HZ)
    assert offer_all(buffer, periodic(10)) == []
    # The sender restarts with a new random timestamp: against the old reference everything is late.
    restarted = periodic(10, transit_s=0.230, ts0=0)
    assert not buffer.offer(*restarted[0])
    buffer.resync()
    assert offer_all(buffer, restarted) == []
    assert (buffer.played, buffer.discarded) == (20, 1)


def test_extended_timestamps_across_the_2_32_wrap_never_discard():
    rng = random.Random(3)
    packets = [(arrival_s + rng.uniform(0, 0.010), ts) for arrival_s, ts in periodic(1000, ts0=WRAP - 300 * STEP_TS)]
    assert packets[0][1] < WRAP < packets[-1][1]
    for buffer in (FixedJitterBuffer(CLOCK_HZ, 20.0), AdaptiveJitterBuffer(CLOCK_HZ)):
        assert offer_all(buffer, packets) == []
    # Without unwrapping, every packet after the wrap would look 6.2 days late.
    wrapped = [(arrival_s, ts % WRAP) for arrival_s, ts in packets]
    assert offer_all(FixedJitterBuffer(CLOCK_HZ, 20.0), wrapped) == list(range(300, 1000))


def jittery_talkspurts(n: int, jitter_ms: float, seed: int, spurt_packets: int = 50):
    """(arrival_s, rtp_ts_ext, marker) in arrival order: talkspurts of `spurt_packets` 20 ms packets separated by
    1 s of silence, each packet delayed by 30 ms plus uniform(0, jitter_ms)."""
    rng = random.Random(seed)
    packets = []
    send_s, ts = 0.0, 0
    for k in range(n):
        marker = k % spurt_packets == 0
        if marker and k:
            send_s, ts = send_s + 1.0, ts + CLOCK_HZ
        packets.append((send_s + 0.030 + rng.uniform(0, jitter_ms / 1000), ts, marker))
        send_s, ts = send_s + 0.020, ts + STEP_TS
    return sorted(packets)


def test_adaptive_grows_under_sustained_jitter_then_stops_discarding():
    packets = jittery_talkspurts(20_000, jitter_ms=80.0, seed=11)
    buffer = AdaptiveJitterBuffer(CLOCK_HZ)
    assert buffer.current_delay_ms == 20.0
    late = [not buffer.offer(*packet) for packet in packets]
    # The first talkspurts play at min_ms = 20 ms and soon after, while v is still small: many packets of an
    # 80 ms spread are late...
    assert sum(late[:100]) > 25
    # ...then d -> ~40 ms and v -> ~20 ms above the fastest transit, d + 4v ~ 120 ms covers the spread.
    assert sum(late[-5000:]) == 0
    assert 100.0 < buffer.current_delay_ms < 140.0
    assert buffer.played + buffer.discarded == len(packets)
    # A fixed buffer of the initial 20 ms keeps discarding.
    fixed = FixedJitterBuffer(CLOCK_HZ, 20.0)
    assert sum(not fixed.offer(arrival_s, ts) for arrival_s, ts, _ in packets[-5000:]) > 1000


def test_adaptive_delay_changes_only_at_talkspurt_start():
    # One long talkspurt with contiguous timestamps and heavy jitter, offered in send order: no talkspurt starts.
    rng = random.Random(4)
    packets = [(arrival_s + rng.uniform(0, 0.080), ts) for arrival_s, ts in periodic(5000)]
    buffer = AdaptiveJitterBuffer(CLOCK_HZ)
    for packet in packets:
        buffer.offer(*packet)
    assert buffer.current_delay_ms == 20.0
    # The estimate grew all along; a marker bit applies it.
    buffer.offer(packets[-1][0] + 1.0, packets[-1][1] + CLOCK_HZ, talkspurt_start=True)
    assert buffer.current_delay_ms > 60.0


def test_adaptive_timestamp_jump_starts_a_talkspurt_without_marker():
    rng = random.Random(4)
    packets = [(arrival_s + rng.uniform(0, 0.080), ts) for arrival_s, ts in periodic(5000)]
    buffer = AdaptiveJitterBuffer(CLOCK_HZ)
    for packet in packets:
        buffer.offer(*packet)
    buffer.offer(packets[-1][0] + 0.040, packets[-1][1] + STEP_TS)  # the next packet: still the same talkspurt
    assert buffer.current_delay_ms == 20.0
    buffer.offer(packets[-1][0] + 1.0, packets[-1][1] + CLOCK_HZ)  # 1 s of timestamps skipped: silence
    assert buffer.current_delay_ms > 60.0


@pytest.mark.parametrize("jitter_ms, expected_ms", [(0.0, 20.0), (1000.0, 200.0)])
def test_adaptive_delay_is_clamped(jitter_ms, expected_ms):
    buffer = AdaptiveJitterBuffer(CLOCK_HZ, min_ms=20.0, max_ms=200.0)
    for packet in jittery_talkspurts(5000, jitter_ms=jitter_ms, seed=2):
        buffer.offer(*packet)
    assert buffer.current_delay_ms == expected_ms


def test_adaptive_resync_keeps_the_estimate_and_drops_the_references():
    buffer = AdaptiveJitterBuffer(CLOCK_HZ)
    for packet in jittery_talkspurts(5000, jitter_ms=80.0, seed=9):
        buffer.offer(*packet)
    grown_ms = buffer.current_delay_ms
    buffer.resync()
    # A new timestamp base far from the old one; without resync the first packet would be hopelessly late.
    restarted = periodic(100, transit_s=10_000.0, ts0=123)
    assert offer_all(buffer, restarted) == []
    assert buffer.current_delay_ms == pytest.approx(grown_ms, rel=0.2)


@pytest.mark.parametrize("make", [lambda: FixedJitterBuffer(0), lambda: FixedJitterBuffer(8000, -1.0),
                                  lambda: AdaptiveJitterBuffer(8000, 50.0, 20.0), lambda: AdaptiveJitterBuffer(-1)])
def test_rejects_bad_configuration(make):
    with pytest.raises(ValueError):
        make()


# --- properties -------------------------------------------------------------------------------------------------

arrivals = st.lists(
    st.tuples(
        st.floats(-1e6, 1e6, allow_nan=False),  # arrival_s: any order, any spacing
        st.integers(-(1 << 40), 1 << 40),  # rtp_ts_ext
        st.booleans(),  # talkspurt start
    ),
    max_size=60,
)


@given(packets=arrivals, depth_ms=st.floats(0, 1000))
def test_every_offered_packet_is_played_or_discarded(packets, depth_ms):
    fixed = FixedJitterBuffer(CLOCK_HZ, depth_ms)
    adaptive = AdaptiveJitterBuffer(CLOCK_HZ)
    for arrival_s, ts, marker in packets:
        fixed.offer(arrival_s, ts)
        adaptive.offer(arrival_s, ts, marker)
        assert 20.0 <= adaptive.current_delay_ms <= 200.0
    assert fixed.played + fixed.discarded == len(packets)
    assert adaptive.played + adaptive.discarded == len(packets)


@given(
    sent=st.lists(st.tuples(st.integers(0, 10**7), st.floats(0, 500)), min_size=1, max_size=60),
    depth_ms=st.floats(0, 300),
    offset_s=st.floats(0, 1e4),
)
def test_fixed_buffer_plays_exactly_the_packets_within_depth(sent, depth_ms, offset_s):
    """Transit = arrival - ts/clock; a packet plays iff its transit exceeds the first packet's by at most D."""
    buffer = FixedJitterBuffer(CLOCK_HZ, depth_ms)
    first_delay_ms = sent[0][1]
    for ts, delay_ms in sent:
        excess_ms = delay_ms - first_delay_ms
        assume(not depth_ms < excess_ms <= depth_ms + 1e-3)  # leave float round-off at the boundary out
        played = buffer.offer(offset_s + ts / CLOCK_HZ + delay_ms / 1000, ts)
        assert played == (excess_ms <= depth_ms)


@given(packets=st.lists(st.tuples(st.floats(0, 1e4), st.integers(0, 10**8), st.booleans()), max_size=80))
def test_adaptive_always_plays_a_packet_within_min_delay_of_the_fastest(packets):
    buffer = AdaptiveJitterBuffer(CLOCK_HZ, min_ms=20.0)
    fastest_s = None
    for arrival_s, ts, marker in packets:
        transit_s = arrival_s - ts / CLOCK_HZ
        fastest_s = transit_s if fastest_s is None else min(fastest_s, transit_s)
        played = buffer.offer(arrival_s, ts, marker)
        if transit_s - fastest_s <= 0.020 - 1e-6:
            assert played

"""Clock rate from timestamps against arrival times (quality/clock.py), on streams generated with the damage home
Wi-Fi and WebRTC senders do to them: arrival jitter up to ±10 ms on 20-ms packets, silence gaps, Opus DTX (a
packet every 400 ms in silence), reordering and loss. The truth is the rate the test generated the timestamps at.
"""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality.clock import infer_clock_hz, timeline
from homeshore.quality.stream import PROBATION_MIN_S, PROBATION_PACKETS
from tests.quality.test_analyzer import SSRC, T0, one_stream, run
from tests.quality.synthetic import rtp_packet

VOICE_RATES_HZ = (8000, 16000, 24000, 32000, 48000)
DTX_INTERVAL_S = 0.4  # Opus DTX in WebRTC: one comfort packet every 400 ms while silent
MAX_HOLD_S = 0.03  # a reordered packet arrives this much late at most


def voice_stream(rng: random.Random, clock_hz: int, count: int, *, ptime_ms: int, jitter_ms: float,
                 loss_pct: float, dtx: bool, swaps: int) -> list[tuple[float, int, int]]:
    """(arrival s, sequence, timestamp) in arrival order: talkspurts of 20-ms (ptime) packets and, with `dtx`,
    silences with a packet every 400 ms; arrival = send time + uniform ±jitter_ms, which reorders packets on its
    own once the jitter exceeds half a packet; `swaps` packets held back (by up to 30 ms) behind the next one; random loss."""
    sent = []
    send_s, seq, ts = 0.0, rng.randrange(0x10000), rng.randrange(1 << 32)
    while len(sent) < count:
        talk = rng.randrange(5, 60)
        for _ in range(talk):
            sent.append((send_s, seq, ts))
            send_s += ptime_ms / 1000
            ts += clock_hz * ptime_ms // 1000
            seq += 1
        if dtx:
            for _ in range(rng.randrange(1, 10)):
                sent.append((send_s, seq, ts))
                send_s += DTX_INTERVAL_S
                ts += int(clock_hz * DTX_INTERVAL_S)
                seq += 1
    kept = [(T0 + s + rng.uniform(-jitter_ms, jitter_ms) / 1000, q & 0xFFFF, t & 0xFFFFFFFF)
            for s, q, t in sent[:count] if rng.random() * 100 >= loss_pct]
    kept.sort()
    for _ in range(swaps):
        close = [i for i in range(len(kept) - 1) if kept[i + 1][0] - kept[i][0] <= MAX_HOLD_S]
        if close:
            i = rng.choice(close)
            kept[i] = (kept[i + 1][0] + 0.0001, *kept[i][1:])  # held back until just after the next one
            kept.sort()
    return kept


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    clock_hz=st.sampled_from(VOICE_RATES_HZ),
    ptime_ms=st.sampled_from((10, 20, 30, 60)),
    jitter_ms=st.floats(0.0, 10.0),
    loss_pct=st.floats(0.0, 10.0),
    dtx=st.booleans(),
    swaps=st.integers(0, 4),
)
def test_probation_window_fit_finds_the_clock_rate(seed, clock_hz, ptime_ms, jitter_ms, loss_pct, dtx, swaps):
    """The probation window (32 packets over at least 0.6 s) is enough, whatever the jitter, DTX, loss and
    reordering. (32 10-ms packets with +-10 ms of jitter were not: 0.31 s, and seed 539 at 8 kHz got no rate.)"""
    count = max(PROBATION_PACKETS, math.ceil(PROBATION_MIN_S * 1000 / ptime_ms) + 1)
    packets = voice_stream(random.Random(seed), clock_hz, count, ptime_ms=ptime_ms, jitter_ms=jitter_ms,
                           loss_pct=loss_pct, dtx=dtx, swaps=swaps)
    assert infer_clock_hz(timeline(packets)) == clock_hz


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clock_hz=st.sampled_from((16000, 48000)), jitter_ms=st.floats(5.0, 10.0),
       dtx=st.booleans())
def test_webrtc_stream_without_sdp_gets_its_clock_rate_end_to_end(seed, clock_hz, jitter_ms, dtx):
    """Through the analyzer: a dynamic payload type, SRTP-looking payload, no signalling, home Wi-Fi jitter."""
    rng = random.Random(seed)
    packets = voice_stream(rng, clock_hz, 200, ptime_ms=20, jitter_ms=jitter_ms, loss_pct=2.0, dtx=dtx, swaps=2)
    datagrams = [(arrival, rtp_packet(seq, ts, SSRC, 111, payload=rng.randbytes(rng.randrange(40, 120))))
                 for arrival, seq, ts in packets]
    stream = one_stream(run(datagrams)[1])
    assert (stream.payload_type, stream.clock_hz, stream.clock_source) == (111, clock_hz, "inferred")
    assert stream.jitter_max_ms is not None


def video_stream(rng: random.Random, frames: int, fps: int, jitter_ms: float) -> list[tuple[float, bytes]]:
    """90-kHz video: each frame several packets sharing one timestamp, sent back to back, marker on the last
    (RFC 3551 §5.1), with arrival jitter."""
    datagrams, seq, ts = [], rng.randrange(0x10000), rng.randrange(1 << 32)
    for frame in range(frames):
        parts = rng.randrange(1, 9)
        for part in range(parts):
            arrival = T0 + frame / fps + part * 0.0003 + rng.uniform(0, jitter_ms) / 1000
            payload = rng.randbytes(rng.randrange(800, 1200))
            datagrams.append((arrival, rtp_packet(seq, ts, SSRC, 96, marker=part == parts - 1, payload=payload)))
            seq += 1
        ts += 90000 // fps
    datagrams.sort(key=lambda d: d[0])
    return datagrams


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), fps=st.sampled_from((15, 24, 30)), jitter_ms=st.floats(0.0, 10.0))
def test_generated_video_is_never_scored_as_voice(seed, fps, jitter_ms):
    stream = one_stream(run(video_stream(random.Random(seed), 90, fps, jitter_ms))[1])
    assert stream.clock_hz == 90000
    assert (stream.score.r_factor, stream.score.mos, stream.score.mos_kind) == (None, None, "unknown")


def test_no_straight_line_gives_no_rate():
    """Timestamps unrelated to arrival time (random bytes that look like RTP) get no clock rate."""
    rng = random.Random(5)
    points = [(0.02 * n, rng.randrange(1 << 31)) for n in range(32)]
    assert infer_clock_hz(points) is None
    assert infer_clock_hz(points[:5]) is None  # too few packets to say


def test_ten_ms_packets_with_ten_ms_of_jitter_get_their_rate_end_to_end():
    """8 kHz in 10-ms packets with +-10 ms of arrival jitter, through the analyzer: the first 32 packets (0.31 s,
    seed 855, found by search) tell no rate; probation lasts the 0.6 s the fit needs, not 32 packets, so the
    stream gets its rate and its jitter. (Hypothesis found the like of it: seed 539 with 4 % loss.)"""
    rng = random.Random(855)
    packets = voice_stream(rng, 8000, 100, ptime_ms=10, jitter_ms=10.0, loss_pct=0.0, dtx=False, swaps=0)
    assert infer_clock_hz(timeline(packets[:32])) is None  # the case: too short a time for this jitter
    datagrams = [(arrival, rtp_packet(seq, ts, SSRC, 111, payload=rng.randbytes(80))) for arrival, seq, ts in packets]
    stream = one_stream(run(datagrams)[1])
    assert (stream.clock_hz, stream.clock_source) == (8000, "inferred")
    assert stream.jitter_max_ms is not None

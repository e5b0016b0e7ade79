"""Padding-only RTP packets (P bit, payload all padding, the previous packet's timestamp), which a browser sends on
the audio SSRC while it probes for bandwidth: counted apart, received for loss, out of jitter and the jitter
buffer. The reference figures come from the test's own choice of what it sent and dropped, and from a plain
RFC 3550 A.8 loop over the audio packets alone.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality.capture import analyze_capture
from homeshore.quality.export import stream_dict
from tests.quality.synthetic import rtp_packet, write_pcap
from tests.quality.test_analyzer import DST_IP, DPORT, SPORT, SRC_IP, SSRC, T0, a8_jitter_ms, one_stream, run

OPUS_PT, OPUS_TS_STEP = 111, 960


def probed_call(rng: random.Random, count: int, loss_pct: float, srtp: bool):
    """Opus-like 20-ms audio with bursts of padding-only packets between audio packets, and random loss over all
    of them. Returns (datagrams, audio arrivals, audio timestamps, padding received, sequence numbers lost).
    SRTP: the padding count is encrypted, so only the timestamp repeated from the previous packet gives a padding
    packet away (the one case it cannot: see below)."""
    datagrams, arrivals, timestamps = [], [], []
    padding_received, dropped, received = 0, [], []
    last_received_ts = None
    seq, ts = rng.randrange(0x10000), rng.randrange(1 << 32)
    for n in range(count):
        arrival = T0 + 0.02 * n + rng.uniform(0.0, 0.002)
        if rng.random() * 100 < loss_pct:
            dropped.append(seq)
        else:
            received.append(seq)
            datagrams.append((arrival, rtp_packet(seq, ts, SSRC, OPUS_PT, payload=rng.randbytes(rng.randrange(60, 120)))))
            arrivals.append(arrival)
            timestamps.append(ts)
            last_received_ts = ts
        seq += 1
        if rng.random() < 0.3:  # a probe: up to 8 padding-only packets at once, at any time before the next audio
            probe_at = arrival + rng.uniform(0.003, 0.017)
            for _ in range(rng.randrange(1, 9)):
                if srtp:  # the padding count is encrypted: the last byte is the auth tag's, anything but a count of
                    # the whole payload (that 1-in-256 coincidence reads as padding-only, rightly, by its header)
                    payload = bytearray(rng.randbytes(rng.randrange(200, 256)))
                    payload[-1] = rng.randrange(0, 200)
                    packet = bytearray(rtp_packet(seq, ts, SSRC, OPUS_PT, payload=bytes(payload)))
                    packet[0] |= 0x20
                else:
                    packet = rtp_packet(seq, ts, SSRC, OPUS_PT, payload=b"", padding=rng.randrange(200, 256))
                if rng.random() * 100 < loss_pct:
                    dropped.append(seq)
                    probe_at += 0.0001
                    seq += 1
                    continue
                received.append(seq)
                if srtp and ts != last_received_ts:
                    # The audio packet it follows was lost, and the encrypted padding count hides what it is: by
                    # its header alone this is an audio packet with the next timestamp. The analyser takes it so.
                    datagrams.append((probe_at, bytes(packet)))
                    arrivals.append(probe_at)
                    timestamps.append(ts)
                    last_received_ts = ts
                else:
                    datagrams.append((probe_at, bytes(packet)))
                    padding_received += 1
                probe_at += 0.0001
                seq += 1
        ts += OPUS_TS_STEP
    lost = sum(1 for seq in dropped if received[0] < seq < received[-1])  # (loss is seen between packets only)
    return datagrams, arrivals, timestamps, padding_received, lost


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), loss_pct=st.sampled_from((0.0, 2.0, 10.0)), srtp=st.booleans())
def test_padding_only_packets_count_for_loss_and_stay_out_of_jitter(seed, loss_pct, srtp):
    datagrams, arrivals, timestamps, padding, lost = probed_call(random.Random(seed), 300, loss_pct, srtp)
    expected_max_ms, expected_last_ms = a8_jitter_ms(arrivals, timestamps, 48000)
    for as_frames in (False, True):
        stream = one_stream(run(datagrams, as_frames=as_frames)[1])
        assert (stream.clock_hz, stream.clock_source) == (48000, "inferred")
        assert (stream.packets, stream.padding_packets) == (len(datagrams), padding)
        assert (stream.loss.lost, stream.loss.discarded) == (lost, 0)  # padding received fills its sequence numbers
        assert stream.jitter_max_ms == pytest.approx(expected_max_ms, abs=1e-6)
        assert stream.jitter_last_ms == pytest.approx(expected_last_ms, abs=1e-6)


def test_padding_counts_apart_in_a_capture_file_and_its_json(tmp_path):
    """The capture-file path (fastscan) and `analyze --json`'s field."""
    datagrams, arrivals, timestamps, padding, lost = probed_call(random.Random(7), 400, 2.0, True)
    assert padding > 50 and lost > 0
    path = write_pcap(tmp_path / "probed.pcap", [(t, SRC_IP, SPORT, DST_IP, DPORT, p) for t, p in datagrams])
    stream = one_stream(analyze_capture(path).streams)
    assert stream_dict(stream)["padding_packets"] == padding
    assert (stream.packets, stream.loss.lost) == (len(datagrams), lost)
    # (a pcap keeps arrival times to the microsecond: the reference, in full floats, may differ by that much)
    assert stream.jitter_max_ms == pytest.approx(a8_jitter_ms(arrivals, timestamps, 48000)[0], abs=1e-3)


def test_a_stream_of_padding_alone_is_not_audio():
    """An SFU's probe stream (SSRC 0 in the Meet capture): every packet padding, timestamp 0."""
    datagrams = [(T0 + 0.001 * n, rtp_packet(n, 0, SSRC, 97, payload=b"", padding=224)) for n in range(100)]
    stream = one_stream(run(datagrams)[1])
    assert (stream.padding_packets, stream.loss.lost, stream.clock_hz) == (100, 0, None)
    assert stream.score.mos is None
    assert "padding only (bandwidth probes): no audio" in stream.problems

"""Codecs without SDP (quality/codec_inference.py): Opus told by its 48 kHz clock on a dynamic payload type in
steps of an Opus frame, video by its 90 kHz clock; each stream says where its codec came
from, an inferred one shows as "opus?" in the analyze table, and neither Opus nor video gets a default MOS
(Opus only a score from published values, or a floor from the highest of them, labelled so).
"""

from __future__ import annotations

import os
import random
import socket

import pytest

from homeshore.quality.export import stream_dict
from tests.quality.synthetic import rtp_packet, stun_binding_request, write_pcap
from tests.quality.test_analyzer import DPORT, DST, SPORT, SRC, SSRC, T0, a8_jitter_ms, one_stream, run
from tests.quality.test_clock import video_stream

# 90-byte payloads: at 20 ms, 8 * 90 / 20 = 36 kbit/s with no SRTP tag, 8 * 74 / 20 = 29.6 with a 16-byte one;
# at 60 ms on an ICE flow (DTLS-SRTP: a 4- to 16-byte tag), 8 * 86 / 60 = 11.5 and 8 * 74 / 60 = 9.9.
# Every payload one size: CBR, whose published rows are 12-15 kbit/s: above them a floor from the 15-kbit/s row,
# below them no MOS.
OPUS_NOTES = ("floor: Opus at 30-36 kbit/s CBR scored with the Ie,wb and Bpl of 15 kbit/s CBR, the highest wideband "
              "rate published; more bits impair the speech no more",
              "no published Ie,wb for Opus at 10-11 kbit/s CBR (wideband values: 11-13 kbit/s VBR, 12-15 kbit/s CBR)")


def opus_call(ts_step: int = 960, pt: int = 111, count: int = 200, stun: bool = False, clock_hz: int = 48000):
    """One packet of `ts_step` timestamp units every ts_step / clock_hz seconds, ±8 ms of arrival jitter."""
    rng, packet_s = random.Random(3), ts_step / clock_hz
    datagrams = [(T0 - 0.5, SRC, SPORT, DST, DPORT, stun_binding_request(bytes(12)))] if stun else []
    datagrams += [(T0 + packet_s * n + rng.uniform(-0.008, 0.008), SRC, SPORT, DST, DPORT,
                   rtp_packet(n, ts_step * n, SSRC, pt, payload=os.urandom(90))) for n in range(count)]
    return sorted(datagrams, key=lambda d: d[0])


def test_opus_without_sdp_is_inferred_and_never_given_a_default_mos():
    calls = (opus_call(), opus_call(ts_step=2880, pt=120, stun=True))  # 20 ms; 60 ms on an ICE flow
    for datagrams, note, scored in zip(calls, OPUS_NOTES, (True, False)):
        stream = one_stream(run(datagrams)[1])
        assert (stream.codec, stream.codec_source, stream.clock_hz) == ("opus", "inferred", 48000)
        assert (stream.score.mos is not None, stream.score.mos_kind, stream.score.mos_note) == (
            scored, "listening" if scored else "unknown", note)
        assert stream_dict(stream)["codec_source"] == "inferred"


def test_unknown_dynamic_payloads_stay_unnamed_and_static_ones_say_so():
    stream = one_stream(run(opus_call(ts_step=1440, stun=True))[1])  # 48 kHz in 30-ms steps: no Opus frame
    assert (stream.codec, stream.codec_source, stream.clock_hz) == ("PT111", "unknown", 48000)
    stream = one_stream(run(opus_call(ts_step=320, pt=120, clock_hz=16000))[1])  # WhatsApp-like 16 kHz
    assert (stream.codec, stream.codec_source, stream.clock_hz) == ("PT120", "unknown", 16000)
    stream = one_stream(run(opus_call(ts_step=160, pt=8, clock_hz=8000))[1])
    assert (stream.codec, stream.codec_source, stream.score.mos is not None) == ("PCMA", "static", True)


def test_video_without_sdp_is_recognised_and_not_scored():
    stream = one_stream(run(video_stream(random.Random(4), 90, 30, 5.0))[1])
    assert (stream.codec, stream.codec_source, stream.clock_hz) == ("video", "inferred", 90000)
    assert stream.score.mos is None and "video: not scored as voice" in stream.problems


def test_analyze_table_marks_an_inferred_codec(tmp_path):
    from tests.cli.test_analyze import invoke

    datagrams = [(t, socket.inet_ntoa(s), sp, socket.inet_ntoa(d), dp, p) for t, s, sp, d, dp, p in opus_call(stun=True)]
    result = invoke(str(write_pcap(tmp_path / "webrtc.pcap", datagrams)))
    assert result.exit_code == 0
    assert "opus?/48000" in result.output


def test_srtp_telephone_events_at_48_khz_stay_out_of_the_opus_stream():
    """WebRTC's DTMF: telephone-event/48000 on the Opus SSRC, SRTP (4-byte event + 10-byte auth tag), one
    timestamp per event while the audio pauses (RFC 4733 §2.5)."""
    rng = random.Random(11)
    datagrams = [(T0 - 0.5, SRC, SPORT, DST, DPORT, stun_binding_request(bytes(12)))]
    arrivals, timestamps, events = [], [], 0
    seq = ts = 0
    for n in range(400):
        arrival = T0 + 0.02 * n + rng.uniform(0.0, 0.004)
        if n % 100 >= 60 and n % 100 < 70:  # 200 ms of DTMF: the event's start timestamp, duration growing
            start_ts = ts - 960 * (n % 100 - 60)
            packet = rtp_packet(seq, start_ts, SSRC, 110, marker=n % 100 == 60, payload=os.urandom(14))
            events += 1
        else:
            packet = rtp_packet(seq, ts, SSRC, 111, payload=os.urandom(rng.randrange(40, 120)))
            arrivals.append(arrival)
            timestamps.append(ts)
        datagrams.append((arrival, SRC, SPORT, DST, DPORT, packet))
        seq += 1
        ts += 960
    stream = one_stream(run(datagrams)[1])
    assert (stream.codec, stream.codec_source, stream.clock_hz) == ("opus", "inferred", 48000)
    assert (stream.event_packets, stream.loss.lost) == (events, 0)
    assert stream.jitter_max_ms == pytest.approx(a8_jitter_ms(arrivals, timestamps, 48000)[0], abs=1e-6)


def test_red_opus_at_payload_type_63_on_an_ice_flow_is_opus():
    """Chrome's red/48000/2 sits at 63 (RFC 5761 §4 allows 35-63 with RTCP mux); only on a STUN/DTLS flow."""
    stream = one_stream(run(opus_call(pt=63, stun=True))[1])
    assert (stream.codec, stream.codec_source) == ("opus", "inferred")
    stream = one_stream(run(opus_call(pt=63))[1])
    assert (stream.codec, stream.codec_source) == ("PT63", "unknown")


def test_retransmissions_on_their_own_ssrc_stay_out_of_the_audio_they_repair():
    """RFC 4588 RTX (and FlexFEC alike) travel on their own SSRC and payload type, with their own sequence numbers
    and the repaired packets' timestamps, on the audio's 5-tuple: the audio's loss is what its own sequence
    numbers miss, its jitter A.8 over its own packets; the repair stream, at irregular timestamp steps, is not
    taken for Opus and gets no MOS."""
    rng = random.Random(12)
    rtx_ssrc = SSRC ^ 0xFFFF
    datagrams = [(T0 - 0.5, SRC, SPORT, DST, DPORT, stun_binding_request(bytes(12)))]
    arrivals, timestamps, lost, rtx_seq = [], [], 0, 0
    for n in range(500):
        arrival = T0 + 0.02 * n + rng.uniform(0.0, 0.004)
        if n > 40 and rng.random() < 0.05:
            lost += 1  # lost on the way; the sender repairs it 60 ms later on the RTX SSRC
            datagrams.append((arrival + 0.06, SRC, SPORT, DST, DPORT,
                              rtp_packet(rtx_seq, 960 * n, rtx_ssrc, 97, payload=os.urandom(92))))
            rtx_seq += 1
            continue
        datagrams.append((arrival, SRC, SPORT, DST, DPORT, rtp_packet(n, 960 * n, SSRC, 111, payload=os.urandom(90))))
        arrivals.append(arrival)
        timestamps.append(960 * n)
    results = run(sorted(datagrams, key=lambda d: d[0]))[1]
    audio = one_stream(results)
    assert (audio.codec, audio.clock_hz, audio.loss.lost) == ("opus", 48000, lost)
    assert audio.jitter_max_ms == pytest.approx(a8_jitter_ms(arrivals, timestamps, 48000)[0], abs=1e-6)
    repair = one_stream(results, rtx_ssrc)
    assert (repair.packets, repair.loss.lost, repair.score.mos) == (lost, 0, None)
    assert (repair.codec, repair.codec_source) == ("PT97", "unknown")

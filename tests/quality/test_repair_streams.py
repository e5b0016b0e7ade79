"""Retransmission (RTX), FEC and redundancy streams are named for what they are and stay out of the voice's figures.

A generated capture: a SIP call whose SDP offers WebRTC's formats on two ports, audio (opus/48000/2 on PT 111,
rtx/48000 on PT 112 with apt=111, `a=ssrc-group:FID <audio> <rtx>`) and video (VP8 on 96, rtx/90000 on 97 with
apt=96, flexfec/90000 on 98, `a=ssrc-group:FID` and `a=ssrc-group:FEC-FR`). The audio loses three packets, which
come again on the RTX SSRC carrying the lost packets' own timestamps (RFC 4588 §4), late. The references: the
audio's loss is the three sequence numbers the test drops, its jitter RFC 3550 A.8 computed here over the audio
packets alone, and the same file without any repair packet gives the audio the same figures.
"""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from homeshore.cli.tables import streams_table
from homeshore.quality import repair
from homeshore.quality.calls import CallTracker
from homeshore.quality.capture import analyze_capture
from homeshore.quality.sdp import parse_sdp
from tests.conftest import PCAPS
from tests.quality.synthetic import rtp_packet, sip_message, stun_binding_request, udp_frame, write_pcap
from tests.quality.test_analyzer import a8_jitter_ms
from tests.quality.test_calls import feed

HOME, FAR = "10.1.0.1", "10.1.0.2"
AUDIO_PORT, VIDEO_PORT = 40000, 40002
AUDIO, AUDIO_RTX, VIDEO, VIDEO_RTX, VIDEO_FEC = 0x0A000001, 0x0A000002, 0x0B000001, 0x0B000002, 0x0B000003
T0 = 1_700_000_000.0
LOST = (100, 250, 251)  # audio sequence numbers that never arrive on the audio SSRC
SDP = f"""v=0
o=- 1 1 IN IP4 {HOME}
s=-
c=IN IP4 {HOME}
t=0 0
m=audio {AUDIO_PORT} RTP/AVP 111 112
a=rtpmap:111 opus/48000/2
a=rtpmap:112 rtx/48000
a=fmtp:112 apt=111
a=ssrc-group:FID {AUDIO} {AUDIO_RTX}
m=video {VIDEO_PORT} RTP/AVP 96 97 98
a=rtpmap:96 VP8/90000
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:98 flexfec/90000
a=ssrc-group:FID {VIDEO} {VIDEO_RTX}
a=ssrc-group:FEC-FR {VIDEO} {VIDEO_FEC}
"""


def audio_packets(rng: random.Random) -> list[tuple[float, int, int]]:
    """(arrival s, sequence, timestamp) of 500 Opus packets of 20 ms, 0-6 ms of arrival jitter, LOST left out."""
    return [(T0 + 0.02 * n + rng.uniform(0.0, 0.006), n, 960 * n) for n in range(500) if n not in LOST]


def capture(tmp_path, *, repairs: bool, signalled: bool = True):
    rng = random.Random(17)
    audio = audio_packets(rng)
    datagrams = []
    if signalled:
        invite = sip_message("INVITE sip:a@example.net SIP/2.0", "rtx@example.com", "1 INVITE", SDP)
        datagrams.append((T0 - 1.0, FAR, 5060, HOME, 5060, invite))
    for at, seq, ts in audio:
        payload = rng.randbytes(80)
        datagrams.append((at, FAR, AUDIO_PORT, HOME, AUDIO_PORT, rtp_packet(seq, ts, AUDIO, pt=111, payload=payload)))
    for frame in range(150):  # 30 frames/s of VP8, 3 packets each, the marker on the last (RFC 7741 §4.1)
        for part in range(3):
            seq, at = 3 * frame + part, T0 + frame / 30 + 0.002 * part
            packet = rtp_packet(seq, 3000 * frame, VIDEO, pt=96, marker=part == 2, payload=rng.randbytes(900))
            datagrams.append((at, FAR, VIDEO_PORT, HOME, VIDEO_PORT, packet))
    if repairs:
        for k, seq in enumerate(LOST):  # RFC 4588 §4: the original timestamp, the RTX SSRC's own sequence
            osn = seq.to_bytes(2, "big")  # RFC 4588 §4: the original sequence number opens the payload
            packet = rtp_packet(7000 + k, 960 * seq, AUDIO_RTX, pt=112, payload=osn + rng.randbytes(80))
            datagrams.append((T0 + 0.02 * seq + 0.060, FAR, AUDIO_PORT, HOME, AUDIO_PORT, packet))
        for k, frame in enumerate(range(5, 150, 7)):
            packet = rtp_packet(9000 + k, 3000 * frame, VIDEO_RTX, pt=97, payload=rng.randbytes(902))
            datagrams.append((T0 + frame / 30 + 0.04, FAR, VIDEO_PORT, HOME, VIDEO_PORT, packet))
        for k, frame in enumerate(range(150)):
            packet = rtp_packet(5000 + k, 3000 * frame, VIDEO_FEC, pt=98, payload=rng.randbytes(300))
            datagrams.append((T0 + frame / 30 + 0.005, FAR, VIDEO_PORT, HOME, VIDEO_PORT, packet))
    datagrams.sort(key=lambda d: d[0])
    name = f"repair-{repairs}-{signalled}.pcap"
    return analyze_capture(write_pcap(tmp_path / name, datagrams)), audio, datagrams


def by_ssrc(result) -> dict:
    return {stream.ssrc: stream for stream in result.streams}


def test_sdp_keeps_ssrc_groups_and_format_parameters():
    media = parse_sdp(SDP).media
    assert media[0].ssrc_groups == (("FID", (AUDIO, AUDIO_RTX)),)
    assert dict(media[0].fmtp) == {112: "apt=111"}
    assert media[1].ssrc_groups == (("FID", (VIDEO, VIDEO_RTX)), ("FEC-FR", (VIDEO, VIDEO_FEC)))
    assert repair.repair_ssrcs(media[1].ssrc_groups) == {VIDEO_RTX: "rtx", VIDEO_FEC: "fec"}
    broken = parse_sdp("v=0\nm=audio 1 RTP/AVP 0\na=ssrc-group:\na=ssrc-group:FID 1\na=ssrc-group:FID x y\n")
    assert broken is not None and broken.media[0].ssrc_groups == ()


def test_repair_streams_are_labelled_and_the_audio_keeps_its_own_loss_and_jitter(tmp_path):
    result, audio, _ = capture(tmp_path, repairs=True)
    streams = by_ssrc(result)
    assert set(streams) == {AUDIO, AUDIO_RTX, VIDEO, VIDEO_RTX, VIDEO_FEC}
    voice = streams[AUDIO]
    assert (voice.codec, voice.kind, voice.clock_hz, voice.packets, voice.loss.lost) == ("opus", "audio", 48000,
                                                                                          497, len(LOST))
    arrivals = [round(at * 1e6) / 1e6 for at, _, _ in audio]  # as the pcap stores them: microseconds
    jitter_max_ms, jitter_last_ms = a8_jitter_ms(arrivals, [ts for _, _, ts in audio], 48000)
    assert voice.jitter_max_ms == pytest.approx(jitter_max_ms, abs=1e-6)
    assert voice.jitter_last_ms == pytest.approx(jitter_last_ms, abs=1e-6)
    alone = by_ssrc(capture(tmp_path, repairs=False)[0])[AUDIO]
    assert (voice.loss, voice.jitter_max_ms, voice.jitter_mean_ms, voice.score) == (
        alone.loss, alone.jitter_max_ms, alone.jitter_mean_ms, alone.score)
    expected = {AUDIO_RTX: ("rtx", "audio", 3), VIDEO_RTX: ("rtx", "video", 21), VIDEO_FEC: ("fec", "video", 150)}
    for ssrc, (codec, kind, packets) in expected.items():
        stream = streams[ssrc]
        assert (stream.codec, stream.codec_source, stream.kind, stream.packets) == (codec, "sdp", kind, packets)
        assert (stream.jitter_max_ms, stream.score.mos, stream.score.r_factor) == (None, None, None)
        assert repair.UNSCORED[codec] in stream.problems
        assert not any("clock rate unknown" in problem for problem in stream.problems)
    assert (streams[VIDEO].codec, streams[VIDEO].kind, streams[VIDEO].score.mos) == ("VP8", "video", None)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(streams_table(result))
    text = console.file.getvalue()
    assert "rtx/48000 audio" in text and "rtx/90000 video" in text and "fec/90000 video" in text


def test_repair_streams_never_make_call_samples(tmp_path):
    """Live: the call tracker gives windows and ends of the voice (and the video), never of rtx or fec streams, so
    a retransmission stream's figures never enter a call's judgement."""
    _, _, datagrams = capture(tmp_path, repairs=True)
    frames = [(at, udp_frame(src, sport, dst, dport, payload)) for at, src, sport, dst, dport, payload in datagrams]
    tracker = CallTracker(frozenset(), salt=bytes(16))
    samples = feed(tracker, frames, until_s=T0 + 60)
    codecs = {(s.codec, s.phase) for s in samples}
    assert {("opus", "window"), ("opus", "end")} <= codecs
    assert {codec for codec, _ in codecs} == {"opus", "VP8"}  # no rtx, fec (nor RTX, FLEXFEC taken for media)
    assert [s.lost for s in samples if s.codec == "opus" and s.phase == "end"] == [len(LOST)]


def test_without_sdp_a_padding_only_stream_on_a_webrtc_flow_is_a_probe_on_an_rtx_ssrc(tmp_path):
    rng = random.Random(5)
    datagrams = [(T0 - 0.5, HOME, AUDIO_PORT, FAR, AUDIO_PORT, stun_binding_request(bytes(12)))]
    for n in range(300):
        payload = rng.randbytes(70)
        datagrams.append((T0 + 0.02 * n, FAR, AUDIO_PORT, HOME, AUDIO_PORT, rtp_packet(n, 960 * n, AUDIO, pt=111,
                                                                                         payload=payload)))
    for n in range(60):  # RFC 3550 §5.1 padding only, 255 bytes, one timestamp: what a bandwidth probe sends
        packet = rtp_packet(300 + n, 123456, AUDIO_RTX, pt=97, payload=b"", padding=255)
        datagrams.append((T0 + 1.0 + 0.005 * n, FAR, AUDIO_PORT, HOME, AUDIO_PORT, packet))
    datagrams.sort(key=lambda d: d[0])
    streams = by_ssrc(analyze_capture(write_pcap(tmp_path / "probe.pcap", datagrams)))
    probe = streams[AUDIO_RTX]
    assert (probe.codec, probe.codec_source, probe.padding_packets) == ("rtx", "inferred", 60)
    assert (streams[AUDIO].codec, streams[AUDIO].codec_source, streams[AUDIO].loss.lost) == ("opus", "inferred", 0)


def test_the_google_meet_capture_names_its_probe_streams_and_keeps_its_opus_streams():
    """ndpi_stun_google_meet.pcapng (../shared/pcaps/README.md): two Opus streams (PT 111) and three padding-only
    streams (PT 97 and 99, two of them on SSRC 0) on STUN flows: libwebrtc's bandwidth probes."""
    path = PCAPS / "ndpi_stun_google_meet.pcapng"
    if not path.is_file():
        pytest.fail(f"shared capture {path} missing")
    streams = analyze_capture(path).streams
    labels = sorted((s.codec, s.codec_source, s.payload_type, s.packets, s.padding_packets) for s in streams)
    assert labels == [("opus", "inferred", 111, 11, 0), ("opus", "inferred", 111, 41, 0),
                      ("rtx", "inferred", 97, 4, 4), ("rtx", "inferred", 97, 104, 104), ("rtx", "inferred", 99, 31, 31)]

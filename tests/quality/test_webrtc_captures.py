"""The shared WebRTC and OTT captures (Meet, Teams, WhatsApp, Signal, Telegram, STUN/DTLS; no SDP in any): every
audio stream of 50 packets or more gets a clock rate, and it is the rate its timestamps advance at against its
capture times as tshark reads them over the whole stream: (last timestamp - first) / (last time - first),
snapped (WhatsApp's own timestamps lag real time over its pauses, so these short streams' spans read 3-6 % low).
Padding-only streams (an SFU's bandwidth probes) carry no audio and are said to be so; tshark sees their P bits.

What the files hold, stream by stream of 50 packets or more: WhatsApp's seven PT 120 streams (16 kHz; the pairwise
rule before the Theil-Sen fit found no rate for four of them), Meet's SSRC 0 probe stream (padding only). Teams,
Signal and Telegram have none: Teams and Signal only short RTP flows (under 20 packets each), Telegram its own
encrypted protocol, not RTP."""

from __future__ import annotations

import subprocess

import pytest

from homeshore.quality.capture import analyze_capture
from tests.conftest import PCAPS, require_tool

WEBRTC_CAPTURES = (
    "ndpi_google_meet.pcapng", "ndpi_stun_google_meet.pcapng", "ndpi_teams.pcap", "ndpi_wa_voice.pcap",
    "ndpi_whatsapp_login_call.pcap", "ndpi_stun_wa_call.pcapng", "ndpi_signal.pcap", "ndpi_stun_signal.pcapng",
    "ndpi_telegram.pcap", "ndpi_telegram_videocall.pcapng", "ndpi_stun_dtls_rtp.pcapng",
    "ndpi_stun_dtls_rtp_unidir.pcapng",
)
MIN_PACKETS = 50
RATES_HZ = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 90000)  # RFC 3551, RFC 7587


def tshark_rtp(path, ssrc: int, src_port: int) -> list[tuple[float, int, int, bool]]:
    """(capture time s, timestamp, payload type, P bit) of one SSRC from one source port, as tshark decodes it."""
    output = subprocess.run(
        ["tshark", "-n", "-r", str(path), "--enable-heuristic", "rtp_udp", "-Y",
         f"rtp.ssrc == {ssrc} && udp.srcport == {src_port}", "-T", "fields", "-e", "frame.time_epoch",
         "-e", "rtp.timestamp", "-e", "rtp.p_type", "-e", "rtp.padding"],
        capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [line.split("\t") for line in output.splitlines() if line]
    return [(float(t), int(ts), int(pt), padding in ("1", "True")) for t, ts, pt, padding in rows]


def whole_stream_rate_hz(packets: list[tuple[float, int, int, bool]]) -> int:
    """A different estimator from homeshore's, over the whole stream rather than its first 32 packets: (last
    timestamp - first) / (last capture time - first) of the main payload type, padding left out, snapped to the
    nearest standard rate within 8 % (a 16-kHz stream's neighbours are 12000 and 22050)."""
    audio = [p for p in packets if not p[3]]
    pt = max({p[2] for p in audio}, key=lambda value: sum(1 for p in audio if p[2] == value))
    main = [p for p in audio if p[2] == pt]
    rate = ((main[-1][1] - main[0][1]) & 0xFFFFFFFF) / (main[-1][0] - main[0][0])
    nearest = min(RATES_HZ, key=lambda standard: abs(standard - rate))
    assert abs(nearest - rate) < 0.08 * nearest, rate  # the reference itself must be unambiguous
    return nearest


@pytest.mark.parametrize("name", WEBRTC_CAPTURES)
def test_every_audio_stream_of_50_packets_gets_the_clock_rate_of_its_timestamps(name):
    require_tool("tshark")
    path = PCAPS / name
    if not path.is_file():
        pytest.fail(f"shared capture {path} missing")
    streams = [s for s in analyze_capture(path).streams if s.packets >= MIN_PACKETS]
    for stream in streams:
        packets = tshark_rtp(path, stream.ssrc, int(stream.src.rsplit(":", 1)[1]))
        if stream.padding_packets == stream.packets:
            assert all(p[3] for p in packets) and len(packets) >= stream.packets
            assert stream.clock_hz is None and "padding only (bandwidth probes): no audio" in stream.problems
            continue
        assert stream.clock_hz == whole_stream_rate_hz(packets), (stream.ssrc, stream.src)
        assert stream.clock_source == "inferred" and stream.jitter_max_ms is not None


def test_the_webrtc_captures_hold_the_streams_the_note_lists():
    found = {}
    for name in WEBRTC_CAPTURES:
        for stream in analyze_capture(PCAPS / name).streams:
            if stream.packets >= MIN_PACKETS:
                found[(name, stream.ssrc)] = (stream.clock_hz, stream.padding_packets == stream.packets)
    assert sorted(found.values(), key=str) == sorted([(16000, False)] * 7 + [(None, True)], key=str)

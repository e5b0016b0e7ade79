"""Calls from live header-only frames (CallTracker): grouping, windows on the clock, endings, outbound from RTCP.

Frames are built byte by byte (synthetic.py) and cut to their headers the way the kernel filter cuts them, so
these tests also show that the engine gives the same figures from headers alone as from whole packets.
"""

from __future__ import annotations

import json
import random
import socket

import pytest

from homeshore.quality.analyzer import Analyzer
from homeshore.quality.calls import END, FROM_CAPTURE, FROM_RTCP, INBOUND, OUTBOUND, WINDOW, CallTracker
from homeshore.quality.export import sample_dict, stream_dict
from homeshore.quality.rtcp import ntp_middle32
from tests.quality.synthetic import (
    report_block,
    rtcp_bye,
    rtcp_rr,
    rtp_header_len,
    rtp_packet,
    sdp_offer,
    sip_message,
    stun_binding_request,
    turn_channel_data,
    udp_frame,
)

ETHERNET = 1
HERE, THERE = "10.0.0.1", "10.0.0.2"
LOCAL = frozenset({socket.inet_aton(HERE)})
HERE_PORT, THERE_PORT = 6000, 7000
SALT = bytes(16)
T0 = 1_700_000_000.0  # a multiple of 10 s: windows start at T0, T0 + 10, ...
OUT_SSRC, IN_SSRC = 0x0A0A0A0A, 0x0B0B0B0B
UDP_HEADERS = 14 + 20 + 8


def snapped(frame: bytes) -> bytes:
    """What the kernel filter keeps: an RTP packet up to the end of its header (TURN channel header included);
    everything else whole."""
    payload = frame[UDP_HEADERS:]
    if payload and 64 <= payload[0] <= 79:
        return frame[: UDP_HEADERS + 4 + rtp_header_len(payload[4:])]
    if payload and 128 <= payload[0] <= 191 and not 192 <= payload[1] <= 223:
        return frame[: UDP_HEADERS + rtp_header_len(payload)]
    return frame


def media(ssrc: int, src: str, sport: int, dst: str, dport: int, seconds: float, *, start_s: float = T0,
          lost: frozenset[int] = frozenset(), jitter_s: float = 0.0, seed: int = 1, wrap=lambda p: p):
    """(arrival, frame) of a 50-packet/s G.711 stream; packets numbered in `lost` never arrive."""
    rng = random.Random(seed)
    frames = []
    for n in range(int(seconds * 50)):
        if n in lost:
            continue
        packet = rtp_packet(n, 160 * n, ssrc, csrcs=(1, 2) if n % 97 == 5 else (),
                            extension=bytes(8) if n % 89 == 3 else None)
        frames.append((start_s + 0.020 * n + rng.uniform(0, jitter_s), udp_frame(src, sport, dst, dport, wrap(packet))))
    return frames


def feed(tracker: CallTracker, frames, until_s: float, step_s: float = 1.0):
    """Frames in time order, the clock ticking every `step_s` as the live loop does; the samples it gave."""
    samples = []
    frames = sorted(frames, key=lambda f: f[0])
    now = frames[0][0] if frames else until_s
    index = 0
    while now <= until_s:
        while index < len(frames) and frames[index][0] <= now:
            tracker.add_frame(frames[index][0], ETHERNET, snapped(frames[index][1]))
            index += 1
        samples += tracker.tick(now)
        now += step_s
    return samples


def test_headers_alone_give_the_same_figures_as_whole_packets():
    lost = frozenset({40, 41, 42, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 311, 312, 313, 500})
    frames = media(IN_SSRC, THERE, THERE_PORT, HERE, HERE_PORT, 30, lost=lost, jitter_s=0.008)
    frames += media(0x7E7E7E7E, THERE, 3478, HERE, 50000, 12, lost=frozenset({7}), jitter_s=0.004,
                    wrap=lambda p: turn_channel_data(0x4001, p))
    frames.sort(key=lambda f: f[0])
    whole, headers = Analyzer(salt=SALT), Analyzer(salt=SALT)
    for time_s, frame in frames:
        whole.add_frame(time_s, ETHERNET, frame)
        headers.add_snapped_frame(time_s, ETHERNET, snapped(frame))
        assert len(snapped(frame)) < len(frame) - 100  # no audio reached the engine
    expected = [stream_dict(s, windows=True) for s in whole.finish()]
    assert [stream_dict(s, windows=True) for s in headers.finish()] == expected
    assert sorted((s["ssrc"], s["lost"], s["via"]) for s in expected) == [(IN_SSRC, len(lost), "direct"),
                                                                         (0x7E7E7E7E, 1, "turn-channel 0x4001")]


def sip_call(call_id: str = "a84b4c76e66710@pc33.example.com"):
    """INVITE from here, 200 OK from there (both with SDP), 25 s of media both ways, BYE at 25 s."""
    invite = sip_message("INVITE sip:+441632960001@example.net SIP/2.0", call_id, "1 INVITE",
                         sdp_offer(HERE, HERE_PORT))
    ok = sip_message("SIP/2.0 200 OK", call_id, "1 INVITE", sdp_offer(THERE, THERE_PORT))
    bye = sip_message("BYE sip:+441632960001@example.net SIP/2.0", call_id, "2 BYE")
    frames = [(T0 - 2.0, udp_frame(HERE, 5060, THERE, 5060, invite)), (T0 - 1.0, udp_frame(THERE, 5060, HERE, 5060, ok))]
    frames += media(OUT_SSRC, HERE, HERE_PORT, THERE, THERE_PORT, 25)
    frames += media(IN_SSRC, THERE, THERE_PORT, HERE, HERE_PORT, 25, lost=frozenset({100, 101, 700}), jitter_s=0.006)
    frames.append((T0 + 25.2, udp_frame(HERE, 5060, THERE, 5060, bye)))
    return frames


def test_a_sip_call_is_one_call_both_ways_with_windows_on_the_clock_and_ends_on_bye():
    tracker = CallTracker(LOCAL, salt=SALT)
    samples = feed(tracker, sip_call(), until_s=T0 + 40)
    calls = {s.call for s in samples}
    assert len(calls) == 1 and len(tracker.ended) == 1
    summary = tracker.ended[0]
    assert summary.reason == "sip-bye" and summary.call in calls
    assert summary.started_s == pytest.approx(T0, abs=0.01) and summary.ended_s == pytest.approx(T0 + 24.98, abs=0.01)

    inbound = [s for s in samples if s.direction == INBOUND]
    windows = [s for s in inbound if s.phase == WINDOW]
    # [T0, T0+10), [T0+10, T0+20) closed by the clock, [T0+20, T0+25) when the call ended.
    assert [s.time_s for s in windows] == [T0, T0 + 10, T0 + 20]
    assert [s.packets for s in windows] == [498, 499, 250]
    assert [s.lost for s in windows] == [2, 1, 0] and [s.lost_total for s in windows] == [2, 3, 3]
    assert all(s.source == FROM_CAPTURE and s.codec == "PCMA" and s.clock_hz == 8000 and s.mos is not None
               for s in inbound)
    (end,) = [s for s in inbound if s.phase == END]
    assert (end.packets, end.lost, end.lost_total) == (1247, 3, 3)
    assert end.jitter_max_ms == pytest.approx(max(w.jitter_max_ms for w in windows))

    # Without RTCP from the far end, the outbound direction has no quality figures: not a perfect score.
    outbound = [s for s in samples if s.direction == OUTBOUND]
    assert {s.phase for s in outbound} == {WINDOW, END}
    assert all(s.source == FROM_CAPTURE and s.mos is None and s.loss_pct is None for s in outbound)
    assert [s.packets for s in outbound if s.phase == END] == [1250]
    assert tracker.analyzer.streams == {} and tracker.calls_in_progress() == []  # nothing kept after the call


def test_no_number_uri_or_call_id_in_any_sample():
    tracker = CallTracker(LOCAL, salt=SALT)
    lines = [json.dumps(sample_dict(s)) for s in feed(tracker, sip_call(), until_s=T0 + 40)]
    assert len(lines) == 8  # 3 windows and an end, each way
    text = "\n".join(lines)
    for secret in ("447700900123", "441632960001", "sip:", "example", "a84b4c76e66710", "Jane", HERE, THERE):
        assert secret not in text


def test_late_media_after_bye_does_not_revive_the_call_from_its_sdp():
    frames = sip_call() + media(IN_SSRC, THERE, THERE_PORT, HERE, HERE_PORT, 0.1, start_s=T0 + 26)
    tracker = CallTracker(LOCAL, salt=SALT)
    feed(tracker, frames, until_s=T0 + 80)
    assert [c.reason for c in tracker.ended] == ["sip-bye"]
    assert tracker.analyzer.streams == {}  # the 5 stray packets never confirmed, and were forgotten when idle


def test_outbound_quality_comes_from_the_far_ends_receiver_reports():
    """The far end reports every 5 s on the RTCP port: 0 % then 3.9 % lost, jitter 80 timestamp units (10 ms at
    8 kHz), and LSR/DLSR that put the round trip at 60 ms."""
    frames = sip_call()
    for k in range(1, 5):
        at = T0 + 5.0 * k - 0.25
        sent_sr_at = at - 0.5
        block = report_block(OUT_SSRC, fraction=0 if k < 3 else 10, lost=10 * k, jitter=80,
                             lsr=ntp_middle32(sent_sr_at), dlsr=int((0.5 - 0.060) * 65536))
        frames.append((at, udp_frame(THERE, THERE_PORT + 1, HERE, HERE_PORT + 1, rtcp_rr(IN_SSRC, [block]))))
        # What this machine sends about the inbound stream is its own view: never taken as the far end's.
        own = report_block(IN_SSRC, fraction=255, lost=999, jitter=8000, lsr=ntp_middle32(at), dlsr=0)
        frames.append((at + 0.1, udp_frame(HERE, HERE_PORT + 1, THERE, THERE_PORT + 1, rtcp_rr(OUT_SSRC, [own]))))
    tracker = CallTracker(LOCAL, salt=SALT)
    samples = feed(tracker, frames, until_s=T0 + 40)
    outbound = [s for s in samples if s.direction == OUTBOUND]
    assert all(s.source == FROM_RTCP for s in outbound)
    first, second = [s for s in outbound if s.phase == WINDOW][:2]
    assert (first.lost_total, first.lost) == (20, 20) and (second.lost_total, second.lost) == (40, 20)
    assert second.loss_pct == pytest.approx(100 * 10 / 256, abs=0.01)
    assert second.jitter_ms == pytest.approx(10.0) and second.rtt_ms == pytest.approx(60.0, abs=0.1)
    assert second.mos is not None and second.mos < first.mos  # 3.9 % lost scores below 0 %
    inbound = [s for s in samples if s.direction == INBOUND]
    assert all(s.rtt_ms == pytest.approx(60.0, abs=0.1) for s in inbound if s.phase == WINDOW and s.time_s > T0)
    assert all(s.loss_pct < 1 for s in inbound)  # the local report claiming 255/256 lost was not mistaken for it


def webrtc_call(seconds: float = 15):
    """No signalling visible (it runs over HTTPS): STUN checks, then SRTP both ways on one 5-tuple, Opus-like
    dynamic PT at 48 kHz."""
    frames = [(T0 - 0.5, udp_frame(HERE, 50000, THERE, 3478, stun_binding_request(bytes(12))))]
    for ssrc, src, sport, dst, dport in ((OUT_SSRC, HERE, 50000, THERE, 3478), (IN_SSRC, THERE, 3478, HERE, 50000)):
        for n in range(int(seconds * 50)):
            packet = rtp_packet(n, 960 * n, ssrc, pt=111, payload=bytes(80))
            frames.append((T0 + 0.020 * n, udp_frame(src, sport, dst, dport, packet)))
    return frames


def test_without_signalling_both_directions_of_one_media_session_are_one_call_ending_when_idle():
    tracker = CallTracker(LOCAL, salt=SALT)
    samples = feed(tracker, webrtc_call(), until_s=T0 + 14.98 + 29)
    assert tracker.ended == []  # idle for 29 s is not yet over
    (view,) = tracker.calls_in_progress()
    assert [d.direction for d in view.directions] == [INBOUND, OUTBOUND]
    assert view.directions[0].codec == "opus" and view.directions[0].packets == 750  # inferred: STUN, 48 kHz
    samples += feed(tracker, [], until_s=T0 + 14.98 + 31.5)
    (summary,) = tracker.ended
    assert summary.reason == "idle" and len({s.call for s in samples}) == 1
    inbound_end = [s for s in summary.samples if s.direction == INBOUND][0]
    assert (inbound_end.packets, inbound_end.lost) == (750, 0)


def test_rtcp_bye_for_every_stream_ends_the_call():
    frames = webrtc_call(6)
    frames.append((T0 + 6.0, udp_frame(HERE, 50000, THERE, 3478, rtcp_bye([OUT_SSRC]))))
    frames.append((T0 + 6.1, udp_frame(THERE, 3478, HERE, 50000, rtcp_bye([IN_SSRC]))))
    tracker = CallTracker(LOCAL, salt=SALT)
    feed(tracker, frames[:-1], until_s=T0 + 7.0)
    assert tracker.ended == []  # one side said goodbye: the other may still be talking
    feed(tracker, frames[-1:], until_s=T0 + 8.0)
    assert [c.reason for c in tracker.ended] == ["rtcp-bye"]


def test_close_ends_every_call_in_progress_with_its_samples():
    tracker = CallTracker(LOCAL, salt=SALT)
    feed(tracker, webrtc_call(5), until_s=T0 + 5.5)
    samples = tracker.close(T0 + 5.5)
    assert {(s.direction, s.phase) for s in samples} >= {(INBOUND, END), (OUTBOUND, END), (INBOUND, WINDOW)}
    assert [c.reason for c in tracker.ended] == ["capture stopped"]
    assert tracker.analyzer.streams == {}

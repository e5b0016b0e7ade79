"""SIP over TCP (RFC 3261 §18.3): messages split across segments, retransmitted, or after a gap still bind the
dynamic payload types of the media they describe, in capture files and from live header-only frames alike."""

from __future__ import annotations

import pytest

from homeshore.quality.analyzer import Analyzer
from tests.quality.synthetic import rtp_packet, sdp_offer, sip_message, tcp_frame, udp_frame

CALLER, CALLEE = "192.0.2.10", "198.51.100.20"
T0 = 1_700_000_000.0
ISN = 0xFFFFFF00  # the sequence numbers wrap inside the message
OPUS_SDP = sdp_offer(CALLEE, 40000, "111", "a=rtpmap:111 opus/48000/2\n")


def invite(call_id: str = "tcp-call-1") -> bytes:
    return sip_message("INVITE sip:+441632960001@example.net;transport=tcp SIP/2.0", call_id, "1 INVITE", OPUS_SDP)


def opus_media(count: int = 100):
    return [(T0 + 1 + 0.02 * n, udp_frame(CALLER, 50000, CALLEE, 40000, rtp_packet(n, 960 * n, 0x1234, pt=111,
                                                                                    payload=bytes(90))))
            for n in range(count)]


def analyse(frames, live: bool = False):
    analyzer = Analyzer(salt=bytes(16))
    for time_s, frame in frames:
        if live:
            analyzer.add_snapped_frame(time_s, 1, frame)
        else:
            analyzer.add_frame(time_s, 1, frame)
    return analyzer, analyzer.finish()


def segments(data: bytes, sizes, sequence: int = ISN):
    frames, at = [], 0
    for size in sizes:
        frames.append((T0, tcp_frame(CALLER, 5060, CALLEE, 5060, sequence + at, data[at : at + size])))
        at += size
    return frames


@pytest.mark.parametrize("live", [False, True])
@pytest.mark.parametrize("sizes", [(10_000,), (17, 200, 10_000), (1,) * 40 + (10_000,)])
def test_a_message_split_across_segments_binds_its_sdp(sizes, live):
    analyzer, (stream,) = analyse(segments(invite(), sizes) + opus_media(), live)
    assert analyzer.sip_messages == 1
    assert (stream.codec, stream.clock_hz, stream.clock_source) == ("opus", 48000, "sdp")


def test_retransmitted_segments_are_read_once_and_two_messages_in_one_segment_both_count():
    first = invite("a")
    data = first + invite("b") + invite("c")
    frames = segments(data, (300, len(first) - 300, 10_000))
    frames.insert(2, frames[1])  # the end of the first message again: a retransmission
    frames.insert(1, frames[0])
    analyzer, _ = analyse(frames)
    assert analyzer.sip_messages == 3


def test_after_a_missed_segment_the_next_message_is_still_read():
    first, second = invite("a"), invite("b")
    frames = segments(first + second, (100, len(first) - 100, 10_000))
    del frames[1]  # the capture missed the rest of the first message
    analyzer, (stream,) = analyse(frames + opus_media())
    assert analyzer.sip_messages == 1 and stream.codec == "opus"


def test_tcp_that_is_not_sip_is_ignored_and_memory_stays_bounded():
    frames = [(T0, tcp_frame(CALLER, 40000 + n, CALLEE, 443, 1, b"\x16\x03\x01" + bytes(200))) for n in range(1000)]
    analyzer, streams = analyse(frames)
    assert (analyzer.sip_messages, analyzer.undecoded, streams) == (0, 1000, [])
    assert analyzer._sip_tcp == {}

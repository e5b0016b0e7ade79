"""The rtpproxy captures, against the statistics rtpproxy's own test suite expects (tests/rtp_analyze/*.output in
sippy/rtpproxy, transcribed in ../shared/pcaps/README.md). rtpproxy handles duplicates and sequence resets, where
tshark counts negative loss; these are the figures homeshore must give."""

from __future__ import annotations

import pytest

from homeshore.quality.capture import analyze_capture
from tests.conftest import PCAPS

# file -> (expected packets (rtpproxy "psent"), lost, duplicates, resets, rtpproxy J_max in ms)
RTPPROXY_EXPECTED = {
    "rtpproxy_lost.a.pcap": (565, 321, 0, 0, 0.8954),
    "rtpproxy_lost.o.pcap": (246, 0, 0, 0, 0.5449),
    "rtpproxy_weird.a.pcap": (3864, 0, 0, 0, 0.7170),
    "rtpproxy_weird.o.pcap": (3379, 2106, 0, 0, 0.7016),
    "rtpproxy_sess6.o.pcap": (2039, 1, 0, 0, 6.8144),
    "rtpproxy_sess6.a.pcap": (2546, 0, 0, 2, 1.8304),
    "rtpproxy_dups.a.pcap": (383, 0, 1, 0, 0.0151),
    "rtpproxy_c1.a.pcap": (1192, 0, 0, 0, 0.0886),
    "rtpproxy_srtp1.a.pcap": (239, 0, 0, 0, 1.0447),
    "rtpproxy_srtp1.o.pcap": (246, 0, 0, 0, 0.3479),
    "rtpproxy_G723_1.a.pcap": (392, 0, 0, 0, 2.046),
    "rtpproxy_G723_1.o.pcap": (392, 0, 0, 0, 0.6542),
    "rtpproxy_alice_srtp.pcap": (1556, 0, 0, 0, 0.1588),
    "rtpproxy_bob_srtp.pcap": (1564, 0, 0, 0, 0.1505),
}
# rtpproxy quantises arrival times to whole timestamp units (0.125 ms at 8 kHz), which moves its jitter by a few
# hundredths of a millisecond against an exact RFC 3550 calculation (see the README's c1.a row).
RTPPROXY_JITTER_TOLERANCE_MS = 0.06


def _main_stream(name: str):
    streams = analyze_capture(PCAPS / name).streams
    assert streams, f"no RTP stream found in {name}"
    return max(streams, key=lambda s: s.packets)


@pytest.mark.parametrize("name", sorted(RTPPROXY_EXPECTED))
def test_loss_duplicates_and_resets_as_rtpproxy_expects(name: str, pcaps) -> None:
    expected, lost, duplicates, resets, _ = RTPPROXY_EXPECTED[name]
    stream = _main_stream(name)
    assert (stream.loss.expected, stream.loss.lost, stream.duplicates, stream.resets) == (expected, lost, duplicates, resets)
    assert stream.loss.lost >= 0


@pytest.mark.parametrize("name", sorted(RTPPROXY_EXPECTED))
def test_max_jitter_as_rtpproxy(name: str, pcaps) -> None:
    *_, jitter_max_ms = RTPPROXY_EXPECTED[name]
    assert _main_stream(name).jitter_max_ms == pytest.approx(jitter_max_ms, abs=RTPPROXY_JITTER_TOLERANCE_MS)


def test_port_change_is_followed_by_ssrc(pcaps) -> None:
    """rtpproxy_DLT_NULL.a: loopback capture whose sender moves from port 12002 to 12004 mid-stream; rtpproxy
    merges by SSRC into 300 packets, 0 lost, where tshark splits 51 + 249."""
    streams = analyze_capture(PCAPS / "rtpproxy_DLT_NULL.a.pcap").streams
    ipv4 = [s for s in streams if not s.src.startswith("[")]
    assert len(ipv4) == 1, [(s.src, s.dst, s.packets) for s in streams]
    stream = ipv4[0]
    assert (stream.packets, stream.loss.lost) == (300, 0)
    assert any("port changed" in problem for problem in stream.problems)

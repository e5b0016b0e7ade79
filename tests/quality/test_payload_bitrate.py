"""Tests for homeshore.quality.payload_bitrate: exact arithmetic, tag lengths from RFC 3711 / RFC 4568, and a real
SRTP capture read by tshark."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeshore.quality.payload_bitrate import auth_tag_bytes, codec_bitrate_kbps, consecutive_bitrate_kbps
from tests.conftest import PCAPS, require_tool


def test_opus_under_srtp_80_bit_tag():
    # Three 20-ms Opus frames of 70, 80 and 90 codec bytes, each followed by a 10-byte HMAC-SHA1-80 tag:
    # 8 * (70 + 80 + 90) bits / 60 ms = 32 kbit/s exactly.
    assert codec_bitrate_kbps([80, 90, 100], [20.0, 20.0, 20.0], auth_tag_bytes("AES_CM_128_HMAC_SHA1_80")) == 32.0


def test_opus_under_srtp_32_bit_tag_and_mixed_frame_lengths():
    # 60 bytes + 4-byte tag over 20 ms and 124 bytes + 4 over 40 ms: 8 * (60 + 120) / 60 = 24 kbit/s.
    assert codec_bitrate_kbps([64, 124], [20.0, 40.0], auth_tag_bytes("aes_cm_128_hmac_sha1_32")) == 24.0


def test_real_srtp_g722_call_is_64_kbit_s():
    """rtpproxy_alice_srtp.pcap: SRTP G.722 with AES_CM_128_HMAC_SHA1_80 (../shared/pcaps/README.md). tshark gives
    each packet's UDP length and RTP timestamp; the payload is UDP length - 8 (UDP header) - 12 (RTP header, no
    CSRC or extension: checked) and each packet carries the audio of its timestamp step at G.722's 8000-Hz RTP clock
    (RFC 3551 §4.5.2). G.722 mode 1 is 64 kbit/s (ITU-T G.722), which only the 10-byte tag's removal gives."""
    require_tool("tshark")
    fields = ["udp.length", "rtp.timestamp", "rtp.cc", "rtp.ext", "rtp.padding", "rtp.p_type"]
    command = ["tshark", "-n", "-r", str(PCAPS / "rtpproxy_alice_srtp.pcap"), "--enable-heuristic", "rtp_udp",
               "-Y", "rtp", "-T", "fields", *(arg for field in fields for arg in ("-e", field))]  # fmt: skip
    lines = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300).stdout.splitlines()
    rows = [line.split("\t") for line in lines]
    assert len(rows) == 1556  # the README's packet count
    assert {(cc, ext, padding, pt) for _, _, cc, ext, padding, pt in rows} == {("0", "0", "0", "9")}
    payloads = [int(udp_length) - 8 - 12 for udp_length, *_ in rows]
    timestamps = [int(ts) for _, ts, *_ in rows]
    durations_ms = [(after - before) / 8 for before, after in zip(timestamps, timestamps[1:])]  # 8 units per ms
    tag = auth_tag_bytes("AES_CM_128_HMAC_SHA1_80")
    assert codec_bitrate_kbps(payloads[1:], durations_ms, tag) == pytest.approx(64.0, abs=1e-9)
    assert codec_bitrate_kbps(payloads[1:], durations_ms, 0) == pytest.approx(68.0, abs=1e-9)  # tag counted


def test_plain_rtp_g711_is_64_kbit_s():
    assert codec_bitrate_kbps([160] * 50, [20.0] * 50) == 64.0


@given(
    st.lists(st.tuples(st.integers(10, 1500), st.sampled_from([2.5, 5.0, 10.0, 20.0, 40.0, 60.0])), min_size=1),
    st.sampled_from([0, 4, 10]),
)
def test_matches_exact_rational_arithmetic(packets, tag):
    sizes = [size for size, _ in packets]
    durations = [duration for _, duration in packets]
    exact = Fraction(8 * sum(size - tag for size in sizes)) / sum(Fraction(d) for d in durations)
    assert codec_bitrate_kbps(sizes, durations, tag) == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize(
    ("sizes", "durations", "tag", "message"),
    [
        ([80], [20.0, 20.0], 10, "1 payload sizes but 2 durations"),
        ([], [], 10, "no packets"),
        ([8], [20.0], 10, "cannot hold a 10-byte tag"),
        ([80], [0.0], 10, "must be > 0 ms"),
        ([80], [20.0], -1, "auth_tag_bytes must be >= 0"),
    ],
)
def test_bad_input_is_refused(sizes, durations, tag, message):
    with pytest.raises(ValueError, match=message):
        codec_bitrate_kbps(sizes, durations, tag)


def test_unknown_crypto_suite_is_refused():
    with pytest.raises(ValueError, match="unknown SRTP crypto suite 'F8_128_HMAC_SHA1_80'"):
        auth_tag_bytes("F8_128_HMAC_SHA1_80")


def test_consecutive_bitrate_counts_only_packets_that_follow_their_predecessor():
    # (seq, ts, bytes) at 48 kHz: 960 = 20 ms. Seq 3 is lost, so packet 4's 60 bytes are not counted against the
    # 40 ms since packet 2; seq 6 is Opus DTX, one packet 400 ms (19200) after seq 5. Counted: 2 (50 B / 20 ms),
    # 5 (40 B / 20 ms), 6 (10 B / 400 ms): 8 * 100 bits / 440 ms = 20/11 kbit/s.
    packets = [(1, 0, 30), (2, 960, 50), (4, 2880, 60), (5, 3840, 40), (6, 23040, 10)]
    assert consecutive_bitrate_kbps(packets, 48000) == pytest.approx(800 / 440)
    # A 4-byte tag comes off each counted packet: 8 * (100 - 12) / 440.
    assert consecutive_bitrate_kbps(packets, 48000, 4) == pytest.approx(704 / 440)
    assert consecutive_bitrate_kbps([(1, 0, 30), (3, 1920, 30)], 48000) is None  # no consecutive pair

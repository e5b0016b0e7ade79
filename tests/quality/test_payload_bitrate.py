"""Tests for homeshore.quality.payload_bitrate: exact arithmetic, tag lengths from RFC 3711 / RFC 4568."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeshore.quality.payload_bitrate import auth_tag_bytes, codec_bitrate_kbps


def test_opus_under_srtp_80_bit_tag():
    # Three 20-ms Opus frames of 70, 80 and 90 codec bytes, each followed by a 10-byte HMAC-SHA1-80 tag:
    # 8 * (70 + 80 + 90) bits / 60 ms = 32 kbit/s exactly.
    assert codec_bitrate_kbps([80, 90, 100], [20.0, 20.0, 20.0], auth_tag_bytes("AES_CM_128_HMAC_SHA1_80")) == 32.0


def test_opus_under_srtp_32_bit_tag_and_mixed_frame_lengths():
    # 60 bytes + 4-byte tag over 20 ms and 124 bytes + 4 over 40 ms: 8 * (60 + 120) / 60 = 24 kbit/s.
    assert codec_bitrate_kbps([64, 124], [20.0, 40.0], auth_tag_bytes("aes_cm_128_hmac_sha1_32")) == 24.0


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

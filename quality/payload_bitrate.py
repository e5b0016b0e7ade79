"""A codec's bitrate from RTP payload sizes, for codecs whose rate the signalling does not say (Opus is variable
and WebRTC's SDP never reaches the capture).

Under SRTP (RFC 3711 §3.1) the payload the capture sees is the encrypted codec frame plus the authentication tag
appended to the packet, whose length the crypto suite fixes (RFC 4568 §6.2: AES_CM_128_HMAC_SHA1_80 has an
80-bit tag, _32 a 32-bit one). The MKI is optional and not used by WebRTC (DTLS-SRTP, RFC 5764), so it is not
counted. Pure computation, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

SRTP_AUTH_TAG_BYTES: Final[dict[str, int]] = {
    "AES_CM_128_HMAC_SHA1_80": 10,  # RFC 3711 §5.2 / RFC 4568 §6.2.1: HMAC-SHA1 truncated to 80 bits
    "AES_CM_128_HMAC_SHA1_32": 4,  # RFC 4568 §6.2.2: truncated to 32 bits
}


def auth_tag_bytes(crypto_suite: str) -> int:
    """Length of the SRTP authentication tag of a crypto suite named as in SDP a=crypto (RFC 4568)."""
    try:
        return SRTP_AUTH_TAG_BYTES[crypto_suite.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown SRTP crypto suite {crypto_suite!r}") from None


def codec_bitrate_kbps(payload_bytes: Sequence[int], durations_ms: Sequence[float], auth_tag_bytes: int = 0) -> float:
    """Codec bitrate in kbit/s: 8 * sum(payload - tag) bits over sum(duration) ms (bits per ms = kbit/s).

    payload_bytes: RTP payload length of each packet (after the header, CSRCs and extension, padding removed).
    durations_ms: the audio each packet carries (its timestamp step over the clock rate, e.g. 20 ms).
    auth_tag_bytes: SRTP authentication tag length, 0 for plain RTP.
    """
    if len(payload_bytes) != len(durations_ms):
        raise ValueError(f"{len(payload_bytes)} payload sizes but {len(durations_ms)} durations")
    if not payload_bytes:
        raise ValueError("no packets")
    if auth_tag_bytes < 0:
        raise ValueError(f"auth_tag_bytes must be >= 0, got {auth_tag_bytes!r}")
    if min(payload_bytes) < auth_tag_bytes:
        raise ValueError(f"a payload of {min(payload_bytes)} bytes cannot hold a {auth_tag_bytes}-byte tag")
    if not min(durations_ms) > 0.0:
        raise ValueError("every packet duration must be > 0 ms")
    bits = 8 * (sum(payload_bytes) - auth_tag_bytes * len(payload_bytes))
    return bits / sum(durations_ms)


def consecutive_bitrate_kbps(packets: Sequence[tuple[int, int, int]], clock_hz: int, auth_tag_bytes: int = 0
                             ) -> float | None:
    """Codec bitrate from (sequence, timestamp, payload bytes) in arrival order: each packet that follows the one
    before it by one sequence number carries the audio between their timestamps. So a loss never counts a lost
    packet's audio without its bytes, and Opus DTX (one packet per 400 ms in silence) counts its long frames.
    None when no such pair is there."""
    sizes, durations_ms = [], []
    for (seq_a, ts_a, _), (seq_b, ts_b, size_b) in zip(packets, packets[1:]):
        step = (ts_b - ts_a) & 0xFFFFFFFF
        if (seq_b - seq_a) & 0xFFFF == 1 and 0 < step < 0x80000000 and size_b >= auth_tag_bytes:
            sizes.append(size_b)
            durations_ms.append(1000.0 * step / clock_hz)
    return codec_bitrate_kbps(sizes, durations_ms, auth_tag_bytes) if sizes else None

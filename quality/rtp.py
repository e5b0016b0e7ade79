"""RTP fixed header (RFC 3550 §5.1): validation and parsing, without touching the payload.

The payload of a call carries what the caller says (card numbers): nothing here reads past the header, and SRTP
streams are analysed from their header alone, which RFC 3711 leaves in clear.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
RTP_FIXED_HEADER_BYTES = 12
_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True)
class RtpHeader:
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrc_count: int
    has_extension: bool
    header_bytes: int  # fixed header + CSRCs + extension
    payload_bytes: int  # after the header, padding removed


def rtp_header_bytes(packet: bytes) -> int | None:
    """Length of the RTP header (with CSRC list and RFC 3550 §5.3.1 / RFC 8285 extension), or None if it does not fit."""
    size = len(packet)
    if size < RTP_FIXED_HEADER_BYTES:
        return None
    first = packet[0]
    header = RTP_FIXED_HEADER_BYTES + 4 * (first & 0x0F)
    if first & 0x10:  # X bit: 4-byte extension header, then `length` 32-bit words
        if size < header + 4:
            return None
        header += 4 + 4 * ((packet[header + 2] << 8) | packet[header + 3])
    return header if header <= size else None


def parse_rtp(packet: bytes) -> RtpHeader | None:
    """The RTP header of `packet`, or None when it is not a consistent RTP version 2 packet."""
    if len(packet) < RTP_FIXED_HEADER_BYTES or packet[0] >> 6 != RTP_VERSION:
        return None
    header_bytes = rtp_header_bytes(packet)
    if header_bytes is None:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
    padding = packet[-1] if first & 0x20 else 0
    payload_bytes = len(packet) - header_bytes - padding
    if payload_bytes < 0 or (first & 0x20 and padding == 0):
        return None
    return RtpHeader(
        marker=bool(second & 0x80),
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        csrc_count=first & 0x0F,
        has_extension=bool(first & 0x10),
        header_bytes=header_bytes,
        payload_bytes=payload_bytes,
    )

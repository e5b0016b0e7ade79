"""RTP fixed header (RFC 3550 §5.1): validation and parsing, without touching the payload.

The payload of a call carries what the caller says (card numbers): nothing here reads past the header, and SRTP
streams are analysed from their header alone, which RFC 3711 leaves in clear.
"""

from __future__ import annotations


RTP_FIXED_HEADER_BYTES = 12


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

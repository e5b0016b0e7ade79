"""RTP fixed header (RFC 3550 §5.1): validation and parsing, without touching the payload.

The payload of a call carries what the caller says (card numbers): nothing here reads past the header, and SRTP
streams are analysed from their header alone, which RFC 3711 leaves in clear.
"""

from __future__ import annotations

from typing import Final


RTP_FIXED_HEADER_BYTES: Final = 12


def rtp_header_bytes(packet: bytes, start: int = 0, end: int | None = None) -> int | None:
    """Length of the RTP header in packet[start:end] (with CSRC list and RFC 3550 §5.3.1 / RFC 8285 extension),
    or None if it does not fit. Offsets, so the hot path never copies the datagram."""
    size = (len(packet) if end is None else end) - start
    if size < RTP_FIXED_HEADER_BYTES:
        return None
    first = packet[start]
    header = RTP_FIXED_HEADER_BYTES + 4 * (first & 0x0F)
    if first & 0x10:  # X bit: 4-byte extension header, then `length` 32-bit words
        if size < header + 4:
            return None
        header += 4 + 4 * ((packet[start + header + 2] << 8) | packet[start + header + 3])
    return header if header <= size else None

"""ICMP echo (RFC 792) and ICMPv6 echo (RFC 4443 §4) on the wire: building requests and recognising our replies.
Pure: bytes in, bytes out."""

from __future__ import annotations

import struct

ECHO_REPLY = 0
ECHO_REQUEST = 8
ECHO6_REQUEST = 128
ECHO6_REPLY = 129
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


def internet_checksum(data: bytes) -> int:
    """RFC 1071: the ones' complement of the ones' complement sum of 16-bit words (odd length padded)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(identifier: int, sequence: int, payload: bytes = b"") -> bytes:
    """An echo request, checksum filled in."""
    header = _HEADER.pack(ECHO_REQUEST, 0, 0, identifier & 0xFFFF, sequence & 0xFFFF)
    checksum = internet_checksum(header + payload)
    return _HEADER.pack(ECHO_REQUEST, 0, checksum, identifier & 0xFFFF, sequence & 0xFFFF) + payload


def echo_reply_sequence(packet: bytes, identifier: int) -> int | None:
    """The sequence number of an echo reply to us in what a raw IPv4 ICMP socket reads (IP header first), None
    for anything else: another program's echo, a request looped back, an error message, a bad checksum."""
    if len(packet) < 20:
        return None
    header_bytes = (packet[0] & 0x0F) * 4  # IHL, in 32-bit words
    icmp = packet[header_bytes:]
    if len(icmp) < _HEADER.size or internet_checksum(icmp) != 0:
        return None
    kind, code, _, ident, sequence = _HEADER.unpack_from(icmp)
    if kind != ECHO_REPLY or code != 0 or ident != identifier & 0xFFFF:
        return None
    return sequence


def echo6_request(identifier: int, sequence: int, payload: bytes = b"") -> bytes:
    """An ICMPv6 echo request with a zero checksum: the kernel fills it in for a raw ICMPv6 socket (RFC 3542
    §3.1), since it covers the IPv6 pseudo-header whose source address only the kernel knows."""
    return _HEADER.pack(ECHO6_REQUEST, 0, 0, identifier & 0xFFFF, sequence & 0xFFFF) + payload


def echo6_reply_sequence(packet: bytes, identifier: int) -> int | None:
    """The sequence number of an echo reply to us in what a raw ICMPv6 socket reads (the ICMPv6 message, no IPv6
    header; its checksum verified by the kernel), None for anything else."""
    if len(packet) < _HEADER.size:
        return None
    kind, code, _, ident, sequence = _HEADER.unpack_from(packet)
    if kind != ECHO6_REPLY or code != 0 or ident != identifier & 0xFFFF:
        return None
    return sequence

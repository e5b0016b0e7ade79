"""The UDP probe packet of `homeshore check` and the reflector of `homeshore serve` (pure: bytes in, records out).

    0       4   5   6       8               16      20              28              36 ... size
    | magic | v | k | zero  |    test id    |  seq  | client send ns | server recv ns | padding (zeros)
    "HSPR"   1   0/1           random 64-bit   u32    monotonic clock   reply only: the server's clock

A request carries zeros where the reply's server receive time goes, so the reflector writes its timestamp
inside the request's own bytes and the reply is exactly as long as the request (no amplification). Sizes run
from MIN_SIZE to MAX_SIZE, which fits one IPv6 packet on a 1500-byte path without fragmenting. Decoding never
raises: anything that is not a well-formed probe is None.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"HSPR"
VERSION = 1
KIND_REQUEST = 0
KIND_REPLY = 1
_HEADER = struct.Struct("!4sBBHQIQ")  # magic, version, kind, reserved, test id, seq, client send ns
_SERVER_TIME = struct.Struct("!Q")
HEADER_SIZE = _HEADER.size  # 28
MIN_SIZE = HEADER_SIZE + _SERVER_TIME.size  # 36: room for the reply's server timestamp
MAX_SIZE = 1452  # 1500 - 40 (IPv6) - 8 (UDP)
G711_SIZE = 172  # 12-byte RTP header + 160 bytes of 20 ms G.711: a probe the size of a call's packet
_KIND_OFFSET = 5


@dataclass(frozen=True)
class Probe:
    """One decoded probe. server_recv_ns is None in a request; in a reply it is the reflector's clock (only
    differences between its values mean anything)."""

    test_id: int
    seq: int
    client_send_ns: int
    size: int
    server_recv_ns: int | None = None

    @property
    def is_reply(self) -> bool:
        return self.server_recv_ns is not None


def encode_request(test_id: int, seq: int, client_send_ns: int, size: int = G711_SIZE) -> bytes:
    """A request of exactly `size` bytes; ValueError when size or a field is out of range."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"probe size must be within {MIN_SIZE}..{MAX_SIZE} bytes, not {size}")
    header = _HEADER.pack(MAGIC, VERSION, KIND_REQUEST, 0, test_id, seq, client_send_ns)
    return header + bytes(size - HEADER_SIZE)


def decode(data: bytes) -> Probe | None:
    """The probe in `data`, request or reply, or None when `data` is not a well-formed one."""
    if not MIN_SIZE <= len(data) <= MAX_SIZE:
        return None
    magic, version, kind, reserved, test_id, seq, sent_ns = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION or reserved != 0 or kind not in (KIND_REQUEST, KIND_REPLY):
        return None
    (server_ns,) = _SERVER_TIME.unpack_from(data, HEADER_SIZE)
    if kind == KIND_REQUEST:
        if any(data[HEADER_SIZE:]):  # a request's padding is zeros: anything else is not ours
            return None
        return Probe(test_id, seq, sent_ns, len(data))
    return Probe(test_id, seq, sent_ns, len(data), server_ns)


def reply_to(request: bytes, server_recv_ns: int) -> bytes | None:
    """The reflector's answer to `request`: the same bytes, marked as a reply, with server_recv_ns written into
    the padding; None when `request` is not a well-formed request (the reflector then stays silent)."""
    probe = decode(request)
    if probe is None or probe.is_reply:
        return None
    reply = bytearray(request)
    reply[_KIND_OFFSET] = KIND_REPLY
    _SERVER_TIME.pack_into(reply, HEADER_SIZE, server_recv_ns & 0xFFFF_FFFF_FFFF_FFFF)
    return bytes(reply)

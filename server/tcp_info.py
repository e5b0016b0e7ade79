"""The kernel's struct tcp_info (Linux getsockopt(IPPROTO_TCP, TCP_INFO)), parsed: bytes in, TcpInfo out (pure).

Why: the server counts a download by what the client's TCP acknowledged (tcpi_bytes_acked, RFC 4898's
HCThruOctetsAcked), as ndt7 does, not by what the page says it received, so a candidate cannot improve the
figure by editing the page; bytes written to the socket are not delivered yet (they may sit in the send buffer).

Offsets are those of struct tcp_info in linux/tcp.h (uapi): eight u8 fields, then u32s from tcpi_rto (8) to
tcpi_total_retrans (100), then the u64s tcpi_pacing_rate (104), tcpi_max_pacing_rate (112), tcpi_bytes_acked
(120), tcpi_bytes_received (128), then u32s again: tcpi_segs_out (136), tcpi_segs_in (140), tcpi_notsent_bytes
(144). The struct only ever grows at its end and the kernel copies min(its size, the buffer's), so a shorter
reply is an older kernel: bytes_acked needs Linux 4.1, notsent_bytes 4.6, bytes_sent (200) 4.19. The offsets
are checked on the running kernel by tests/server/test_tcp_info.py against a transfer of known size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

BUFFER_BYTES = 256  # what to ask getsockopt for: more than any kernel's struct so far (232 bytes on 6.x)
MIN_BYTES = 148  # through tcpi_notsent_bytes
_U32, _U64 = struct.Struct("=I"), struct.Struct("=Q")  # native byte order, at explicit offsets
_STATE, _UNACKED, _RTT, _BYTES_ACKED, _BYTES_RECEIVED, _NOTSENT, _BYTES_SENT = 0, 24, 68, 120, 128, 144, 200


@dataclass(frozen=True)
class TcpInfo:
    state: int  # TCP_ESTABLISHED is 1, TCP_CLOSE 7 (include/net/tcp_states.h)
    unacked_segments: int  # tcpi_unacked: segments sent and not yet acknowledged
    rtt_us: int  # the smoothed round-trip time
    bytes_acked: int  # payload bytes the peer acknowledged, plus 1 for the SYN on the connecting side
    bytes_received: int  # payload bytes received in order
    notsent_bytes: int  # written by the application, not yet sent
    bytes_sent: int | None  # payload bytes sent, retransmissions included (None: a kernel before 4.19)


def parse_tcp_info(raw: bytes) -> TcpInfo:
    """The fields of a TCP_INFO reply; ValueError when it is too short to hold tcpi_notsent_bytes."""
    if len(raw) < MIN_BYTES:
        raise ValueError(f"TCP_INFO reply of {len(raw)} bytes: at least {MIN_BYTES} needed (Linux 4.6 or later)")
    return TcpInfo(
        state=raw[_STATE],
        unacked_segments=_U32.unpack_from(raw, _UNACKED)[0],
        rtt_us=_U32.unpack_from(raw, _RTT)[0],
        bytes_acked=_U64.unpack_from(raw, _BYTES_ACKED)[0],
        bytes_received=_U64.unpack_from(raw, _BYTES_RECEIVED)[0],
        notsent_bytes=_U32.unpack_from(raw, _NOTSENT)[0],
        bytes_sent=_U64.unpack_from(raw, _BYTES_SENT)[0] if len(raw) >= _BYTES_SENT + 8 else None,
    )

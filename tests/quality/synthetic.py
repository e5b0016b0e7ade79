"""Synthetic RTP, RTCP, STUN, DTLS and TURN packets, and pcap files holding them, built byte by byte for tests.

Independent of homeshore: everything here is struct.pack against the RFCs, so a test that builds its input here
and checks homeshore's output checks homeshore against the specifications, not against itself.
"""

from __future__ import annotations

import ipaddress
import math
import struct
from collections.abc import Iterable
from pathlib import Path

G711_PAYLOAD = b"\xd5" * 160  # 20 ms of PCMA silence
STUN_MAGIC_COOKIE = 0x2112A442  # RFC 5389 §6
_NTP_UNIX_OFFSET_S = 2_208_988_800  # RFC 868


def rtp_packet(
    seq: int,
    ts: int,
    ssrc: int,
    pt: int = 8,
    marker: bool = False,
    payload: bytes = G711_PAYLOAD,
    *,
    csrcs: Iterable[int] = (),
    extension: bytes | None = None,
    extension_profile: int = 0xBEDE,
    padding: int = 0,
) -> bytes:
    """An RTP packet (RFC 3550 §5.1). `extension` is the header extension body, a multiple of 4 bytes
    (§5.3.1; 0xBEDE is RFC 8285's one-byte form); `padding` bytes, the last one counting them all (§5.1)."""
    csrcs = tuple(csrcs)
    first = 0x80 | (0x20 if padding else 0) | (0x10 if extension is not None else 0) | len(csrcs)
    packet = struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
    packet += b"".join(struct.pack("!I", csrc) for csrc in csrcs)
    if extension is not None:
        assert len(extension) % 4 == 0
        packet += struct.pack("!HH", extension_profile, len(extension) // 4) + extension
    packet += payload
    if padding:
        packet += bytes(padding - 1) + bytes([padding])
    return packet


def rtp_header_len(packet: bytes) -> int:
    """Bytes of fixed header, CSRC list and header extension of a packet built by `rtp_packet`."""
    length = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        length += 4 + 4 * struct.unpack_from("!H", packet, length + 2)[0]
    return length


def telephone_event(event: int, end: bool, volume: int, duration: int) -> bytes:
    """An RFC 4733 §2.3 named-event payload: event, E|R|volume, duration (4 bytes)."""
    return struct.pack("!BBH", event, (0x80 if end else 0) | volume, duration)


# --- RTCP (RFC 3550 §6.4) --------------------------------------------------------------------------------------


def report_block(ssrc: int, fraction: int = 0, lost: int = 0, highest: int = 0, jitter: int = 0, lsr: int = 0,
                 dlsr: int = 0) -> bytes:
    return struct.pack("!IB", ssrc, fraction) + lost.to_bytes(3, "big", signed=True) + struct.pack(
        "!IIII", highest, jitter, lsr, dlsr
    )


def _rtcp_header(packet_type: int, count: int, length_bytes: int) -> bytes:
    return struct.pack("!BBH", 0x80 | count, packet_type, length_bytes // 4 - 1)


def rtcp_rr(ssrc: int, blocks: Iterable[bytes] = ()) -> bytes:
    blocks = tuple(blocks)
    body = struct.pack("!I", ssrc) + b"".join(blocks)
    return _rtcp_header(201, len(blocks), 4 + len(body)) + body


def rtcp_sr(ssrc: int, unix_time_s: float, rtp_ts: int, packets: int, octets: int,
            blocks: Iterable[bytes] = ()) -> bytes:
    blocks = tuple(blocks)
    ntp = unix_time_s + _NTP_UNIX_OFFSET_S
    msw = math.floor(ntp)
    lsw = math.floor((ntp - msw) * 2**32)
    body = struct.pack("!IIIIII", ssrc, msw & 0xFFFFFFFF, lsw, rtp_ts, packets, octets) + b"".join(blocks)
    return _rtcp_header(200, len(blocks), 4 + len(body)) + body


# --- WebRTC neighbours (RFC 7983) ------------------------------------------------------------------------------


def stun_binding_request(transaction_id: bytes) -> bytes:
    """RFC 5389 §6: Binding request (type 0x0001), no attributes."""
    assert len(transaction_id) == 12
    return struct.pack("!HHI", 0x0001, 0, STUN_MAGIC_COOKIE) + transaction_id


def dtls_record(body: bytes, content_type: int = 22) -> bytes:
    """RFC 6347 §4.1 record: type (22 handshake), version DTLS 1.2, epoch, 48-bit sequence, length."""
    return struct.pack("!BHH6sH", content_type, 0xFEFD, 0, bytes(6), len(body)) + body


def turn_channel_data(channel: int, data: bytes) -> bytes:
    """RFC 8656 §12.4 ChannelData, padded to 4 bytes as over TCP (allowed over UDP, §12.5)."""
    return struct.pack("!HH", channel, len(data)) + data + bytes(-len(data) % 4)


# --- pcap files (draft-ietf-opsawg-pcap, microsecond resolution, LINKTYPE_ETHERNET) -----------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(src_ip: str, sport: int, dst_ip: str, dport: int, payload: bytes) -> bytes:
    """An Ethernet II / IPv4 (no options, DF) / UDP frame."""
    src, dst = ipaddress.IPv4Address(src_ip).packed, ipaddress.IPv4Address(dst_ip).packed
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", 0x0800)
    return ethernet + ip + udp


def write_pcap(path: str | Path, packets: Iterable[tuple[float, str, int, str, int, bytes]]) -> Path:
    """Write (time_s, src_ip, sport, dst_ip, dport, payload) datagrams as a little-endian microsecond pcap."""
    path = Path(path)
    with path.open("wb") as handle:
        handle.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for time_s, src_ip, sport, dst_ip, dport, payload in packets:
            frame = udp_frame(src_ip, sport, dst_ip, dport, payload)
            seconds, micros = divmod(round(time_s * 1_000_000), 1_000_000)
            handle.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)
    return path


def pcapng_block(block_type: int, body: bytes) -> bytes:
    """One little-endian pcapng block: type, length, the body padded to 32 bits, the length again (section 3.1)."""
    body += bytes(-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


# A section header (byte-order magic, version 1.0, length unknown) and one Ethernet interface at the default
# microsecond resolution (pcapng sections 4.1 and 4.2).
PCAPNG_ETHERNET_HEAD = (pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
                        + pcapng_block(1, struct.pack("<HHI", 1, 0, 65535)))


def pcapng_packet(micros: int, frame: bytes, original_len: int | None = None) -> bytes:
    """An Enhanced Packet Block of interface 0 (section 4.3), stamped in microseconds since the epoch."""
    return pcapng_block(6, struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(frame),
                                       len(frame) if original_len is None else original_len) + frame)


def write_pcapng(path: str | Path, packets: Iterable[tuple[float, str, int, str, int, bytes]]) -> Path:
    """The same datagrams as `write_pcap`, as little-endian pcapng with an Enhanced Packet Block per frame."""
    path = Path(path)
    with path.open("wb") as handle:
        handle.write(PCAPNG_ETHERNET_HEAD)
        for time_s, src_ip, sport, dst_ip, dport, payload in packets:
            handle.write(pcapng_packet(round(time_s * 1_000_000), udp_frame(src_ip, sport, dst_ip, dport, payload)))
    return path


def rtcp_bye(ssrcs: Iterable[int]) -> bytes:
    """RFC 3550 §6.6 BYE without a reason."""
    ssrcs = tuple(ssrcs)
    body = b"".join(struct.pack("!I", ssrc) for ssrc in ssrcs)
    return _rtcp_header(203, len(ssrcs), 4 + len(body)) + body


def sip_message(start_line: str, call_id: str, cseq: str, sdp: str | None = None, *,
                from_uri: str = "sip:+447700900123@example.com", to_uri: str = "sip:+441632960001@example.net") -> bytes:
    """A SIP message (RFC 3261) with the headers that carry personal data filled in, and an optional SDP body."""
    body = sdp.replace("\n", "\r\n").encode() if sdp else b""
    head = (
        f"{start_line}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\nFrom: \"Jane Caller\" <{from_uri}>;tag=1\r\n"
        f"To: <{to_uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <{from_uri}>\r\n"
        + ("Content-Type: application/sdp\r\n" if sdp else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def sdp_offer(address: str, port: int, payload_types: str = "8 101",
              rtpmaps: str = "a=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n") -> str:
    return (f"v=0\no=- 1 1 IN IP4 {address}\ns=-\nc=IN IP4 {address}\nt=0 0\n"
            f"m=audio {port} RTP/AVP {payload_types}\n{rtpmaps}")


def tcp_frame(src_ip: str, sport: int, dst_ip: str, dport: int, sequence: int, payload: bytes) -> bytes:
    """An Ethernet II / IPv4 / TCP frame (PSH+ACK, a 20-byte header; checksum left 0 as offload leaves it)."""
    src, dst = ipaddress.IPv4Address(src_ip).packed, ipaddress.IPv4Address(dst_ip).packed
    tcp = struct.pack("!HHIIBBHHH", sport, dport, sequence & 0xFFFFFFFF, 1, 5 << 4, 0x18, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", 0x0800)
    return ethernet + ip + tcp

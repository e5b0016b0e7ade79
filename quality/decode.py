"""Link layer to UDP datagram (or TCP segment, for SIP over TCP): where a captured frame's payload is, and
between which endpoints.

Pure and total: any bytes with any link type give a tuple or None, never an exception. Fragmented
datagrams give None (no reassembly; the caller counts them), as do ARP, ICMP (including the UDP header
quoted inside an ICMP error), truncated headers and UDP lengths that run past the IP packet or the capture.
The common case, Ethernet + IPv4 without options + UDP, is decoded by one `unpack_from` before anything else.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

LINKTYPE_NULL: Final = 0  # BSD loopback: 4-byte address family in the capturing host's byte order
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101  # raw IPv4/IPv6, the version nibble decides
LINKTYPE_RAW_DLT12: Final = 12  # DLT_RAW as written by some OSes instead of LINKTYPE_RAW
LINKTYPE_RAW_DLT14: Final = 14  # DLT_RAW on OpenBSD
LINKTYPE_LOOP: Final = 108  # OpenBSD loopback: address family in network byte order
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276

_RAW = frozenset((LINKTYPE_RAW, LINKTYPE_RAW_DLT12, LINKTYPE_RAW_DLT14, LINKTYPE_IPV4, LINKTYPE_IPV6))
_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100))  # 802.1Q, 802.1ad, the pre-standard QinQ tag
_AF_INET: Final = 2
_AF_INET6 = frozenset((24, 28, 30))  # NetBSD/OpenBSD, FreeBSD, Darwin (as Wireshark's null dissector)
_IPPROTO_TCP: Final = 6
_IPPROTO_UDP: Final = 17
_IPV6_EXT_8 = frozenset((0, 43, 60))  # hop-by-hop, routing, destination options: length in 8-octet units
_IPV6_FRAGMENT = 44
_IPV6_AH = 51  # RFC 4302: length in 4-octet units, minus 2

# Ethernet(14) + IPv4 without options(20) + UDP(8): ethertype, version/IHL, total length, flags/fragment
# offset, protocol, source, destination, source port, destination port, UDP length.
_ETH_IPV4_UDP = struct.Struct("!12xHBxH2xHxB2x4s4sHHH").unpack_from
_UDP = struct.Struct("!HHH").unpack_from
_TCP = struct.Struct("!HHI4xH").unpack_from  # ports, sequence number, data offset and flags
_U32_LE = struct.Struct("<I").unpack_from

Datagram = tuple[bytes, int, bytes, int, int, int]
Segment = tuple[bytes, int, bytes, int, int, int, int]


def udp_datagram(linktype: int, frame: bytes, snapped: bool = False) -> Datagram | None:
    """(src_addr, src_port, dst_addr, dst_port, payload_start, payload_end) of the UDP datagram in a frame.

    Addresses are raw bytes (4 for IPv4, 16 for IPv6); the payload is frame[payload_start:payload_end], which
    excludes link-layer padding and trailers. None when the frame holds no complete, unfragmented UDP datagram.

    `snapped`: live capture, where the kernel kept the headers only (see snaplen.py). The UDP header must be
    there; payload_end is where the datagram ends on the wire (its UDP length), which may lie past the frame.
    """
    if linktype == LINKTYPE_ETHERNET:
        try:
            ethertype, ver_ihl, ip_len, frag, proto, src, dst, sport, dport, udp_len = _ETH_IPV4_UDP(frame)
        except struct.error:
            return None  # shorter than the smallest Ethernet/IPv4/UDP frame
        if (
            ethertype == _ETHERTYPE_IPV4
            and ver_ihl == 0x45
            and proto == _IPPROTO_UDP
            and not frag & 0x3FFF  # neither more-fragments nor an offset (RFC 791)
            and 8 <= udp_len <= ip_len - 20
            and (ip_len + 14 <= len(frame) or snapped)
        ):
            return src, sport, dst, dport, 42, 34 + udp_len
    found = _ip_packet(linktype, frame, _IPPROTO_UDP, snapped)
    return None if found is None else _udp(frame, *found)


def tcp_segment(linktype: int, frame: bytes) -> Segment | None:
    """(src_addr, src_port, dst_addr, dst_port, sequence, payload_start, payload_end) of a TCP segment, for SIP
    over TCP. None when the frame holds no unfragmented TCP segment with its header whole."""
    found = _ip_packet(linktype, frame, _IPPROTO_TCP, False)
    if found is None:
        return None
    p, end, src, dst = found
    if p + 20 > end:
        return None
    sport, dport, sequence, offset_flags = _TCP(frame, p)
    start = p + (offset_flags >> 12) * 4
    if start < p + 20 or start > end:
        return None
    return src, sport, dst, dport, sequence, start, end


def _ip_packet(linktype: int, frame: bytes, protocol: int, snapped: bool) -> tuple[int, int, bytes, bytes] | None:
    """Where the `protocol` header starts, where the IP packet ends, and its addresses, under any link type."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = frame[12] << 8 | frame[13]
        off = 14
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        ethertype = frame[14] << 8 | frame[15]
        off = 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        ethertype = frame[0] << 8 | frame[1]
        off = 20
    elif linktype in _RAW:
        if not frame:
            return None
        version = frame[0] >> 4
        if version == 4:
            return _ipv4(frame, 0, protocol, snapped)
        return _ipv6(frame, 0, protocol, snapped) if version == 6 else None
    elif linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
        if len(frame) < 4:
            return None
        if linktype == LINKTYPE_LOOP:
            family = frame[0] << 24 | frame[1] << 16 | frame[2] << 8 | frame[3]
        else:
            # The writer's host byte order is unknown: a family is small, so a value above 0xFFFF was
            # written big-endian (as Wireshark's null dissector reasons).
            family = _U32_LE(frame)[0]
            if family > 0xFFFF:
                family = frame[0] << 24 | frame[1] << 16 | frame[2] << 8 | frame[3]
        if family == _AF_INET:
            return _ipv4(frame, 4, protocol, snapped)
        return _ipv6(frame, 4, protocol, snapped) if family in _AF_INET6 else None
    else:
        return None
    while ethertype in _VLAN_TPIDS:  # any stack of 802.1Q / 802.1ad tags
        if len(frame) < off + 4:
            return None
        ethertype = frame[off + 2] << 8 | frame[off + 3]
        off += 4
    if ethertype == _ETHERTYPE_IPV4:
        return _ipv4(frame, off, protocol, snapped)
    return _ipv6(frame, off, protocol, snapped) if ethertype == _ETHERTYPE_IPV6 else None


def _ipv4(frame: bytes, off: int, protocol: int, snapped: bool) -> tuple[int, int, bytes, bytes] | None:
    n = len(frame)
    if n < off + 20:
        return None
    ver_ihl = frame[off]
    if ver_ihl >> 4 != 4:
        # An IPv6 packet labelled IPv4 (a misconfigured tunnel or loopback): Wireshark follows the version.
        return _ipv6(frame, off, protocol, snapped) if ver_ihl >> 4 == 6 else None
    header_len = (ver_ihl & 0x0F) * 4
    if header_len < 20:
        return None
    if frame[off + 9] != protocol or frame[off + 6] & 0x3F or frame[off + 7]:
        return None  # another protocol, or a fragment (MF flag or a fragment offset, RFC 791)
    ip_len = frame[off + 2] << 8 | frame[off + 3]
    if ip_len == 0:
        end = n  # total length 0: segmentation offload on the capturing host; Wireshark does the same
    elif ip_len < header_len:
        return None
    else:
        end = off + ip_len if snapped else min(off + ip_len, n)  # strips Ethernet padding and trailers
    return off + header_len, end, frame[off + 12 : off + 16], frame[off + 16 : off + 20]


def _ipv6(frame: bytes, off: int, protocol: int, snapped: bool) -> tuple[int, int, bytes, bytes] | None:
    n = len(frame)
    if n < off + 40 or frame[off] >> 4 != 6:
        return None
    # Payload length 0 is a jumbogram (RFC 2675), whose UDP length 0 is unsupported, or nothing at all.
    end = off + 40 + (frame[off + 4] << 8 | frame[off + 5])
    if not snapped:
        end = min(end, n)  # strips Ethernet padding and trailers
    next_header = frame[off + 6]
    p = off + 40
    while next_header != protocol:  # RFC 8200 section 4: walk the extension headers
        if p + 8 > min(end, n):
            return None
        if next_header in _IPV6_EXT_8:
            next_header, p = frame[p], p + (frame[p + 1] + 1) * 8
        elif next_header == _IPV6_FRAGMENT:
            if (frame[p + 2] << 8 | frame[p + 3]) & 0xFFF9:
                return None  # fragment offset or M flag; an atomic fragment (RFC 6946) is whole
            next_header, p = frame[p], p + 8
        elif next_header == _IPV6_AH:
            next_header, p = frame[p], p + (frame[p + 1] + 2) * 4
        else:
            return None
    return p, end, frame[off + 8 : off + 24], frame[off + 24 : off + 40]


def _udp(frame: bytes, p: int, end: int, src: bytes, dst: bytes) -> Datagram | None:
    if p + 8 > min(end, len(frame)):
        return None
    sport, dport, udp_len = _UDP(frame, p)
    if udp_len < 8 or p + udp_len > end:
        return None  # cut by the capture's snap length, or inconsistent with the IP length
    return src, sport, dst, dport, p + 8, p + udp_len


def format_address(addr: bytes) -> str:
    """"10.1.2.3" for a 4-byte address, compressed text ("2001:db8::1") for a 16-byte one."""
    return socket.inet_ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)

"""RTCP compound packets: sender and receiver reports, BYE, and the round-trip time they carry.

Pure: bytes in, frozen dataclasses out, never raises on malformed input. SDES items (CNAMEs are often
user@host), APP data and BYE reason strings are skipped unread, so nothing personal leaves this module.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

RTCP_FIR_LEGACY = 192  # RFC 2032 FIR, still sent by old H.261/H.263 gear
RTCP_NACK_LEGACY = 193  # RFC 2032 NACK
RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTCP_RTPFB = 205  # RFC 4585 transport-layer feedback
RTCP_PSFB = 206  # RFC 4585 payload-specific feedback

_NTP_UNIX_OFFSET_S = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01 (RFC 868)
_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!IIIII")
_REPORT_BLOCK = struct.Struct("!IB3sIIII")
_REPORT_BLOCK_LEN = _REPORT_BLOCK.size  # 24
_SENDER_INFO_LEN = _SENDER_INFO.size  # 20
# RFC 3711 §3.4: an authenticated-only SRTCP packet (E=0) ends in the 4-byte E|index word and the tag (10 bytes
# for HMAC-SHA1-80, 4 for HMAC-SHA1-32). The optional MKI is left out on purpose: with it, 4 more bytes of E=1
# ciphertext would read as an E=0 trailer, and MKI is rarely used in practice.
_SRTCP_TRAILER_LENS = (4 + 10, 4 + 4)
# Fewer trailing bytes than the smallest SRTCP trailer cannot be one: sender junk (X-Lite appends two zero bytes
# after its SDES), ignored.
_MIN_SRTCP_TRAILER_LEN = min(_SRTCP_TRAILER_LENS)
_MAX_RTT_S = 60.0


@dataclass(frozen=True)
class ReportBlock:
    """One reception report (RFC 3550 §6.4.1) about the media source `ssrc`."""

    ssrc: int
    fraction_lost: float  # 0..1: lost since the previous report (8-bit field / 256)
    cumulative_lost: int  # signed 24-bit; negative when duplicates outnumber losses
    highest_seq: int  # extended highest sequence number received (cycles << 16 | seq)
    jitter_ts: int  # interarrival jitter in RTP timestamp units; divide by the clock rate for seconds
    lsr: int  # middle 32 bits of the NTP timestamp of the last SR received, 0 if none
    dlsr: int  # delay since that SR, in 1/65536 s


@dataclass(frozen=True)
class SenderInfo:
    """The sender-info section of an SR (RFC 3550 §6.4.1)."""

    ntp_seconds: float  # NTP wallclock as float seconds since 1900-01-01
    ntp_middle32: int  # middle 32 bits of the NTP timestamp; what a receiver echoes back as LSR
    rtp_ts: int
    packet_count: int
    octet_count: int


@dataclass(frozen=True)
class RtcpPacket:
    """One packet of a compound. Only SR and RR fill `reports`; only BYE fills `bye_ssrcs`."""

    packet_type: int  # 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP, 205/206 feedback, 192/193 legacy
    ssrc: int  # sender SSRC (SDES: first chunk's SSRC; BYE: first SSRC; 0 if the packet has none)
    sender_info: SenderInfo | None
    reports: tuple[ReportBlock, ...]
    bye_ssrcs: tuple[int, ...]


@dataclass(frozen=True)
class RtcpCompound:
    """A UDP payload's worth of RTCP.

    `encrypted` is True when the bytes after the first packet's clear 8-byte header do not parse as RTCP
    to the end of the payload and no authenticated-only SRTCP trailer (E=0) explains the rest: SRTCP with
    E=1 (RFC 3711 §3.4). Then `packets` holds only that first packet's type and SSRC, because everything
    after them is ciphertext. Fewer than 8 stray bytes after the last packet are ignored.
    """

    packets: tuple[RtcpPacket, ...]
    encrypted: bool


def is_rtcp(payload: bytes) -> bool:
    """True when `payload` starts like RTCP rather than RTP (RFC 5761 §4).

    Version 2 and a second octet in 192..223; RTP muxed on the same port must not use payload types 64..95,
    so with or without the marker bit no RTP packet has its second octet in that range. Cheap: two byte reads.
    """
    return len(payload) >= 8 and payload[0] >> 6 == 2 and 192 <= payload[1] <= 223


def parse_compound(payload: bytes) -> RtcpCompound | None:
    """Parse an RTCP (or SRTCP) compound packet. None when the first header is not valid RTCP."""
    if not is_rtcp(payload):
        return None
    first, packet_type, length_words = _HEADER.unpack_from(payload, 0)
    first_len = (length_words + 1) * 4
    if first_len > len(payload) or first_len < _min_len(packet_type, first & 0x1F):
        return None
    packets: list[RtcpPacket] = []
    offset = 0
    while offset < len(payload):
        parsed = _parse_packet(payload, offset)
        if parsed is None:
            break
        packet, offset = parsed
        packets.append(packet)
    if packets and (len(payload) - offset < _MIN_SRTCP_TRAILER_LEN or _is_clear_srtcp_trailer(payload, offset)):
        return RtcpCompound(packets=tuple(packets), encrypted=False)
    # RFC 3711 §3.4: with E=1 only the first 8 octets (header and SSRC) are sent in the clear.
    clear = RtcpPacket(
        packet_type=payload[1],
        ssrc=struct.unpack_from("!I", payload, 4)[0],
        sender_info=None,
        reports=(),
        bye_ssrcs=(),
    )
    return RtcpCompound(packets=(clear,), encrypted=True)


def ntp_middle32(unix_time_s: float) -> int:
    """The middle 32 bits of the NTP timestamp for a Unix time (RFC 3550 §4), as echoed in LSR.

    Low 16 bits of the NTP seconds, high 16 bits of the fraction; wraps every 65536 s (about 18 h).
    """
    return math.floor((unix_time_s + _NTP_UNIX_OFFSET_S) * 65536) & 0xFFFFFFFF


def rtt_ms(arrival_unix_s: float, lsr: int, dlsr: int) -> float | None:
    """Round-trip time in ms from a report block that echoes one of our SRs (RFC 3550 §6.4.1, fig. 2).

    RTT = A - LSR - DLSR, with A the report's arrival time, all in 1/65536 s and computed modulo 2**32 so
    that the 16-bit seconds wrap is harmless. None when the sender has seen no SR (lsr == 0), or the result
    is negative (clock step, or a report that echoes somebody else's SR) or above 60 s.
    """
    if lsr == 0:
        return None
    units = (ntp_middle32(arrival_unix_s) - lsr - dlsr) & 0xFFFFFFFF
    if units >= 0x80000000:  # negative as a signed 32-bit difference
        return None
    rtt_s = units / 65536
    if rtt_s > _MAX_RTT_S:
        return None
    return rtt_s * 1000.0


def _min_len(packet_type: int, count: int) -> int:
    """Smallest packet, header included, that can hold what the header's count field announces."""
    if packet_type == RTCP_SR:
        return 8 + _SENDER_INFO_LEN + count * _REPORT_BLOCK_LEN
    if packet_type == RTCP_RR:
        return 8 + count * _REPORT_BLOCK_LEN
    if packet_type == RTCP_BYE:
        return 4 + count * 4
    return 4


def _is_clear_srtcp_trailer(payload: bytes, offset: int) -> bool:
    # RFC 3711 §3.4: the E flag is the top bit of the word that follows the (unencrypted) compound.
    leftover = len(payload) - offset
    return leftover in _SRTCP_TRAILER_LENS and payload[offset] & 0x80 == 0


def _parse_packet(payload: bytes, offset: int) -> tuple[RtcpPacket, int] | None:
    """One packet at `offset`, and the offset after it; None when its header or body is not valid."""
    if offset + 4 > len(payload):
        return None
    first, packet_type, length_words = _HEADER.unpack_from(payload, offset)
    end = offset + (length_words + 1) * 4
    if first >> 6 != 2 or not 192 <= packet_type <= 223 or end > len(payload):
        return None
    body_end = end
    if first & 0x20:  # RFC 3550 §6.4.1: padding; the last octet counts the padding octets, itself included
        padding = payload[end - 1]
        if padding == 0 or padding > end - offset - 4:
            return None
        body_end = end - padding
    count = first & 0x1F
    body = payload[offset + 4 : body_end]
    if packet_type in (RTCP_SR, RTCP_RR):
        packet = _parse_report(packet_type, count, body)
    elif packet_type == RTCP_BYE:
        packet = _parse_bye(count, body)
    else:
        # SDES, APP, feedback, legacy FIR/NACK: only the leading SSRC is kept (SDES text is personal data).
        ssrc = struct.unpack_from("!I", body, 0)[0] if len(body) >= 4 else 0
        packet = RtcpPacket(packet_type, ssrc, None, (), ())
    if packet is None:
        return None
    return packet, end


def _parse_report(packet_type: int, count: int, body: bytes) -> RtcpPacket | None:
    info_len = _SENDER_INFO_LEN if packet_type == RTCP_SR else 0
    blocks_at = 4 + info_len
    # RFC 3550 §6.4: profile-specific extensions may follow the report blocks, so only a minimum applies.
    if len(body) < blocks_at + count * _REPORT_BLOCK_LEN:
        return None
    ssrc = struct.unpack_from("!I", body, 0)[0]
    sender_info = None
    if packet_type == RTCP_SR:
        msw, lsw, rtp_ts, packet_count, octet_count = _SENDER_INFO.unpack_from(body, 4)
        sender_info = SenderInfo(
            ntp_seconds=msw + lsw / 2**32,
            ntp_middle32=((msw & 0xFFFF) << 16) | (lsw >> 16),
            rtp_ts=rtp_ts,
            packet_count=packet_count,
            octet_count=octet_count,
        )
    reports = tuple(
        _parse_block(body, blocks_at + i * _REPORT_BLOCK_LEN) for i in range(count)
    )
    return RtcpPacket(packet_type, ssrc, sender_info, reports, ())


def _parse_block(body: bytes, at: int) -> ReportBlock:
    ssrc, fraction, lost, highest_seq, jitter_ts, lsr, dlsr = _REPORT_BLOCK.unpack_from(body, at)
    return ReportBlock(
        ssrc=ssrc,
        fraction_lost=fraction / 256,
        cumulative_lost=int.from_bytes(lost, "big", signed=True),  # RFC 3550 A.3 clamps to 24-bit signed
        highest_seq=highest_seq,
        jitter_ts=jitter_ts,
        lsr=lsr,
        dlsr=dlsr,
    )


def _parse_bye(count: int, body: bytes) -> RtcpPacket | None:
    # RFC 3550 §6.6: SC SSRCs, then an optional length-prefixed reason that is dropped unread.
    if len(body) < count * 4:
        return None
    ssrcs = struct.unpack_from(f"!{count}I", body, 0)
    return RtcpPacket(RTCP_BYE, ssrcs[0] if ssrcs else 0, None, (), tuple(ssrcs))

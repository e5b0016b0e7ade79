"""What a UDP payload is, from its first byte (RFC 7983 §7, which extends RFC 5764 §5.1.2).

WebRTC multiplexes STUN, DTLS, SRTP and SRTCP on one 5-tuple, and TURN relays wrap media in ChannelData.
"""

from __future__ import annotations

from homeshore.quality.rtcp import is_rtcp

STUN = "stun"
ZRTP = "zrtp"
DTLS = "dtls"
TURN_CHANNEL = "turn-channel"
RTP = "rtp"
RTCP = "rtcp"
OTHER = "other"

_TURN_CHANNEL_HEADER_BYTES = 4


def classify(payload: bytes) -> str:
    """RFC 7983: [0..3] STUN, [16..19] ZRTP, [20..63] DTLS, [64..79] TURN channel, [128..191] RTP/RTCP."""
    if not payload:
        return OTHER
    first = payload[0]
    if 128 <= first <= 191:
        if is_rtcp(payload):
            return RTCP
        return RTP
    if first <= 3:
        return STUN
    if 20 <= first <= 63:
        return DTLS
    if 64 <= first <= 79:
        return TURN_CHANNEL
    if 16 <= first <= 19:
        return ZRTP
    return OTHER


def turn_channel_payload(payload: bytes, wire_bytes: int | None = None) -> tuple[int, bytes, int] | None:
    """RFC 8656 §12.4 ChannelData: (channel number, application data, its length), or None when malformed.

    `wire_bytes`: the datagram's size on the wire when `payload` holds only its headers (live capture); the data
    returned is then only the part captured, and the length says how long it was."""
    if len(payload) < _TURN_CHANNEL_HEADER_BYTES:
        return None
    channel = (payload[0] << 8) | payload[1]
    length = (payload[2] << 8) | payload[3]
    end = _TURN_CHANNEL_HEADER_BYTES + length
    if not 0x4000 <= channel <= 0x4FFF or end > (len(payload) if wire_bytes is None else wire_bytes):
        return None
    return channel, payload[_TURN_CHANNEL_HEADER_BYTES:end], length

"""The next packet of a known RTP stream goes straight to it: classic pcap read in place, other files by frame.

The bulk of a capture file is the next packet of a stream the analyzer already follows, in Ethernet + IPv4
(no options, not fragmented) + UDP. For those frames the fields are read by index (no struct tuples), and the
stream is found by SSRC, then checked against the packet's addresses and ports. In classic little-endian pcap
of Ethernet (`analyze_pcap`), this happens in the file's read buffer, without even a copy of the frame; any
other capture, pcapng included (Wireshark's default), goes through `reader.frames()` with the same shortcut per
frame (`analyze_frames`). Every other frame goes to `Analyzer.add_frame` as it is, in file order; so the
analyzer ends in the same state as when it is fed every frame by `add_frame` (tests/quality/test_fastscan.py
checks that on every capture we have and on generated ones, in pcap and pcapng).

Compiled by mypyc (setup.py) this reads several times faster than frame by frame; interpreted it is slower,
so `capture.analyze_capture` takes it only when compiled (`COMPILED`).
"""

from __future__ import annotations

from typing import Final

from homeshore.quality.analyzer import Analyzer, payload_bytes
from homeshore.quality.decode import LINKTYPE_ETHERNET
from homeshore.quality.pcapfile import MAX_FRAME_LEN, CaptureReader
from homeshore.quality.stream import RtpStream

COMPILED: Final = not __file__.endswith(".py")  # as black and mypy tell their mypyc builds apart

_RECORD_LEN: Final = 16  # pcap record header
_RTP_AT: Final = 42  # Ethernet (14) + IPv4 without options (20) + UDP (8)
# Routes are found by SSRC in a table of this many buckets (a power of two) rather than a dict: the SSRC indexes
# it without being boxed into a Python int, which a dict lookup per packet would cost.
_BUCKETS: Final = 4096


class _Route:
    """A confirmed stream and the IPv4 flow it arrives on; routes in one bucket are chained by `next`."""

    __slots__ = ("ssrc", "src", "sport", "dst", "dport", "stream", "next")

    def __init__(self, ssrc: int, src: int, sport: int, dst: int, dport: int, stream: RtpStream,
                 next: _Route | None):
        self.ssrc = ssrc
        self.src = src
        self.sport = sport
        self.dst = dst
        self.dport = dport
        self.stream = stream
        self.next = next


def analyze_pcap(reader: CaptureReader, analyzer: Analyzer) -> bool:
    """Feed every record of the capture to `analyzer`; False, reading nothing, unless it is classic
    little-endian pcap of Ethernet frames (the others go frame by frame through `reader.frames()`)."""
    layout = reader.pcap_layout
    if layout is None or layout[0] != "<" or layout[1] != LINKTYPE_ETHERNET:
        return False
    units = layout[2]
    routes: list[_Route | None] = [None] * _BUCKETS
    buf, pos = reader.pcap_start()
    frames = 0
    while True:
        end = len(buf)
        while pos + _RECORD_LEN <= end:
            caplen = _u32_le(buf, pos + 8)
            start = pos + _RECORD_LEN
            stop = start + caplen
            if stop > end or caplen > MAX_FRAME_LEN:
                break
            time_s = _u32_le(buf, pos) + _u32_le(buf, pos + 4) / units
            pos = stop
            frames += 1
            _add_ethernet(analyzer, routes, time_s, buf, start, stop)
        following = reader.pcap_refill(buf, pos, frames)
        if following is None:
            return True
        buf, pos = following, 0


def analyze_frames(reader: CaptureReader, analyzer: Analyzer) -> None:
    """Feed every frame of `reader.frames()` to `analyzer`, Ethernet frames of known RTP streams by the shortcut."""
    routes: list[_Route | None] = [None] * _BUCKETS
    for time_s, linktype, frame in reader.frames():
        if linktype == LINKTYPE_ETHERNET:
            _add_ethernet(analyzer, routes, time_s, frame, 0, len(frame))
        else:
            analyzer.add_frame(time_s, linktype, frame)


def _add_ethernet(analyzer: Analyzer, routes: list[_Route | None], time_s: float, buf: bytes, start: int,
                  stop: int) -> None:
    """The Ethernet frame `buf[start:stop]`: by the shortcut if it belongs to a routed stream, else through
    `add_frame`, after which its flow is routed if it now leads to a confirmed stream."""
    if not _add_known_rtp(analyzer, routes, time_s, buf, start, stop):
        analyzer.add_frame(time_s, LINKTYPE_ETHERNET, buf[start:stop])  # (a whole frame's slice is not a copy)
        _learn_route(analyzer, routes, buf, start, stop)


def _add_known_rtp(analyzer: Analyzer, routes: list[_Route | None], time_s: float, buf: bytes, start: int,
                   stop: int) -> bool:
    """What `add_frame` does with an RTP packet of a known stream in Ethernet/IPv4/UDP (the same tests as
    `decode.udp_datagram`'s first branch and `add_frame`'s), reading `buf[start:stop]` in place; False, having
    done nothing, for any other frame."""
    if stop - start < _RTP_AT or _u16(buf, start + 12) != 0x0800 or buf[start + 14] != 0x45 or buf[start + 23] != 17:
        return False
    ip_len, udp_len = _u16(buf, start + 16), _u16(buf, start + 38)
    rtp, end = start + _RTP_AT, start + 34 + udp_len
    if _u16(buf, start + 20) & 0x3FFF or not 8 <= udp_len <= ip_len - 20 or ip_len + 14 > stop - start or end - rtp < 12:
        return False
    first, second = buf[rtp], buf[rtp + 1]
    if not 128 <= first <= 191 or 192 <= second <= 223:
        return False
    route = _find(routes, _u32(buf, rtp + 8), _u32(buf, start + 26), _u16(buf, start + 34), _u32(buf, start + 30),
                  _u16(buf, start + 36))
    if route is None:
        return False
    analyzer.packets_read += 1
    analyzer.udp_datagrams += 1
    size = end - rtp - 12 if not first & 0x3F else payload_bytes(buf, rtp, end)
    if size < 0:
        analyzer.malformed_rtp += 1
        return True
    route.stream.add(time_s, second > 127, second & 0x7F, _u16(buf, rtp + 2), _u32(buf, rtp + 4), size,
                     first & 0x20 != 0)
    return True


def _learn_route(analyzer: Analyzer, routes: list[_Route | None], buf: bytes, start: int, stop: int) -> None:
    """After `add_frame`: route the frame's flow from now on if it is Ethernet/IPv4/UDP to a confirmed stream.
    Only confirmed ones: the analyzer never drops those, so the stream a flow maps to can no longer change."""
    if stop - start < _RTP_AT + 12 or _u16(buf, start + 12) != 0x0800 or buf[start + 14] != 0x45:
        return
    ssrc, src, dst = _u32(buf, start + _RTP_AT + 8), _u32(buf, start + 26), _u32(buf, start + 30)
    sport, dport = _u16(buf, start + 34), _u16(buf, start + 36)
    if _find(routes, ssrc, src, sport, dst, dport) is not None:
        return  # the frame was not RTP (or not plain IPv4/UDP) on a flow already routed
    stream = analyzer.streams.get((buf[start + 26 : start + 30], sport, buf[start + 30 : start + 34], dport, 0, ssrc))
    if stream is not None and stream.confirmed:
        bucket = ssrc & (_BUCKETS - 1)
        routes[bucket] = _Route(ssrc, src, sport, dst, dport, stream, routes[bucket])


def _find(routes: list[_Route | None], ssrc: int, src: int, sport: int, dst: int, dport: int) -> _Route | None:
    route = routes[ssrc & (_BUCKETS - 1)]
    while route is not None and not (route.ssrc == ssrc and route.src == src and route.sport == sport
                                     and route.dst == dst and route.dport == dport):
        route = route.next
    return route


def _u16(buf: bytes, at: int) -> int:
    return buf[at] << 8 | buf[at + 1]


def _u32(buf: bytes, at: int) -> int:
    return buf[at] << 24 | buf[at + 1] << 16 | buf[at + 2] << 8 | buf[at + 3]


def _u32_le(buf: bytes, at: int) -> int:
    return buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16 | buf[at + 3] << 24

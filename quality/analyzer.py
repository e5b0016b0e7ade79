"""The call-quality engine: UDP datagrams in, RTP streams with scores out.

It is fed the same way from a capture file (`capture.py`) and from live capture (the agent): one datagram at a
time, in arrival order, with the header bytes only. It demultiplexes per RFC 7983 (STUN, DTLS, TURN ChannelData,
RTP, RTCP on one port per RFC 5761), reads SIP/SDP to bind dynamic payload types, follows streams by 5-tuple and
SSRC, and applies far-end RTCP reports to the streams they describe.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Final

from homeshore.quality import demux, repair, rtcp, sip
from homeshore.quality.decode import format_address, tcp_segment, udp_datagram
from homeshore.quality.jitterbuffer import parse_spec
from homeshore.quality.results import FarEndReport, StreamResult
from homeshore.quality.rtp import rtp_header_bytes
from homeshore.quality.sdp import SdpSession
from homeshore.quality.sequence import MAX_DROPOUT
from homeshore.quality.stream import RtpStream

WINDOW_S: Final = 10.0
MAX_CANDIDATES: Final = 4096  # unconfirmed RTP-like flows kept at once; encrypted noise must not grow memory
MAX_SIP_TCP_FLOWS: Final = 256  # SIP-over-TCP connections followed at once (a softphone has one or two)
MAX_SIP_TCP_BUFFER: Final = 65536  # bytes of an incomplete SIP message kept per connection
_RTP_HEADER = struct.Struct("!BBHII")
POOR_MOS: Final = 3.6  # below this a call is poor (ITU-T G.107 Annex B: R 70, "some users dissatisfied")


class _FarEnd:
    """Accumulates RTCP receiver reports about one SSRC (RFC 3550 §6.4)."""

    __slots__ = ("reports", "fraction_lost", "cumulative_lost", "jitter_ts", "rtt_sum_ms", "rtt_count")

    def __init__(self):
        self.reports = 0
        self.fraction_lost = 0.0
        self.cumulative_lost = 0
        self.jitter_ts = 0
        self.rtt_sum_ms = 0.0
        self.rtt_count = 0

    def report(self, clock_hz: int | None) -> FarEndReport:
        return FarEndReport(
            reports=self.reports,
            fraction_lost_pct=round(100.0 * self.fraction_lost, 2),
            cumulative_lost=self.cumulative_lost,
            jitter_ms=1000.0 * self.jitter_ts / clock_hz if clock_hz else None,
            rtt_ms=self.rtt_sum_ms / self.rtt_count if self.rtt_count else None,
        )


class Analyzer:
    def __init__(self, *, window_s: float = WINDOW_S, salt: bytes | None = None, on_window=None,
                 jitter_buffer: str = "adaptive", local_addresses: frozenset[bytes] = frozenset()):
        self.jitter_buffer_ms = parse_spec(jitter_buffer)  # None: adaptive. A bad value fails here, once.
        # Live capture on the machine itself: RTCP it sends carries its own view (and no usable round trip: LSR/DLSR
        # give an RTT only where the report arrives), so only received reports describe the far end.
        self.local_addresses = local_addresses
        self.window_s = window_s
        self.salt = salt if salt is not None else os.urandom(16)  # Call-IDs are hashed, never kept
        self.on_window = on_window
        self.streams: dict[tuple, RtpStream] = {}
        self._by_ssrc: dict[int, list[RtpStream]] = {}
        self._bindings: dict[tuple[bytes, int], dict] = {}  # (address, port) from SDP -> rtpmap
        self._fmtp: dict[tuple[bytes, int], dict[int, str]] = {}  # (address, port) from SDP -> a=fmtp by pt
        self._repair_ssrcs: dict[int, str] = {}  # SSRC -> rtx or fec, from SDP a=ssrc-group (repair.py)
        self._plain_rtp: dict[tuple[bytes, int], bool] = {}  # (address, port) from SDP -> RTP/AVP(F), not SRTP
        self._far_end: dict[int, _FarEnd] = {}
        self.packets_read = 0
        self.udp_datagrams = 0
        self.undecoded = 0
        self.rtcp_packets = 0
        self.malformed_rtcp = 0
        self.stun_packets = 0
        self.dtls_packets = 0
        self.sip_messages = 0
        self.malformed_rtp = 0
        # For grouping streams into calls (live capture): SDP media endpoint -> salted Call-ID hash, the calls a
        # SIP BYE ended, and the SSRCs an RTCP BYE said goodbye for. Consumers take what they need and clear.
        self.call_of_endpoint: dict[tuple[bytes, int], str] = {}
        self.ended_calls: set[str] = set()
        self.bye_ssrcs: set[int] = set()
        self._sip_tcp: dict[tuple, tuple[int, bytes]] = {}  # connection -> (next sequence number, unparsed bytes)
        self._ice_flows: set[tuple] = set()  # 5-tuples (either way) that carried STUN or DTLS: WebRTC media paths

    # --- input ---------------------------------------------------------------------------------------------
    def add_frame(self, time_s: float, linktype: int, frame: bytes) -> None:
        self.packets_read += 1
        datagram = udp_datagram(linktype, frame)
        if datagram is None:
            self._add_other(time_s, linktype, frame)
            return
        src, sport, dst, dport, start, end = datagram
        if end - start >= 12 and 128 <= frame[start] <= 191 and not 192 <= frame[start + 1] <= 223:
            # Most datagrams of a call belong to a stream already known: hand them over without copying.
            first, second, seq, ts, ssrc = _RTP_HEADER.unpack_from(frame, start)
            stream = self.streams.get((src, sport, dst, dport, 0, ssrc))
            if stream is not None:
                self.udp_datagrams += 1
                size = end - start - 12 if not first & 0x3F else payload_bytes(frame, start, end)
                if size < 0:
                    self.malformed_rtp += 1
                    return
                stream.add(time_s, second > 127, second & 0x7F, seq, ts, size, first & 0x20 != 0)
                return
        self.add_udp(time_s, src, sport, dst, dport, frame[start:end])

    def add_snapped_frame(self, time_s: float, linktype: int, frame: bytes) -> None:
        """A frame from live capture, where the kernel kept the headers only (snaplen.py): the RTP payload size
        comes from the UDP length, since the payload itself never reached this process."""
        self.packets_read += 1
        datagram = udp_datagram(linktype, frame, snapped=True)
        if datagram is None:
            self._add_other(time_s, linktype, frame)  # SIP over TCP is kept whole by the kernel filter
            return
        src, sport, dst, dport, start, end = datagram
        self.add_udp(time_s, src, sport, dst, dport, frame[start:end], wire_bytes=end - start)

    def add_udp(self, time_s: float, src: bytes, sport: int, dst: bytes, dport: int, payload: bytes, channel: int = 0,
                wire_bytes: int | None = None) -> None:
        """One UDP payload. `wire_bytes`: the datagram's payload size on the wire when `payload` holds only its
        headers (live capture); None when `payload` is the whole datagram."""
        self.udp_datagrams += 1
        if len(payload) >= 12 and 128 <= payload[0] <= 191 and not 192 <= payload[1] <= 223:
            self._add_rtp(time_s, (src, sport, dst, dport, channel), payload, wire_bytes)
            return
        kind = demux.classify(payload)
        if kind == demux.RTCP:
            self._add_rtcp(time_s, payload, sent_here=src in self.local_addresses)
        elif kind == demux.STUN:
            self.stun_packets += 1
            self._note_ice_flow(src, sport, dst, dport)
        elif kind == demux.DTLS:
            self.dtls_packets += 1
            self._note_ice_flow(src, sport, dst, dport)
        elif sip.looks_like_sip(payload):
            self._add_sip(time_s, payload)
        elif kind == demux.TURN_CHANNEL and channel == 0:
            inner = demux.turn_channel_payload(payload, wire_bytes)
            if inner is not None:
                self.udp_datagrams -= 1  # the same datagram, counted once
                channel, data, length = inner
                self.add_udp(time_s, src, sport, dst, dport, data, channel=channel,
                             wire_bytes=None if wire_bytes is None else length)

    def _add_other(self, time_s: float, linktype: int, frame: bytes) -> None:
        """Not UDP: SIP over TCP is read (RFC 3261 §18.3: messages framed by Content-Length); the rest counted."""
        self.undecoded += 1  # not UDP (counted so whatever it carries)
        segment = tcp_segment(linktype, frame)
        if segment is None:
            return
        src, sport, dst, dport, sequence, start, end = segment
        if start == end:
            return
        connection = (src, sport, dst, dport)
        state = self._sip_tcp.get(connection)
        data = frame[start:end]
        if state is not None and state[0] != sequence:
            if (sequence - state[0]) & 0xFFFFFFFF >= 0x80000000:
                return  # a retransmission of what was read already
            state = None  # a gap (a segment the capture missed): resynchronise on the next start line
        if state is None:
            if not sip.may_start_message(data):
                return
            if len(self._sip_tcp) >= MAX_SIP_TCP_FLOWS:
                del self._sip_tcp[next(iter(self._sip_tcp))]
            buffered = data
        else:
            buffered = state[1] + data
        messages, rest = sip.split_stream(buffered)
        for message in messages:
            self._add_sip(time_s, message)
        if len(rest) > MAX_SIP_TCP_BUFFER or (rest and not sip.may_start_message(rest)):
            self._sip_tcp.pop(connection, None)  # not SIP after all, or a message too large to be one
        else:
            self._sip_tcp[connection] = ((sequence + len(data)) & 0xFFFFFFFF, rest)

    def _add_rtp(self, time_s: float, flow: tuple, payload: bytes, wire_bytes: int | None = None) -> None:
        first, second, seq, ts, ssrc = _RTP_HEADER.unpack_from(payload)
        if wire_bytes is None:
            size = payload_bytes(payload, 0, len(payload))
        else:
            header = rtp_header_bytes(payload)
            size = -1 if header is None else wire_bytes - header  # padding is not known without the payload
        if size < 0:
            self.malformed_rtp += 1  # cut inside its CSRC list or extension, or padding longer than the packet
            return
        key = (*flow, ssrc)
        stream = self.streams.get(key)
        if stream is None:
            stream = self._follow_port_change(time_s, flow, ssrc, seq) or self._new_stream(time_s, flow, ssrc)
            self.streams[key] = stream
        stream.add(time_s, bool(second & 0x80), second & 0x7F, seq, ts, size, first & 0x20 != 0)

    def _note_ice_flow(self, src: bytes, sport: int, dst: bytes, dport: int) -> None:
        if len(self._ice_flows) >= MAX_CANDIDATES:
            self._ice_flows.clear()  # bounded: a capture full of STUN scans must not grow memory
        self._ice_flows.add((src, sport, dst, dport))

    def _new_stream(self, time_s: float, flow: tuple, ssrc: int) -> RtpStream:
        src, sport, dst, dport, _channel = flow
        signalled = self._bindings.get((dst, dport)) or self._bindings.get((src, sport))
        stream = RtpStream(ssrc, flow, time_s, signalled, self.window_s, self.on_window, self.jitter_buffer_ms)
        stream.fmtp = self._fmtp.get((dst, dport)) or self._fmtp.get((src, sport)) or {}
        stream.repair_label = self._repair_ssrcs.get(ssrc)
        stream.plain_rtp = self._plain_rtp.get((dst, dport), self._plain_rtp.get((src, sport)))
        stream.webrtc_flow = (src, sport, dst, dport) in self._ice_flows or (dst, dport, src, sport) in self._ice_flows
        if len(self.streams) > MAX_CANDIDATES:
            self._forget_unconfirmed()
        self._by_ssrc.setdefault(ssrc, []).append(stream)
        far_end = self._far_end.get(ssrc)
        if far_end is not None:
            stream.far_end = far_end.report(None)
        return stream

    def _follow_port_change(self, time_s: float, flow: tuple, ssrc: int, seq: int) -> RtpStream | None:
        """A stream whose port changed (NAT rebinding, re-INVITE) continues by SSRC: same addresses, sequence goes on."""
        for stream in self._by_ssrc.get(ssrc, ()):
            old = stream.flow
            if old[0] == flow[0] and old[2] == flow[2] and old[4] == flow[4] and stream.confirmed and stream.last_s <= time_s:
                tracker = stream.sequence
                pending = stream.pending
                last_seq = tracker.max_ext & 0xFFFF if tracker else pending[-1][3] if pending else -1
                if 0 < (seq - last_seq) & 0xFFFF < MAX_DROPOUT:
                    change = f"port changed: {_endpoint(old[0], old[1])} -> {_endpoint(flow[0], flow[1])}" if old[1] != flow[1] \
                        else f"port changed: {_endpoint(old[2], old[3])} -> {_endpoint(flow[2], flow[3])}"
                    stream.problems.append(change)
                    return stream
        return None

    def _forget_unconfirmed(self) -> None:
        for key, stream in list(self.streams.items()):
            if not stream.confirmed:
                del self.streams[key]
                self._by_ssrc[stream.ssrc].remove(stream)

    def _add_rtcp(self, time_s: float, payload: bytes, sent_here: bool = False) -> None:
        compound = rtcp.parse_compound(payload)
        if compound is None:
            self.malformed_rtcp += 1
            return
        self.rtcp_packets += 1
        for packet in compound.packets:
            self.bye_ssrcs.update(packet.bye_ssrcs)
            if sent_here:
                continue
            for block in packet.reports:
                far_end = self._far_end.get(block.ssrc)
                if far_end is None:
                    far_end = self._far_end[block.ssrc] = _FarEnd()
                far_end.reports += 1
                far_end.fraction_lost = block.fraction_lost
                far_end.cumulative_lost = block.cumulative_lost
                far_end.jitter_ts = block.jitter_ts
                rtt = rtcp.rtt_ms(time_s, block.lsr, block.dlsr)
                if rtt is not None:
                    far_end.rtt_sum_ms += rtt
                    far_end.rtt_count += 1
                for stream in self._by_ssrc.get(block.ssrc, ()):
                    stream.far_end = far_end.report(stream.clock_hz)

    def _add_sip(self, time_s: float, payload: bytes) -> None:
        message = sip.parse_sip(payload, self.salt)
        if message is None:
            return
        self.sip_messages += 1
        if message.method == "BYE":
            self.ended_calls.add(message.call_key)
        if message.sdp is None:
            return
        if message.method == "INVITE" and message.status_code is not None and 200 <= message.status_code < 300:
            self._check_fax_switch(time_s, message.call_key, message.sdp)
        for media in message.sdp.media:
            if len(self._repair_ssrcs) >= MAX_CANDIDATES:
                self._repair_ssrcs.clear()  # bounded, as every table SDP can grow
            self._repair_ssrcs.update(repair.repair_ssrcs(media.ssrc_groups))
            if not media.port or media.address is None or "RTP" not in media.protocol.upper():
                continue  # rejected streams, and T.38 (m=image udptl) after a fax re-INVITE
            try:
                address = _address_bytes(media.address)
            except OSError:
                continue
            rtpmap = dict(media.rtpmap)
            fmtp = dict(media.fmtp)
            self._bindings[(address, media.port)] = rtpmap
            self._fmtp[(address, media.port)] = fmtp
            self._plain_rtp[(address, media.port)] = media.protocol.upper() in ("RTP/AVP", "RTP/AVPF")
            self.call_of_endpoint[(address, media.port)] = message.call_key
            if not media.rtcp_mux:
                self._bindings[(address, media.port + 1)] = rtpmap
                self._fmtp[(address, media.port + 1)] = fmtp

    def _check_fax_switch(self, time_s: float, call: str, sdp: SdpSession) -> None:
        """A 2xx answer that accepts T.38 (`m=image <port> udptl t38`) switches the call's audio to fax: its RTP
        streams may stop, and what they skip is no loss. An offer alone (one a 488 may refuse) switches nothing."""
        fax = [media for media in sdp.media if media.kind == "image" and media.port and media.address is not None
               and "udptl" in media.protocol.lower()]
        if not fax:
            return
        endpoints = {endpoint for endpoint, key in self.call_of_endpoint.items() if key == call}
        for media in fax:
            try:
                endpoints.add((_address_bytes(media.address or ""), media.port))
            except OSError:
                continue
        for stream in self.unique_streams():
            src, sport, dst, dport, _channel = stream.flow
            if (src, sport) in endpoints or (dst, dport) in endpoints:
                stream.switch_to_fax(time_s)

    # --- live capture: the clock moves on even when packets stop ---------------------------------------------
    def advance(self, now_s: float) -> None:
        """Close every window that ended before `now_s` (Unix time), so a stream that went quiet still yields
        its 10-second samples on time."""
        for stream in self.unique_streams():
            stream.advance(now_s)

    def unique_streams(self) -> list[RtpStream]:
        """Each stream once (a stream that changed port is reachable under both flows)."""
        return list({id(stream): stream for stream in self.streams.values()}.values())

    def remove(self, stream: RtpStream) -> StreamResult | None:
        """End one stream (idle, or its call ended): its final figures, and it is forgotten, so a daemon that
        runs for weeks keeps only the calls in progress. None for a flow never confirmed as RTP."""
        stream.finish()
        result = self._result(stream) if stream.confirmed and stream.sequence is not None else None
        for key in [key for key, value in self.streams.items() if value is stream]:
            del self.streams[key]
        siblings = self._by_ssrc.get(stream.ssrc, [])
        if stream in siblings:
            siblings.remove(stream)
        if not siblings:
            self._by_ssrc.pop(stream.ssrc, None)
            self._far_end.pop(stream.ssrc, None)
            self.bye_ssrcs.discard(stream.ssrc)
        return result

    def forget_call(self, call_key: str) -> None:
        """A call is over: its SDP endpoints no longer bind new streams to it."""
        self.ended_calls.discard(call_key)
        for endpoint in [e for e, key in self.call_of_endpoint.items() if key == call_key]:
            del self.call_of_endpoint[endpoint]
            self._bindings.pop(endpoint, None)
            self._fmtp.pop(endpoint, None)
            self._plain_rtp.pop(endpoint, None)

    # --- output --------------------------------------------------------------------------------------------
    def finish(self) -> list[StreamResult]:
        results = []
        seen = set()
        for stream in self.streams.values():
            if id(stream) in seen:
                continue
            seen.add(id(stream))
            stream.finish()
            if stream.confirmed and stream.sequence is not None:
                results.append(self._result(stream))
        results.sort(key=lambda r: (r.first_time_s, r.src, r.ssrc))
        return results

    def _result(self, stream: RtpStream) -> StreamResult:
        src, sport, dst, dport, channel = stream.flow
        tracker = stream.sequence
        assert tracker is not None  # only streams with accounted packets get a result
        jitter = stream.jitter
        loss = stream.loss()
        far_end = self._far_end.get(stream.ssrc)
        if far_end is not None:
            stream.far_end = far_end.report(stream.clock_hz)
        problems = list(stream.problems)
        if loss.lost:
            problems.append(f"{loss.lost} lost")
        if tracker.duplicates:
            problems.append(f"{tracker.duplicates} duplicates")
        if tracker.resets:
            problems.append(f"{tracker.resets} sequence resets")
        if stream.timestamp_jumps:
            problems.append(f"{stream.timestamp_jumps} timestamp discontinuities")
        if stream.clock_hz is None and not repair.is_repair(stream.codec):
            problems.append("clock rate unknown: no jitter")
        score = stream.score(loss)
        if score.mos is not None and score.mos < POOR_MOS and loss.discarded > loss.lost:
            # A low MOS on a clean network reads like loss; say that late packets, not lost ones, brought it down.
            problems.append(f"MOS {score.mos:.2f} from jitter-buffer discards: {loss.discarded} late packets "
                            f"({100.0 * loss.discarded / loss.expected:.1f} %)")
        return StreamResult(
            ssrc=stream.ssrc,
            src=_endpoint(src, sport),
            dst=_endpoint(dst, dport),
            via=f"turn-channel 0x{channel:04x}" if channel else "direct",
            codec=stream.codec,
            payload_type=stream.payload_type,
            clock_hz=stream.clock_hz,
            clock_source=stream.clock_source,
            codec_source=stream.codec_source,
            first_time_s=stream.start_s,
            last_time_s=stream.last_s,
            packets=stream.packets,
            duplicates=tracker.duplicates,
            reordered=tracker.reordered,
            resets=tracker.resets,
            event_packets=stream.event_packets,
            comfort_noise_packets=stream.comfort_noise_packets,
            padding_packets=stream.padding_packets,
            loss=loss,
            jitter_min_ms=jitter.min_ms if jitter else None,
            jitter_mean_ms=jitter.mean_ms if jitter else None,
            jitter_max_ms=jitter.max_ms if jitter else None,
            jitter_last_ms=jitter.jitter_ms if jitter and jitter.count else None,
            max_delta_ms=1000.0 * jitter.max_delta_s if jitter and jitter.count else None,
            score=score,
            far_end=stream.far_end,
            problems=tuple(problems),
            windows=tuple(stream.windows),
            codec_mode_kbps=stream.codec_mode_kbps,
            kind=stream.media_kind,
        )


def payload_bytes(packet: bytes, start: int, end: int) -> int:
    """RTP payload bytes after header, CSRCs and extension, padding removed; -1 when the header does not fit.

    In SRTP the padding count is encrypted with the payload and the packet ends with the authentication tag
    (RFC 3711 §3.1), so a "padding" longer than the payload is not a malformed packet: it is left in."""
    header = rtp_header_bytes(packet, start, end)
    if header is None:
        return -1
    size = end - start - header
    if packet[start] & 0x20 and packet[end - 1] <= size:
        size -= packet[end - 1]
    return size


def _address_bytes(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def _endpoint(address: bytes, port: int) -> str:
    text = format_address(address)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"

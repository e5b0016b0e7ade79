"""The candidate's synthetic call over WebRTC: aiohttp handlers and the server's peer (aiortc).

    POST /check/{check_id}/call/offer   {"type": "offer", "sdp": ..., "seconds": 20} -> {"type": "answer", "sdp"}
    POST /check/{check_id}/call/log     {"seq": [...], "arrival_ms": [...]}          -> the call's figures

The page (server/call_script.py) opens one data channel, unordered and never retransmitted (ordered: false,
maxRetransmits: 0: a late or lost packet stays lost, as in a call), and sends a G.711-sized packet every 20 ms
(server/call_figures.py); the server sends the same stream down once the channel opens. The upstream is scored
here as it arrives, the downstream from the arrival log the browser posts when the call ends, both by the same
function (call_figures.score). Only the server's own send times enter the downstream transits; the browser
gives only its arrivals.

No STUN or TURN server: the server's peer is configured with none (aiortc would otherwise ask Google's public
STUN server) and offers only host candidates, its own addresses; the page asks for none either. A home whose
network lets UDP out reaches a server with a public address directly. There is no TURN relay of ours: a network
that blocks UDP (or only allows TCP through a proxy) gets no candidate pair, and after connect_timeout_s the
call is `blocked`, with the reason that calls would not get through from there; that is the finding, since the
contact centre's softphones would be blocked the same way. Behind NAT on the server's side, the server needs
an address the homes can reach, as it does for the UDP reflector.

Browsers' mDNS candidates (`UUID.local`) are dropped from the offer (server/offer_candidates.py): no server
on the internet can resolve them, and aioice would fail the call before the browser's checks arrive.

Which checks may call is the injected is_active(check_id); results are kept (bounded) for result(check_id).
Limits (server/webrtc_limits.py): calls in progress per source and in all, offer and log sizes, the call's
length; every refusal is answered with a one-line reason and counted, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from homeshore.server import call_figures
from homeshore.server.call_figures import PACKET_S, PACKETS_PER_S, BadLog, CallFigures
from homeshore.server.download_count import measured_kind
from homeshore.server.offer_candidates import without_mdns_candidates
from homeshore.server.speed_protocol import source_key
from homeshore.server.webrtc_limits import WebrtcCounters, WebrtcLimits

log = logging.getLogger(__name__)
DEFAULT_SECONDS = 20
BLOCKED_REASON = ("no UDP path to the server: no ICE candidate pair and DTLS came up within {:g} s, so calls "
                  "would not get through from this network (UDP blocked? there is no TURN relay to fall back on)")


class _Refusal(Exception):
    def __init__(self, status: int, counter: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.counter = status, counter


@dataclass
class _Call:
    source: str
    seconds: int
    pc: RTCPeerConnection
    answered_s: float
    connect_s: float | None = None
    up: list[tuple[int, int]] = field(default_factory=list)  # (seq, transit ns) as packets arrive
    down_sent_ms: list[float | None] = field(default_factory=list)
    tasks: list[asyncio.Task] = field(default_factory=list)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def packets(self) -> int:
        return self.seconds * PACKETS_PER_S


class WebrtcCall:
    """The call endpoints (routes()) for the checks is_active() accepts; result() gives a check's figures."""

    def __init__(self, is_active: Callable[[str], bool], limits: WebrtcLimits = WebrtcLimits(), *,
                 loopback_is_proxy: bool = False) -> None:
        """loopback_is_proxy: offers from loopback come through a reverse proxy (`homeshore serve`), which every
        candidate shares, so only the total limits them (the per-address limit is the proxy's to apply)."""
        self.is_active = is_active
        self.limits = limits
        self.loopback_is_proxy = loopback_is_proxy
        self._counts = dict.fromkeys(WebrtcCounters.__dataclass_fields__, 0)
        self._calls: dict[str, _Call] = {}  # in progress
        self._results: OrderedDict[str, CallFigures] = OrderedDict()
        self._finished = asyncio.Condition()

    @property
    def counters(self) -> WebrtcCounters:
        return WebrtcCounters(**self._counts)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/check/{check_id}/call/offer", self.offer),
                web.post("/check/{check_id}/call/log", self.log)]

    async def result(self, check_id: str, wait_s: float = 0.0) -> CallFigures | None:
        """The figures of the check's last call; None while none has ended (waiting up to wait_s for one)."""
        async with self._finished:
            try:
                await asyncio.wait_for(self._finished.wait_for(lambda: check_id in self._results), wait_s)
            except TimeoutError:
                pass
            return self._results.get(check_id)

    async def stop(self) -> WebrtcCounters:
        """End every call in progress (counted abandoned) and return the final counters."""
        for check_id in list(self._calls):
            await self._end(check_id, None)
        return self.counters

    # --- signalling ------------------------------------------------------------------------------------------

    async def offer(self, request: web.Request) -> web.Response:
        try:
            check_id = self._active(request)
            sdp, seconds = self._offer_fields(await _json_body(request, self.limits.max_offer_bytes))
            # From here to the call's registration nothing awaits: concurrent offers cannot both pass the limits.
            if check_id in self._calls:
                raise _Refusal(409, "busy", "a call for this check is already in progress")
            source = source_key(request.remote or "")
            proxied = self.loopback_is_proxy and measured_kind(request.remote or "") == "proxy"
            if not proxied and sum(call.source == source for call in self._calls.values()) >= self.limits.peers_per_source:
                raise _Refusal(429, "refused", "too many calls in progress from your address")
            if len(self._calls) >= self.limits.peers_total:
                raise _Refusal(503, "refused", "too many calls in progress, try again in a minute")
            answer = await self._answer(check_id, source, sdp, seconds)
        except _Refusal as refusal:
            self._count(refusal.counter)
            return web.Response(status=refusal.status, text=f"{refusal}\n")
        self._count("answered")
        return web.json_response({"type": "answer", "sdp": answer})

    async def log(self, request: web.Request) -> web.Response:
        try:
            check_id = self._active(request)
            call = self._calls.get(check_id)
            if call is None or call.connect_s is None:
                raise _Refusal(404, "not_found", "no call of this check to log")
            document = await _json_body(request, self.limits.max_log_bytes)
            try:
                arrivals = call_figures.parse_log(document, call.packets)
            except BadLog as error:
                raise _Refusal(400, "malformed", str(error)) from None
        except _Refusal as refusal:
            self._count(refusal.counter)
            return web.Response(status=refusal.status, text=f"{refusal}\n")
        figures = await self._finish(check_id, call, call_figures.transits_ns(arrivals, call.down_sent_ms))
        if figures is None:
            return web.Response(status=500, text="the call could not be scored\n")
        self._count("logged")
        return web.json_response(_summary(figures))

    def _active(self, request: web.Request) -> str:
        check_id = request.match_info["check_id"]
        if not self.is_active(check_id):
            raise _Refusal(404, "not_found", "no such check in progress")
        return check_id

    def _offer_fields(self, document: object) -> tuple[str, int]:
        if not isinstance(document, dict) or document.get("type") != "offer" or \
                not isinstance(document.get("sdp"), str):
            raise _Refusal(400, "malformed", 'an offer is {"type": "offer", "sdp": "..."}')
        seconds = document.get("seconds", DEFAULT_SECONDS)
        if type(seconds) is not int or not 1 <= seconds <= self.limits.max_seconds:
            raise _Refusal(400, "malformed", f'"seconds" is a whole number from 1 to {self.limits.max_seconds}')
        return document["sdp"], seconds

    async def _answer(self, check_id: str, source: str, sdp: str, seconds: int) -> str:
        # iceServers=[]: none at all (None would make aiortc ask stun.l.google.com): host candidates only.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        call = self._calls[check_id] = _Call(source, seconds, pc, time.monotonic())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=without_mdns_candidates(sdp), type="offer"))
            if pc.sctp is None:
                raise _Refusal(400, "malformed", "the offer has no data channel (m=application)")
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as error:  # aiortc's SDP parser raises whatever the text trips it on
            self._calls.pop(check_id, None)
            await pc.close()
            if isinstance(error, _Refusal):
                raise
            log.debug("offer refused: %r", error)
            raise _Refusal(400, "malformed", "the offer's SDP could not be read") from None
        call.answered_s = time.monotonic()
        pc.on("datachannel", lambda channel: self._channel(check_id, call, channel))
        pc.on("connectionstatechange", lambda: self._state_changed(check_id, call))
        self._spawn(call, self._watch(check_id, call))
        return pc.localDescription.sdp

    def _state_changed(self, check_id: str, call: _Call) -> None:
        """ICE gave up before the bound (every candidate pair failed): blocked now rather than at the bound."""
        if call.pc.connectionState == "failed" and call.connect_s is None:
            self._spawn(call, self._end(check_id, self._blocked(call)))

    # --- the call --------------------------------------------------------------------------------------------

    def _channel(self, check_id: str, call: _Call, channel: RTCDataChannel) -> None:
        if call.connect_s is not None or channel.ordered or channel.maxRetransmits != 0:
            self._count("bad_packets")  # a second channel, or one that would retransmit: not a call's
            channel.close()
            return
        call.connect_s = time.monotonic() - call.answered_s
        call.down_sent_ms = [None] * call.packets
        channel.on("message", lambda data: self._arrived(call, data, time.monotonic_ns()))
        call.opened.set()
        self._spawn(call, self._send(call, channel))

    def _arrived(self, call: _Call, data: object, arrival_ns: int) -> None:
        packet = call_figures.unpack(data)
        if packet is None or packet[0] >= call.packets or len(call.up) >= 2 * call.packets:
            self._count("bad_packets")
            return
        seq, sent_ms = packet
        call.up.append((seq, arrival_ns - round(sent_ms * 1e6)))

    async def _send(self, call: _Call, channel: RTCDataChannel) -> None:
        """Packet k at start + k * 20 ms on the monotonic clock, its send time the clock read just before."""
        start_s = time.monotonic()
        for seq in range(call.packets):
            delay_s = start_s + seq * PACKET_S - time.monotonic()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            if channel.readyState != "open":
                return
            sent_ms = time.monotonic_ns() / 1e6
            call.down_sent_ms[seq] = sent_ms
            channel.send(call_figures.pack(seq, sent_ms))

    async def _watch(self, check_id: str, call: _Call) -> None:
        """Blocked when the channel does not open in time; upstream only when no log comes after the call."""
        try:
            await asyncio.wait_for(call.opened.wait(), self.limits.connect_timeout_s)
        except TimeoutError:
            await self._end(check_id, self._blocked(call))
            return
        await asyncio.sleep(call.seconds + self.limits.log_wait_s)
        await self._finish(check_id, call, None)

    async def _finish(self, check_id: str, call: _Call, downstream: list[tuple[int, int]] | None) -> CallFigures | None:
        """Score the call (downstream None: no log came), end it and keep its figures; None if it could not be
        scored, which is a defect of ours, not the candidate's: counted and logged, never a traceback out."""
        try:
            figures = call_figures.score(call.seconds, call.connect_s or 0.0, list(call.up), downstream)
        except Exception:
            self._count("errors")
            log.debug("a call not scored", exc_info=True)
            figures = None
        await self._end(check_id, figures)
        return figures

    def _blocked(self, call: _Call) -> CallFigures:
        return call_figures.blocked(call.seconds, time.monotonic() - call.answered_s,
                                    BLOCKED_REASON.format(self.limits.connect_timeout_s))

    async def _end(self, check_id: str, figures: CallFigures | None) -> None:
        """Close the check's call (once) and keep its figures; None: stopped with the server."""
        call = self._calls.pop(check_id, None)
        if call is None:
            return
        self._count("abandoned" if figures is None else "blocked" if figures.blocked else "completed")
        current = asyncio.current_task()
        for task in call.tasks:
            if task is not current:
                task.cancel()
        await call.pc.close()
        if figures is not None:
            async with self._finished:
                self._results.pop(check_id, None)
                self._results[check_id] = figures
                while len(self._results) > self.limits.results_max:
                    self._results.popitem(last=False)
                self._finished.notify_all()

    def _spawn(self, call: _Call, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        call.tasks.append(task)
        task.add_done_callback(self._failed)

    def _failed(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._count("errors")
            log.debug("call task failed", exc_info=task.exception())

    def _count(self, name: str) -> None:
        self._counts[name] += 1


async def _json_body(request: web.Request, limit: int) -> object:
    if request.content_length is not None and request.content_length > limit:
        raise _Refusal(413, "too_large", f"the body is over {limit} bytes")
    body = bytearray()
    while len(body) <= limit:  # read(n) gives what has arrived, up to n: a body in several segments needs more
        chunk = await request.content.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        raise _Refusal(413, "too_large", f"the body is over {limit} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _Refusal(400, "malformed", "the body is not JSON") from None


def _summary(figures: CallFigures) -> dict:
    """What the page is told back: per leg packets, loss %, jitter ms and MOS (the stored figures are fuller)."""
    legs = {}
    for leg in (figures.upstream, figures.downstream):
        if leg is not None:
            legs[leg.direction] = {"packets": leg.packets, "loss_pct": leg.loss.loss_pct,
                                   "jitter_ms": leg.jitter_ms, "mos": leg.mos}
    return {"rtt_ms": figures.rtt_ms, **legs}

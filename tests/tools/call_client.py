"""A scripted candidate for the browser call (aiortc, no browser): what server/call_script.py's page does.

    outcome = await scripted_call(session, "http://10.77.0.1:8080/check/abc", seconds=2, skip_up={5})

One unordered, never retransmitted data channel; a call packet every 20 ms for `seconds` (sequence numbers in
skip_up are never sent: the upstream loss a test expects), each arrival logged on the monotonic clock (those in
skip_down left out of the log: the downstream loss), the log posted, the server's reply returned. Used by
tests/server/test_webrtc_call.py and bench/serve_load.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from homeshore.server import call_figures
from homeshore.server.call_figures import PACKET_S, PACKETS_PER_S

CONNECT_TIMEOUT_S = 10.0


@dataclass
class ScriptedCall:
    status: int  # of the log's reply (or of the offer's, when it was refused)
    reply: object  # its JSON, or its text
    sent: int = 0
    received: list[tuple[int, float]] | None = None  # (seq, arrival ms) per packet received, in order


async def scripted_call(session: aiohttp.ClientSession, check_url: str, *, seconds: int = 2,
                        skip_up: Collection[int] = (), skip_down: Collection[int] = (),
                        tail_s: float = 1.0) -> ScriptedCall:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        channel = pc.createDataChannel("homeshore-call", ordered=False, maxRetransmits=0)
        received: list[tuple[int, float]] = []
        opened = asyncio.Event()
        channel.on("open", opened.set)

        @channel.on("message")
        def arrived(data) -> None:
            arrival_ms = time.monotonic_ns() / 1e6
            packet = call_figures.unpack(data)
            if packet is not None:
                received.append((packet[0], arrival_ms))

        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers its candidates here
        offer = {"type": "offer", "sdp": pc.localDescription.sdp, "seconds": seconds}
        async with session.post(f"{check_url}/call/offer", json=offer) as response:
            if response.status != 200:
                return ScriptedCall(response.status, await response.text())
            answer = await response.json()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        await asyncio.wait_for(opened.wait(), CONNECT_TIMEOUT_S)
        start_s, sent = time.monotonic(), 0
        for seq in range(seconds * PACKETS_PER_S):
            delay_s = start_s + seq * PACKET_S - time.monotonic()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            if seq not in skip_up:
                channel.send(call_figures.pack(seq, time.monotonic_ns() / 1e6))
                sent += 1
        await asyncio.sleep(tail_s)  # the server's last packets, on its own schedule (the page waits 1 s too)
        logged = [(seq, ms) for seq, ms in received if seq not in skip_down]
        document = {"seq": [seq for seq, _ in logged], "arrival_ms": [ms for _, ms in logged]}
        async with session.post(f"{check_url}/call/log", json=document) as response:
            reply = await response.json() if response.status == 200 else await response.text()
            return ScriptedCall(response.status, reply, sent, received)
    finally:
        await pc.close()

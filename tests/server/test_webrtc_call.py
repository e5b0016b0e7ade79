"""The browser call's server (server/webrtc_call.py) through aiohttp's test client, its peer reached by a scripted
aiortc candidate (tests/tools/call_client.py) on this machine's own addresses: a call scored by the engine with
the loss the candidate made (packets it never sent, arrivals it left out of its log, so the expected figures are
exact), a call that never connects reported blocked, and every malformed, oversized or refused request answered
with one line and counted."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import skip_or_fail

try:
    import aiohttp
    from aiohttp.test_utils import TestClient, TestServer
    from aiortc import RTCConfiguration, RTCPeerConnection

    from homeshore.server.call_figures import BadLog, parse_log
    from homeshore.server.webrtc_call import WebrtcCall
    from homeshore.server.webrtc_limits import WebrtcCounters, WebrtcLimits
    from tests.tools.call_client import scripted_call
except ImportError:  # pragma: no cover - the server extra is part of the dev install
    aiohttp = None

ACTIVE = {"chk-1", "chk-2", "chk-3"}


@pytest.fixture(autouse=True)
def _server_extra():
    if aiohttp is None:
        skip_or_fail("aiohttp/aiortc are not installed (pip install 'homeshore[server]')")


def _run(calls: WebrtcCall, body):
    """Run body(client) against the call routes on 127.0.0.1, then stop the calls; (body's result, counters)."""
    async def main():
        app = aiohttp.web.Application()
        app.add_routes(calls.routes())
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            outcome = await body(client)
            return outcome, await calls.stop()
    return asyncio.run(main())


async def _offer_sdp() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("homeshore-call", ordered=False, maxRetransmits=0)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def test_a_scripted_call_is_scored_with_the_loss_it_made_each_way() -> None:
    calls = WebrtcCall(ACTIVE.__contains__)
    skip_up, skip_down = {5, 6, 60}, {10, 70}

    async def body(client):
        url = str(client.make_url("/check/chk-1"))
        async with aiohttp.ClientSession() as session:
            call = await scripted_call(session, url, seconds=2, skip_up=skip_up, skip_down=skip_down)
        return call, await calls.result("chk-1")

    (call, figures), counters = _run(calls, body)
    assert call.status == 200, call.reply
    assert call.sent == 97 and len(call.received) == 100  # loopback-like: nothing lost on the way
    assert (figures.blocked, figures.reason, figures.packets_per_leg) == (False, None, 100)
    up, down = figures.upstream, figures.downstream
    assert (up.packets, up.loss.expected, up.loss.lost) == (97, 100, 3)
    assert sorted(up.loss.loss_runs) == [(1, 1), (2, 1)]  # 5-6 and 60
    assert (down.packets, down.loss.expected, down.loss.lost) == (98, 100, 2)
    assert up.loss.loss_pct == pytest.approx(3.0) and down.loss.loss_pct == pytest.approx(2.0)
    assert 0 < figures.rtt_ms < 100 and 0 < figures.connect_s < 10
    assert up.mos < down.mos < 4.42  # more loss, lower MOS; G.711's ceiling with no loss
    assert call.reply == {"rtt_ms": figures.rtt_ms,
                          "upstream": {"packets": 97, "loss_pct": up.loss.loss_pct, "jitter_ms": up.jitter_ms,
                                       "mos": up.mos},
                          "downstream": {"packets": 98, "loss_pct": down.loss.loss_pct,
                                         "jitter_ms": down.jitter_ms, "mos": down.mos}}
    assert counters == WebrtcCounters(answered=1, logged=1, completed=1)


def test_an_oversized_log_is_refused_and_the_upstream_still_scored() -> None:
    calls = WebrtcCall(ACTIVE.__contains__, WebrtcLimits(max_log_bytes=256, log_wait_s=2.0))

    async def body(client):
        async with aiohttp.ClientSession() as session:
            call = await scripted_call(session, str(client.make_url("/check/chk-3")), seconds=1, skip_up={7})
        return call, await calls.result("chk-3", wait_s=5.0)

    (call, figures), counters = _run(calls, body)
    assert (call.status, call.reply) == (413, "the body is over 256 bytes\n")
    assert figures.reason == "the browser sent no arrival log: downstream not measured"
    assert figures.downstream is None and figures.rtt_ms is None
    assert (figures.upstream.packets, figures.upstream.loss.lost) == (49, 1)
    assert figures.upstream.mos_kind == "listening"  # no round trip without the downstream's transits
    assert counters == WebrtcCounters(answered=1, too_large=1, completed=1)


def test_a_call_that_never_connects_is_blocked_within_the_bound() -> None:
    """The offer is answered, but the candidate's peer never takes the answer: no ICE check ever succeeds."""
    calls = WebrtcCall(ACTIVE.__contains__, WebrtcLimits(connect_timeout_s=1.0))

    async def body(client):
        async with client.post("/check/chk-2/call/offer", json={"type": "offer", "sdp": await _offer_sdp(),
                                                                 "seconds": 20}) as response:
            assert response.status == 200 and (await response.json())["type"] == "answer"
        return await calls.result("chk-2", wait_s=5.0)

    figures, counters = _run(calls, body)
    assert figures.blocked and figures.upstream is None and figures.downstream is None
    assert figures.reason.startswith("no UDP path to the server: no ICE candidate pair and DTLS came up within 1 s")
    assert 1.0 <= figures.connect_s < 3.0
    assert counters == WebrtcCounters(answered=1, blocked=1)


def test_bad_signalling_gets_one_line_and_is_counted() -> None:
    limits = WebrtcLimits(max_offer_bytes=4096, max_log_bytes=256)
    calls = WebrtcCall(ACTIVE.__contains__, limits)

    async def body(client):
        sdp = await _offer_sdp()
        audio = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        audio.addTransceiver("audio")
        await audio.setLocalDescription(await audio.createOffer())
        audio_sdp = audio.localDescription.sdp
        await audio.close()
        cases = [
            ("/check/nope/call/offer", b'{"type": "offer", "sdp": ""}'),
            ("/check/chk-1/call/offer", b"{not json"),
            ("/check/chk-1/call/offer", b"\xff\xfe"),
            ("/check/chk-1/call/offer", json.dumps({"type": "answer", "sdp": sdp}).encode()),
            ("/check/chk-1/call/offer", json.dumps({"type": "offer", "sdp": sdp, "seconds": 31}).encode()),
            ("/check/chk-1/call/offer", json.dumps({"type": "offer", "sdp": sdp, "seconds": 2.5}).encode()),
            ("/check/chk-1/call/offer", json.dumps({"type": "offer", "sdp": "v=0\r\nm=nonsense\r\n"}).encode()),
            ("/check/chk-1/call/offer", json.dumps({"type": "offer", "sdp": audio_sdp}).encode()),
            ("/check/chk-1/call/offer", json.dumps({"type": "offer", "sdp": sdp + "a=x:" + "y" * 4096}).encode()),
            ("/check/chk-1/call/log", b'{"seq": [], "arrival_ms": []}'),
        ]
        replies = []
        for path, data in cases:
            async with client.post(path, data=data) as response:
                replies.append((response.status, await response.text()))
        return replies

    replies, counters = _run(calls, body)
    assert replies == [
        (404, "no such check in progress\n"),
        (400, "the body is not JSON\n"),
        (400, "the body is not JSON\n"),
        (400, 'an offer is {"type": "offer", "sdp": "..."}\n'),
        (400, '"seconds" is a whole number from 1 to 30\n'),
        (400, '"seconds" is a whole number from 1 to 30\n'),
        (400, "the offer's SDP could not be read\n"),
        (400, "the offer has no data channel (m=application)\n"),
        (413, "the body is over 4096 bytes\n"),
        (404, "no call of this check to log\n"),
    ]
    assert counters == WebrtcCounters(not_found=2, malformed=7, too_large=1)


def test_calls_in_progress_are_limited_per_source_and_in_all() -> None:
    calls = WebrtcCall(ACTIVE.__contains__, WebrtcLimits(peers_per_source=2, peers_total=2))

    async def body(client):
        statuses = []
        for check_id in ("chk-1", "chk-1", "chk-2", "chk-3"):
            offer = {"type": "offer", "sdp": await _offer_sdp()}
            async with client.post(f"/check/{check_id}/call/offer", json=offer) as response:
                statuses.append((response.status, await response.text()))
        return statuses

    statuses, counters = _run(calls, body)
    assert [status for status, _ in statuses] == [200, 409, 200, 429]
    assert statuses[1][1] == "a call for this check is already in progress\n"
    assert statuses[3][1] == "too many calls in progress from your address\n"
    assert counters == WebrtcCounters(answered=2, busy=1, refused=1, abandoned=2)

    calls = WebrtcCall(ACTIVE.__contains__, WebrtcLimits(peers_per_source=2, peers_total=1))
    statuses, counters = _run(calls, body)
    assert [status for status, _ in statuses[:3]] == [200, 409, 503]
    assert statuses[2][1] == "too many calls in progress, try again in a minute\n"


def test_behind_a_reverse_proxy_only_the_total_limits_calls() -> None:
    """`homeshore serve` takes loopback for its reverse proxy, which every candidate shares: three offers from
    127.0.0.1 with room for two per address and three in all are all answered; a fourth is one too many."""
    calls = WebrtcCall({*ACTIVE, "chk-4"}.__contains__, WebrtcLimits(peers_per_source=2, peers_total=3),
                       loopback_is_proxy=True)

    async def body(client):
        statuses = []
        for check_id in ("chk-1", "chk-2", "chk-3", "chk-4"):
            async with client.post(f"/check/{check_id}/call/offer",
                                   json={"type": "offer", "sdp": await _offer_sdp()}) as response:
                statuses.append(response.status)
        return statuses

    statuses, counters = _run(calls, body)
    assert statuses == [200, 200, 200, 503] and (counters.answered, counters.refused) == (3, 1)


@pytest.mark.parametrize("document, packets, message", [
    ([], 10, 'the log is an object with exactly "seq" and "arrival_ms"'),
    ({"seq": [1]}, 10, 'the log is an object with exactly "seq" and "arrival_ms"'),
    ({"seq": [1], "arrival_ms": [1.0], "x": 1}, 10, 'the log is an object with exactly "seq" and "arrival_ms"'),
    ({"seq": [1, 2], "arrival_ms": [1.0]}, 10, '"seq" and "arrival_ms" are arrays of the same length'),
    ({"seq": "1", "arrival_ms": "1"}, 10, '"seq" and "arrival_ms" are arrays of the same length'),
    ({"seq": [0, 1, 2], "arrival_ms": [1, 2, 3]}, 2, "3 arrivals logged, more than the 2 packets sent"),
    ({"seq": [10], "arrival_ms": [1.0]}, 10, '"seq" holds whole numbers from 0 to 9'),
    ({"seq": [-1], "arrival_ms": [1.0]}, 10, '"seq" holds whole numbers from 0 to 9'),
    ({"seq": [1.0], "arrival_ms": [1.0]}, 10, '"seq" holds whole numbers from 0 to 9'),
    ({"seq": [True], "arrival_ms": [1.0]}, 10, '"seq" holds whole numbers from 0 to 9'),
    ({"seq": [1], "arrival_ms": ["1"]}, 10, '"arrival_ms" holds finite numbers'),
    ({"seq": [1], "arrival_ms": [float("inf")]}, 10, '"arrival_ms" holds finite numbers'),
])
def test_a_bad_log_is_refused_with_its_reason(document, packets, message) -> None:
    with pytest.raises(BadLog) as refused:
        parse_log(document, packets)
    assert str(refused.value) == message


def test_a_good_log_gives_its_arrivals_in_order() -> None:
    assert parse_log({"seq": [2, 0, 1], "arrival_ms": [5, 6.5, 7]}, 3) == [(2, 5.0), (0, 6.5), (1, 7.0)]


def test_offers_at_the_same_moment_cannot_pass_the_limits_together() -> None:
    """Admission and registration happen with nothing awaited between them: of three offers in flight at once
    from one address, with room for two, one is refused; of two at once for one check, one is busy."""
    async def post(client, check_id):
        async with client.post(f"/check/{check_id}/call/offer",
                               json={"type": "offer", "sdp": await _offer_sdp()}) as reply:
            return reply.status

    calls = WebrtcCall(ACTIVE.__contains__, WebrtcLimits(peers_per_source=2))
    three, counters = _run(calls, lambda client: asyncio.gather(*(post(client, c) for c in ("chk-1", "chk-2", "chk-3"))))
    assert sorted(three) == [200, 200, 429] and (counters.answered, counters.refused) == (2, 1)
    calls = WebrtcCall(ACTIVE.__contains__)
    two, counters = _run(calls, lambda client: asyncio.gather(post(client, "chk-1"), post(client, "chk-1")))
    assert sorted(two) == [200, 409] and (counters.answered, counters.busy) == (1, 1)


def test_a_body_arriving_in_pieces_is_read_whole() -> None:
    """The page's log (~20 KB) crosses the network in several segments; the offer here is sent in two pieces,
    the second after a pause, as a slow link delivers it (a read that took only what had arrived got half)."""
    calls = WebrtcCall(ACTIVE.__contains__)

    async def body(client):
        document = json.dumps({"type": "offer", "sdp": await _offer_sdp()}).encode()

        async def pieces():
            yield document[:100]
            await asyncio.sleep(0.2)  # the rest arrives later: the shape of the input, nothing waited for
            yield document[100:]
        async with client.post("/check/chk-1/call/offer", data=pieces()) as reply:
            return reply.status, await reply.text()

    (status, text), counters = _run(calls, body)
    assert status == 200, text
    assert counters.answered == 1 and counters.malformed == 0

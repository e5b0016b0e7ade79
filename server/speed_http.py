"""The speed-test HTTP server of `homeshore serve`: what speedtest-cli (v2.1.3) and `homeshore check` talk to.

It speaks the protocol of an Ookla "speedtest mini" server, which speedtest-cli already knows, plus two
homeshore endpoints:

    GET  /homeshore.json                    {"service": "homeshore", "version": 1, "udp_port": N}: tells
                                            `homeshore check --server URL` it reached a homeshore server, and
                                            where the UDP reflector listens
    GET  /                                  a page naming the upload extension (speedtest-cli's set_mini_server)
    GET  /speedtest/latency.txt             "test=test"
    GET  /speedtest/random{N}x{N}.jpg[?test=ID]
                                            random, incompressible bytes, as long as Ookla's file of that name;
                                            with test=ID, what the client's TCP acknowledged is counted into
                                            the test's download receipt (server/download_count.py)
    POST /speedtest/upload.php[?test=ID]    reads the body, replies "size=N"; with test=ID the bytes are also
                                            counted into a receipt, per 0.1 s of their arrival
    GET  /speedtest/upload.php              "size=0" (speedtest-cli probes it to recognise a mini server)
    GET  /speedtest/receipt?test=ID         that receipt as JSON, with the test's download receipt under
                                            "download" when it had downloads (upload fields empty if no upload)
    GET  /speedtest-config.php              Ookla's configuration XML, and the server list naming this server:
    GET  /speedtest-servers-static.php      with www.speedtest.net and c.speedtest.net resolving here (a hosts
    GET  /speedtest-servers.php             file), speedtest-cli's default code path runs against this server

Any query string is accepted (speedtest-cli appends `?x=<ms>.<n>` to every URL); any other path is 404.

Why a receipt: server/receipts.py.

Safe on the internet (`SpeedServerLimits`): connections per source address and in all, bytes per upload and
per test, a bound on the request head, an idle timeout and a lifetime per connection (a slow client cannot hold
a connection), receipts that expire and are bounded in number. Every refusal is answered (429, 503, 413, 411,
414, 431, 400, 505) and counted; nothing is logged per request.

The pure parts have no sockets and are tested on their own: path and query parsing, the Ookla XML and the
source key in server/speed_protocol.py, the receipt book in server/receipts.py. This module is the I/O around
them, on aiohttp: one catch-all route dispatches by the request target exactly as speed_protocol parses it.
Each connection is a SpeedConnection (server/speed_connection.py: admission, parse errors), its server's
counters, receipts and deadlines a SpeedState (server/speed_state.py). Downloads are written 64 KiB at a time,
each write waiting for the socket to drain, so a download holds little beyond the socket buffers; uploads are
counted chunk by chunk as they are read. start_speed_http() serves on the running loop (server/serve.py);
SpeedServer (server/speed_server.py) on a loop thread of its own for synchronous callers.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import ssl
import time
from collections.abc import Sequence

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from homeshore.server.download_count import DownloadCount, measured_kind
from homeshore.server.receipts import BIN_S
from homeshore.server.speed_connection import (
    LINGER_S, SpeedConnection, answer_as_http11, connection_factory, reply,
)
from homeshore.server.speed_limits import SpeedServerCounters, SpeedServerLimits
from homeshore.server.speed_protocol import (
    RANDOM_FILE_BYTES, BadRequest, Route, advertised_host, ookla_config_xml, ookla_servers_xml, parse_target,
)
from homeshore.server.speed_state import SpeedState

DEFAULT_PORT = 8080
_CHUNK_BYTES = 64 * 1024  # per write and per read: small enough to time arrivals within a 0.1 s bin
_REAP_S = 0.1  # how often connections are checked against their idle timeout and lifetime
_LINGER_BYTES = 256 * 1024  # what is read and dropped of a refused upload's body (for up to LINGER_S)
# speedtest-cli's set_mini_server reads the server's front page and looks for `upload_extension: "php"`
# (as in the page of Ookla's mini server); without it, it probes /speedtest/upload.php under the URL's directory.
_INDEX_HTML = (b'<!DOCTYPE html>\n<html><head><title>homeshore serve</title></head>\n'
               b'<body><p>homeshore speed-test server.</p>\n'
               b'<script>var settings = {upload_extension: "php"};</script></body></html>\n')



def _unmapped(address: str) -> str:
    return address[7:] if address.startswith("::ffff:") and "." in address else address


async def _no_expect(request: web.Request) -> None:
    """Defer "100 Continue" until the upload is admitted (_upload), so a refused client never sends its body."""


def _per_request(state: SpeedState):
    """What every request of the application gets, the speed endpoints and any other routes (the candidate
    pages) alike: HTTP/1.x only, and the connection's head and progress reset once it has been answered."""
    @web.middleware
    async def per_request(request: web.Request, handler) -> web.StreamResponse:
        if request.version.major != 1:  # aiohttp's parser takes "HTTP/2.0", and a line without one as HTTP/0.9
            state.count("malformed")
            refusal = reply(505, b"only HTTP/1.x\n", close=True) if request.version.major >= 2 else \
                reply(400, b"bad request line\n", close=True)
            answer_as_http11(request)
            return refusal
        try:
            return await handler(request)
        finally:
            if isinstance(request.protocol, SpeedConnection):
                request.protocol.head.clear()
                if request.protocol.progress_s != math.inf:
                    request.protocol.progress_s = time.monotonic()
    return per_request


def _dispatch_to(state: SpeedState):
    async def dispatch(request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            state.count("malformed")
            return reply(501, b"only GET and POST\n", close=True)
        try:
            route = parse_target(request.method, request.raw_path)  # the target as the request line had it
        except BadRequest as error:
            state.count("malformed")
            return reply(400, f"{error}\n".encode(), close=True)
        state.count("requests")
        return await _ENDPOINTS[route.endpoint](request, route, state)
    return dispatch


async def _not_found(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    state.count("not_found")
    return reply(404, b"not found\n", close=request.method == "POST")


async def _index(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    return reply(200, _INDEX_HTML, "text/html; charset=utf-8")


async def _info(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    info = {"service": "homeshore", "version": 1, "udp_port": state.udp_port}
    return reply(200, json.dumps(info).encode(), "application/json")


async def _latency(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    return reply(200, b"test=test")


async def _config(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    client_ip = _unmapped(request.remote or "")
    return reply(200, ookla_config_xml(client_ip, state.test_length_s), "text/xml; charset=utf-8")


async def _servers(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    local = _unmapped(sockname[0]) if sockname else "::"
    authority, host_port = advertised_host(request.headers.get("Host"), local, state.port)
    return reply(200, ookla_servers_xml(authority, host_port), "text/xml; charset=utf-8")


async def _receipt(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    if route.test_id is None:
        state.count("malformed")
        return reply(400, b"receipt needs test=ID\n")
    now_s = time.monotonic()
    receipt = state.receipts.receipt(route.test_id, now_s)
    download = state.downloads.receipt(route.test_id, now_s)
    if receipt is None and download is None:
        state.count("not_found")
        return reply(404, b"no such test\n")
    body = receipt.to_json() if receipt is not None else \
        {"test": route.test_id, "bin_s": BIN_S, "bins": [], "bytes": 0, "requests": 0}
    if download is not None:
        body["download"] = download.to_json()
    return reply(200, json.dumps(body).encode(), "application/json")


def _download_count(request: web.Request, test_id: str, state: SpeedState) -> DownloadCount | None:
    """The count of delivered bytes for this download of test_id (None: past the test's window, or a socket
    the kernel gives no TCP_INFO for)."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    peer = transport.get_extra_info("peername") if transport is not None else None
    if sock is None or not state.downloads.start(test_id, measured_kind(peer[0] if peer else ""), time.monotonic()):
        return None
    try:
        counting = DownloadCount(sock, test_id, state.downloads, time.monotonic())
    except (OSError, ValueError):
        return None
    state.count_download(request.protocol, counting, time.monotonic())
    return counting


async def _random(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    size = RANDOM_FILE_BYTES[route.size_px]
    if route.test_id is not None and not state.charge_test(route.test_id, size):
        state.count("too_large")
        return reply(413, b"this check has moved all the bytes it may\n")
    state.count("downloads")
    response = web.StreamResponse(status=200, headers={
        "Server": "homeshore", "Content-Type": "image/jpeg", "Content-Length": str(size), "Cache-Control": "no-store"})
    block, connection = state.block, request.protocol
    counting = _download_count(request, route.test_id, state) if route.test_id is not None else None
    offset = sent = 0
    try:
        await response.prepare(request)
        while sent < size:
            n = min(_CHUNK_BYTES, size - sent, len(block) - offset)
            await response.write(block[offset:offset + n])  # waits for the socket to drain below its high water
            sent += n
            offset = (offset + n) % len(block)
            state.count("bytes_sent", n)
            now_s = time.monotonic()
            if counting is not None:
                counting.wrote(request.writer.output_size)
                counting.sample(now_s)
            if isinstance(connection, SpeedConnection) and connection.progress_s != math.inf:
                connection.progress_s = now_s
    except OSError:  # the client went away, or the connection reached its lifetime and was shut down
        state.count("aborted")
        if connection is not None:
            connection.force_close()
    finally:
        if counting is not None:
            counting.wrote(request.writer.output_size)  # a write that failed may have queued its bytes
            counting.writing = False  # the reaper counts on until all is acknowledged or the connection ends
    return response


async def _upload(request: web.Request, route: Route, state: SpeedState) -> web.StreamResponse:
    if request.method == "GET":
        return reply(200, b"size=0")
    limits = state.limits
    lengths = request.headers.getall("Content-Length", [])
    if request.headers.get("Transfer-Encoding") or not lengths:
        state.count("malformed")
        return reply(411, b"an upload needs a Content-Length\n", close=True)
    if len(lengths) != 1 or not lengths[0].strip().isdigit():
        state.count("malformed")
        return reply(400, b"bad Content-Length\n", close=True)
    length = int(lengths[0])
    expect_continue = request.headers.get("Expect", "").lower() == "100-continue"
    if length > limits.max_upload_bytes_per_request or (route.test_id is not None and (
            not state.charge_test(route.test_id, length)
            or not state.receipts.claim(route.test_id, length, time.monotonic()))):
        state.count("too_large")
        if not expect_continue:
            await _drop_body(request)
        return reply(413, b"upload too large for this server\n", close=True)
    if expect_continue:
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    received = 0
    try:
        while received < length:
            chunk = await request.content.readany()
            if not chunk:
                break
            received += len(chunk)
            state.received(route.test_id, len(chunk), time.monotonic())
    except (OSError, HttpProcessingError):  # the client closed mid-body (aiohttp: ContentLengthError)
        pass
    finally:
        state.count("uploads")
    if received < length:  # the client stopped sending and closed (speedtest-cli's time limit)
        state.count("aborted")
        return reply(400, b"upload cut short\n", close=True)
    return reply(200, f"size={received}".encode())


async def _drop_body(request: web.Request) -> None:
    """Read and drop up to _LINGER_BYTES of a body we refused, for up to LINGER_S, as Apache's lingering close
    does: a connection closed with unread data is reset, and the client could lose the error response."""
    left = _LINGER_BYTES
    try:
        async with asyncio.timeout(LINGER_S):
            while left > 0 and (chunk := await request.content.readany()):
                left -= len(chunk)
    except (TimeoutError, OSError, HttpProcessingError):
        pass


_ENDPOINTS = {"not_found": _not_found, "index": _index, "info": _info, "latency": _latency, "config": _config,
              "servers": _servers, "receipt": _receipt, "random": _random, "upload": _upload}


# ------------------------------------------------------------------------------------------------- serving

class SpeedHttp:
    """The speed-test endpoints serving on the running loop (start_speed_http); stop() ends them."""

    def __init__(self, state: SpeedState, runner: web.AppRunner, server: asyncio.AbstractServer,
                 reaper: asyncio.Task) -> None:
        self.state = state
        self._runner = runner
        self._server = server
        self._reaper = reaper

    @property
    def counters(self) -> SpeedServerCounters:
        return self.state.counters

    async def stop(self, drain_s: float = 2.0) -> SpeedServerCounters:
        """Stop accepting, end the open connections (waiting up to drain_s for their handlers to count what they
        did), close the socket, and return the final counters."""
        self._server.close()
        self._reaper.cancel()
        for connection in list(self.state.open):
            connection.shut()
        try:
            async with asyncio.timeout(drain_s):
                await self.state.drained.wait()
        except TimeoutError:
            pass
        await self._runner.cleanup()
        return self.state.counters


async def start_speed_http(sock: socket.socket, *, udp_port: int, limits: SpeedServerLimits = SpeedServerLimits(),
                           test_length_s: int = 10, routes: Sequence[web.RouteDef] = (),
                           tls: ssl.SSLContext | None = None) -> SpeedHttp:
    """Serve the speed-test endpoints on a listening socket (sockets.bound_socket()) on the running loop; `routes`
    (the candidate pages) are served from the same application, on the same connections and limits, and take
    precedence over the speed endpoints' catch-all. With `tls` (server/tls.py) the socket serves HTTPS only."""
    state = SpeedState(limits, udp_port, test_length_s, sock.getsockname()[1])
    state.drained.set()
    app = web.Application(middlewares=[_per_request(state)])
    app.add_routes(routes)
    app.router.add_route("*", "/{tail:.*}", _dispatch_to(state), expect_handler=_no_expect)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    manager = runner.server
    assert manager is not None  # set by setup()
    server = await asyncio.get_running_loop().create_server(
        connection_factory(manager, state, read_bufsize=_CHUNK_BYTES), sock=sock, ssl=tls)
    # Nagle off: a reply must not wait for the ACK of the previous segment (latency.txt is timed); set on the
    # listening socket, accepted sockets inherit it on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def reap() -> None:
        while True:
            await asyncio.sleep(_REAP_S)
            state.sample_downloads(time.monotonic())
            state.reap(time.monotonic())
    return SpeedHttp(state, runner, server, asyncio.get_running_loop().create_task(reap()))

"""The speed-test HTTP server of `homeshore serve`: what speedtest-cli (v2.1.3) and `homeshore check` talk to.

It speaks the protocol of an Ookla "speedtest mini" server, which speedtest-cli already knows, plus two
homeshore endpoints:

    GET  /homeshore.json                    {"service": "homeshore", "version": 1, "udp_port": N}: tells
                                            `homeshore check --server URL` it reached a homeshore server, and
                                            where the UDP reflector listens
    GET  /                                  a page naming the upload extension (speedtest-cli's set_mini_server)
    GET  /speedtest/latency.txt             "test=test"
    GET  /speedtest/random{N}x{N}.jpg       random, incompressible bytes, as long as Ookla's file of that name
    POST /speedtest/upload.php[?test=ID]    reads the body, replies "size=N"; with test=ID the bytes are also
                                            counted into a receipt, per 0.1 s of their arrival
    GET  /speedtest/upload.php              "size=0" (speedtest-cli probes it to recognise a mini server)
    GET  /speedtest/receipt?test=ID         that receipt as JSON
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
them, on aiohttp: one catch-all route dispatches by the request target exactly as speed_protocol parses it, and
a RequestHandler subclass (_Connection) admits each connection, keeps its deadlines and turns parse errors into
the statuses above. Downloads are written 64 KiB at a time, each write waiting for the socket to drain (so a
download holds at most a chunk beyond the socket buffer); uploads are counted chunk by chunk as they are read.
`start_speed_http()` serves on the running loop (server/serve.py); `SpeedServer` on a loop thread of its own
for synchronous callers (tests).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import os
import socket
import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from homeshore.server.loop_thread import LoopThread
from homeshore.server.sockets import bound_socket
from homeshore.server.receipts import BIN_S, Receipt, ReceiptBook
from homeshore.server.speed_protocol import (
    RANDOM_FILE_BYTES, BadRequest, Route, advertised_host, ookla_config_xml, ookla_servers_xml, parse_target,
    source_key,
)

DEFAULT_PORT = 8080
_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # a library: what it logs goes where the program says, never to stderr

_RANDOM_BLOCK_BYTES = 1 << 20  # the random bytes every download is cut from, made once per server
_CHUNK_BYTES = 64 * 1024  # per write and per read: small enough to time arrivals within a 0.1 s bin
_REAP_S = 0.1  # how often connections are checked against their idle timeout and lifetime
_LINGER_BYTES, _LINGER_S = 256 * 1024, 1.0  # what is read and dropped of a refused upload's body
# speedtest-cli's set_mini_server reads the server's front page and looks for `upload_extension: "php"`
# (as in the page of Ookla's mini server); without it, it probes /speedtest/upload.php under the URL's directory.
_INDEX_HTML = (b'<!DOCTYPE html>\n<html><head><title>homeshore serve</title></head>\n'
               b'<body><p>homeshore speed-test server.</p>\n'
               b'<script>var settings = {upload_extension: "php"};</script></body></html>\n')


@dataclass(frozen=True)
class SpeedServerLimits:
    """What one client, and all clients together, may take. The defaults fit a speedtest-cli run (8 download
    connections at a time, each reading 31.6-MB files for the whole phase; uploads of up to 7 MiB each) and a
    homeshore check (a few phases of 10-20 s), with room to spare, and keep a flood from one address to a few
    threads."""

    connections_per_source: int = 16  # per IPv4 address, or per IPv6 /64 (one home's network); beyond: 429
    connections_total: int = 256  # beyond: 503
    socket_timeout_s: float = 10.0  # a connection with no byte read or written for this long is ended
    connection_max_s: float = 120.0  # any connection older than this is closed (a trickling client included)
    max_head_bytes: int = 8192  # request line and headers together; beyond: 414 (line) or 431 (headers)
    max_upload_bytes_per_request: int = 8 * 1024 * 1024  # above speedtest-cli's largest upload, 7 340 032
    # declared Content-Lengths of one test id together: a 10-s phase at 2.5 Gbit/s, so a fibre home is measured
    max_upload_bytes_per_test: int = 3 * 1024**3
    receipts_max: int = 1024  # receipts kept; the oldest goes first
    receipt_expire_s: float = 600.0  # a receipt is forgotten this long after its test's first upload
    receipt_window_s: float = 120.0  # a test's uploads must start within this of its first; bins beyond clamp


@dataclass(frozen=True)
class SpeedServerCounters:
    """What the server did. bytes_sent and bytes_received count bodies only (downloads and uploads), so they
    compare with what speedtest-cli reports; refusals land in exactly one of refused (a connection),
    malformed, not_found or too_large (a request)."""

    connections: int = 0  # connections admitted
    refused: int = 0  # connections refused: too many from the source (429) or in all (503)
    requests: int = 0  # well-formed requests
    downloads: int = 0  # random files started
    uploads: int = 0  # uploads whose body was read (completely or until the client stopped)
    bytes_sent: int = 0  # download body bytes written to sockets
    bytes_received: int = 0  # upload body bytes read
    aborted: int = 0  # bodies cut by the client closing (speedtest-cli does so at its time limit)
    timeouts: int = 0  # connections ended by socket_timeout_s or connection_max_s (mid-body: in aborted too)
    malformed: int = 0  # 400, 411, 414, 431, 501; HTTP/0.9; a bad test id or query
    not_found: int = 0  # 404
    too_large: int = 0  # 413
    errors: int = 0  # unexpected exceptions in a handler (logged at debug level)


# ---------------------------------------------------------------------------------------------- bookkeeping

class _State:
    """One server's counters, receipts and open connections. Only ever touched on the server's event loop, so
    it needs no lock."""

    def __init__(self, limits: SpeedServerLimits, udp_port: int, test_length_s: int, port: int) -> None:
        self.limits = limits
        self.udp_port = udp_port
        self.test_length_s = test_length_s
        self.port = port
        self.receipts = ReceiptBook(bin_s=BIN_S, max_tests=limits.receipts_max, expire_s=limits.receipt_expire_s,
                                    window_s=limits.receipt_window_s,
                                    max_bytes_per_test=limits.max_upload_bytes_per_test)
        self.counts = {f.name: 0 for f in dataclasses.fields(SpeedServerCounters)}
        self.open: dict[_Connection, list] = {}  # connection -> [source key, deadline s]
        self.per_source: dict[str, int] = {}
        self.drained = asyncio.Event()
        self.block = memoryview(os.urandom(_RANDOM_BLOCK_BYTES))

    @property
    def counters(self) -> SpeedServerCounters:
        return SpeedServerCounters(**self.counts)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def admit(self, connection: _Connection, address: str) -> int | None:
        """None when the connection is admitted, else the status it is refused with."""
        key = source_key(address)
        if len(self.open) >= self.limits.connections_total:
            self.counts["refused"] += 1
            return 503
        if self.per_source.get(key, 0) >= self.limits.connections_per_source:
            self.counts["refused"] += 1
            return 429
        self.open[connection] = [key, time.monotonic() + self.limits.connection_max_s]
        self.per_source[key] = self.per_source.get(key, 0) + 1
        self.counts["connections"] += 1
        self.drained.clear()
        return None

    def release(self, connection: _Connection) -> None:
        entry = self.open.pop(connection, None)
        if entry is not None:
            left = self.per_source[entry[0]] - 1
            if left:
                self.per_source[entry[0]] = left
            else:
                del self.per_source[entry[0]]
        if not self.open:
            self.drained.set()

    def reap(self, now_s: float) -> None:
        """Shut down connections past connection_max_s, or idle for socket_timeout_s; their handlers then fail
        their next read or write."""
        for connection, entry in self.open.items():
            if now_s > entry[1] or now_s - connection.progress_s > self.limits.socket_timeout_s:
                entry[1] = connection.progress_s = math.inf
                self.counts["timeouts"] += 1
                connection.shut()

    def received(self, test_id: str | None, nbytes: int, now_s: float) -> None:
        self.counts["bytes_received"] += nbytes
        if test_id is not None:
            self.receipts.record(test_id, nbytes, now_s)


# -------------------------------------------------------------------------------------------- connections

def _parse_error_status(error: HttpProcessingError, head: bytes) -> tuple[int, bytes]:
    """The status a request aiohttp's parser refused is answered with: for a line too long, 414 when it is the
    request line (no line end in what came of the head) and 431 when a header; 505 for an HTTP version of digits
    other than 1.x; else 400."""
    if isinstance(error, LineTooLong):
        return (431, b"request head too large\n") if b"\n" in head else (414, b"request line too long\n")
    if isinstance(error, BadHttpMessage) and "invalid http version" in str(error).lower():  # digits, not 1.x
        return 505, b"only HTTP/1.x\n"
    return 400, b"bad request\n"


class _Connection(RequestHandler):
    """aiohttp's handler of one connection, admitted against the limits before it reads anything, its progress
    timed for the idle timeout, and its parse errors answered and counted."""

    def __init__(self, manager: web.Server, *, state: _State, **kwargs) -> None:
        super().__init__(manager, **kwargs)
        self.state = state
        self.progress_s = time.monotonic()
        self.head = bytearray()  # the start of what arrived since the last request was handled
        self._refused_transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        code = self.state.admit(self, peer[0] if peer else "")
        if code is None:
            super().connection_made(transport)
            return
        # A short answer that fits any socket buffer, then a half-close; what the client still sends is read and
        # dropped until it closes (or a second passes), since closing with unread data would reset the connection
        # and the client could lose the status.
        self._refused_transport = transport
        reason = {429: "Too Many Requests", 503: "Service Unavailable"}[code]
        transport.write(f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nRetry-After: 10\r\n"
                        "Connection: close\r\n\r\n".encode())
        transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._refused_transport is None:
            self.progress_s = time.monotonic()
            if len(self.head) <= self.state.limits.max_head_bytes:
                self.head += data[:self.state.limits.max_head_bytes + 1 - len(self.head)]
            super().data_received(data)

    def eof_received(self) -> None:  # the transport closes itself (the client has stopped sending)
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self.state.release(self)
        if self._refused_transport is None:
            super().connection_lost(exc)

    def shut(self) -> None:
        """End the connection the way a socket timeout would: both directions shut, so the handler's next read
        sees the end and its next write fails, and the client sees an orderly close."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):
            self.state.count("malformed")
            status, body = _parse_error_status(exc, bytes(self.head))
        else:
            _log.debug("error serving %s", request.remote, exc_info=exc)
            self.state.count("errors")
            status, body = 500, b"internal error\n"
        if request.writer.output_size > 0:
            raise ConnectionError("the response had begun")
        _answer_as_http11(request)
        return _reply(status, body, close=True)


def _answer_as_http11(request: web.BaseRequest) -> None:
    """Have the response to a refused request start "HTTP/1.1", as this server's error responses always have:
    aiohttp answers in the request's version, which for a request it could not parse is a stand-in 1.0, and
    for a request line without a version 0.9."""
    request._version = HttpVersion11  # type: ignore[attr-defined]
    request._cache.pop("version", None)  # type: ignore[attr-defined]


def _reply(code: int, body: bytes, content_type: str = "text/plain; charset=utf-8", *,
           close: bool = False) -> web.Response:
    response = web.Response(status=code, body=body, headers={
        "Server": "homeshore", "Content-Type": content_type, "Cache-Control": "no-store"})
    if close:
        response.force_close()
    return response


# ---------------------------------------------------------------------------------------------- endpoints

def _unmapped(address: str) -> str:
    return address[7:] if address.startswith("::ffff:") and "." in address else address


async def _no_expect(request: web.Request) -> None:
    """Defer "100 Continue" until the upload is admitted (_upload), so a refused client never sends its body."""


def _dispatch_to(state: _State):
    async def dispatch(request: web.Request) -> web.StreamResponse:
        if request.version.major != 1:  # aiohttp's parser takes "HTTP/2.0", and a line without one as HTTP/0.9
            state.count("malformed")
            refusal = _reply(505, b"only HTTP/1.x\n", close=True) if request.version.major >= 2 else \
                _reply(400, b"bad request line\n", close=True)
            _answer_as_http11(request)
            return refusal
        if request.method not in ("GET", "POST"):
            state.count("malformed")
            return _reply(501, b"only GET and POST\n", close=True)
        try:
            route = parse_target(request.method, request.raw_path)  # the target as the request line had it
        except BadRequest as error:
            state.count("malformed")
            return _reply(400, f"{error}\n".encode(), close=True)
        state.count("requests")
        try:
            return await _ENDPOINTS[route.endpoint](request, route, state)
        finally:
            if isinstance(request.protocol, _Connection):
                request.protocol.head.clear()
                if request.protocol.progress_s != math.inf:
                    request.protocol.progress_s = time.monotonic()
    return dispatch


async def _not_found(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    state.count("not_found")
    return _reply(404, b"not found\n", close=request.method == "POST")


async def _index(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    return _reply(200, _INDEX_HTML, "text/html; charset=utf-8")


async def _info(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    info = {"service": "homeshore", "version": 1, "udp_port": state.udp_port}
    return _reply(200, json.dumps(info).encode(), "application/json")


async def _latency(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    return _reply(200, b"test=test")


async def _config(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    client_ip = _unmapped(request.remote or "")
    return _reply(200, ookla_config_xml(client_ip, state.test_length_s), "text/xml; charset=utf-8")


async def _servers(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    local = _unmapped(sockname[0]) if sockname else "::"
    authority, host_port = advertised_host(request.headers.get("Host"), local, state.port)
    return _reply(200, ookla_servers_xml(authority, host_port), "text/xml; charset=utf-8")


async def _receipt(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    if route.test_id is None:
        state.count("malformed")
        return _reply(400, b"receipt needs test=ID\n")
    receipt = state.receipts.receipt(route.test_id, time.monotonic())
    if receipt is None:
        state.count("not_found")
        return _reply(404, b"no such test\n")
    return _reply(200, json.dumps(receipt.to_json()).encode(), "application/json")


async def _random(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    size = RANDOM_FILE_BYTES[route.size_px]
    state.count("downloads")
    response = web.StreamResponse(status=200, headers={
        "Server": "homeshore", "Content-Type": "image/jpeg", "Content-Length": str(size), "Cache-Control": "no-store"})
    block, connection = state.block, request.protocol
    offset = sent = 0
    try:
        await response.prepare(request)
        while sent < size:
            n = min(_CHUNK_BYTES, size - sent, len(block) - offset)
            await response.write(block[offset:offset + n])  # waits for the socket to drain below its high water
            sent += n
            offset = (offset + n) % len(block)
            state.count("bytes_sent", n)
            if isinstance(connection, _Connection) and connection.progress_s != math.inf:
                connection.progress_s = time.monotonic()
    except OSError:  # the client went away, or the connection reached its lifetime and was shut down
        state.count("aborted")
        if connection is not None:
            connection.force_close()
    return response


async def _upload(request: web.Request, route: Route, state: _State) -> web.StreamResponse:
    if request.method == "GET":
        return _reply(200, b"size=0")
    limits = state.limits
    lengths = request.headers.getall("Content-Length", [])
    if request.headers.get("Transfer-Encoding") or not lengths:
        state.count("malformed")
        return _reply(411, b"an upload needs a Content-Length\n", close=True)
    if len(lengths) != 1 or not lengths[0].strip().isdigit():
        state.count("malformed")
        return _reply(400, b"bad Content-Length\n", close=True)
    length = int(lengths[0])
    expect_continue = request.headers.get("Expect", "").lower() == "100-continue"
    if length > limits.max_upload_bytes_per_request or (
            route.test_id is not None and not state.receipts.claim(route.test_id, length, time.monotonic())):
        state.count("too_large")
        if not expect_continue:
            await _drop_body(request)
        return _reply(413, b"upload too large for this server\n", close=True)
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
        return _reply(400, b"upload cut short\n", close=True)
    return _reply(200, f"size={received}".encode())


async def _drop_body(request: web.Request) -> None:
    """Read and drop up to _LINGER_BYTES of a body we refused, for up to _LINGER_S, as Apache's lingering close
    does: a connection closed with unread data is reset, and the client could lose the error response."""
    left = _LINGER_BYTES
    try:
        async with asyncio.timeout(_LINGER_S):
            while left > 0 and (chunk := await request.content.readany()):
                left -= len(chunk)
    except (TimeoutError, OSError, HttpProcessingError):
        pass


_ENDPOINTS = {"not_found": _not_found, "index": _index, "info": _info, "latency": _latency, "config": _config,
              "servers": _servers, "receipt": _receipt, "random": _random, "upload": _upload}


# ------------------------------------------------------------------------------------------------- serving

class SpeedHttp:
    """The speed-test endpoints serving on the running loop (start_speed_http); stop() ends them."""

    def __init__(self, state: _State, runner: web.AppRunner, server: asyncio.AbstractServer,
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
                           test_length_s: int = 10) -> SpeedHttp:
    """Serve the speed-test endpoints on a listening socket (sockets.bound_socket()) on the running loop."""
    state = _State(limits, udp_port, test_length_s, sock.getsockname()[1])
    state.drained.set()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _dispatch_to(state), expect_handler=_no_expect)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    handler_args = dict(
        # Idle and overlong connections are ended by _State.reap (and counted) before aiohttp's own timer fires.
        loop=asyncio.get_running_loop(), keepalive_timeout=limits.connection_max_s + 1,
        tcp_keepalive=False, logger=_log, access_log=None, max_line_size=limits.max_head_bytes,
        max_field_size=limits.max_head_bytes, lingering_time=_LINGER_S, read_bufsize=_CHUNK_BYTES)
    manager = runner.server
    assert manager is not None  # set by setup()
    server = await asyncio.get_running_loop().create_server(
        lambda: _Connection(manager, state=state, **handler_args), sock=sock)
    # Nagle off: a reply must not wait for the ACK of the previous segment (latency.txt is timed); set on the
    # listening socket, accepted sockets inherit it on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def reap() -> None:
        while True:
            await asyncio.sleep(_REAP_S)
            state.reap(time.monotonic())
    return SpeedHttp(state, runner, server, asyncio.get_running_loop().create_task(reap()))


class SpeedServer:
    """The speed-test HTTP server on bind:port (port 0: any free port, read `.port` after start()), on a loop
    thread of its own, for synchronous callers.

    start() binds on the calling thread (an OSError such as EADDRINUSE reaches the caller) and serves until
    stop(); both may be called from any thread. udp_port is what /homeshore.json announces (the reflector's port);
    test_length_s the test lengths of the Ookla configuration. `counters` is a consistent snapshot at any time.
    """

    def __init__(self, bind: str = "::", port: int = DEFAULT_PORT, *, udp_port: int = 8610,
                 limits: SpeedServerLimits = SpeedServerLimits(), test_length_s: int = 10) -> None:
        self.bind = bind
        self.port = port
        self.udp_port = udp_port
        self.limits = limits
        if not 1 <= int(test_length_s) <= 3600:
            raise ValueError(f"test_length_s must be 1-3600 whole seconds, not {test_length_s!r}")
        self.test_length_s = int(test_length_s)
        self._loop: LoopThread | None = None
        self._http: SpeedHttp | None = None
        self._final = SpeedServerCounters()

    def _on_loop(self, read):
        assert self._loop is not None and self._http is not None
        http = self._http

        async def run():
            return read(http.state)
        return self._loop.call(run)

    @property
    def counters(self) -> SpeedServerCounters:
        return self._final if self._http is None else self._on_loop(lambda state: state.counters)

    @property
    def open_connections(self) -> int:
        return 0 if self._http is None else self._on_loop(lambda state: len(state.open))

    def receipt(self, test_id: str) -> Receipt | None:
        if self._http is None:
            return None
        return self._on_loop(lambda state: state.receipts.receipt(test_id, time.monotonic()))

    def start(self) -> SpeedServer:
        if self._loop is not None:
            raise RuntimeError("the speed server is already running")
        sock = bound_socket(self.bind, self.port, socket.SOCK_STREAM)
        self.port = sock.getsockname()[1]
        self._loop = LoopThread(f"speedserver:{self.port}")
        self._http = self._loop.call(lambda: start_speed_http(
            sock, udp_port=self.udp_port, limits=self.limits, test_length_s=self.test_length_s))
        return self

    def stop(self, drain_s: float = 2.0) -> SpeedServerCounters:
        if self._loop is not None and self._http is not None:
            http = self._http
            self._final = self._loop.call(lambda: http.stop(drain_s))
            self._loop.close()
            self._loop = self._http = None
        return self._final

    def __enter__(self) -> SpeedServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

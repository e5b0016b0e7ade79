"""One connection to the speed-test HTTP server: aiohttp's RequestHandler, admitted against the limits before it
reads anything (refused ones get a short 429 or 503 and a lingering close), its progress timed for the idle
timeout, and the requests aiohttp's parser refuses answered with the status they deserve and counted."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from homeshore.server.speed_state import SpeedState

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # a library: what it logs goes where the program says, never to stderr
LINGER_S = 1.0  # how long a refused client's late bytes are read and dropped before the connection closes


def parse_error_status(error: HttpProcessingError, head: bytes) -> tuple[int, bytes]:
    """The status a request aiohttp's parser refused is answered with: for a line too long, 414 when it is the
    request line (no line end in what came of the head) and 431 when a header; 505 for an HTTP version of digits
    other than 1.x; else 400."""
    if isinstance(error, LineTooLong):
        return (431, b"request head too large\n") if b"\n" in head else (414, b"request line too long\n")
    if isinstance(error, BadHttpMessage) and "invalid http version" in str(error).lower():  # digits, not 1.x
        return 505, b"only HTTP/1.x\n"
    return 400, b"bad request\n"


class SpeedConnection(RequestHandler):
    """aiohttp's handler of one connection, admitted against the limits before it reads anything, its progress
    timed for the idle timeout, and its parse errors answered and counted."""

    def __init__(self, manager: web.Server, *, state: SpeedState, **kwargs) -> None:
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
        # dropped (data_received) until it closes (eof_received: the transport then closes) or a second passes,
        # since closing with unread data would reset the connection and the client could lose the status.
        self._refused_transport = transport
        reason = {429: "Too Many Requests", 503: "Service Unavailable"}[code]
        transport.write(f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nRetry-After: 10\r\n"
                        "Connection: close\r\n\r\n".encode())
        transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._refused_transport is None:
            self.progress_s = time.monotonic()
            if len(self.head) <= self.state.limits.max_head_bytes:
                self.head += data[:self.state.limits.max_head_bytes + 1 - len(self.head)]
            super().data_received(data)

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
            status, body = parse_error_status(exc, bytes(self.head))
        else:
            _log.debug("error serving %s", request.remote, exc_info=exc)
            self.state.count("errors")
            status, body = 500, b"internal error\n"
        if request.writer.output_size > 0:
            raise ConnectionError("the response had begun")
        answer_as_http11(request)
        return reply(status, body, close=True)


def answer_as_http11(request: web.BaseRequest) -> None:
    """Have the response to a refused request start "HTTP/1.1", as this server's error responses always have:
    aiohttp answers in the request's version, which for a request it could not parse is a stand-in 1.0, and
    for a request line without a version 0.9."""
    request._version = HttpVersion11  # type: ignore[attr-defined]
    request._cache.pop("version", None)  # type: ignore[attr-defined]


def reply(code: int, body: bytes, content_type: str = "text/plain; charset=utf-8", *,
           close: bool = False) -> web.Response:
    response = web.Response(status=code, body=body, headers={
        "Server": "homeshore", "Content-Type": content_type, "Cache-Control": "no-store"})
    if close:
        response.force_close()
    return response


def connection_factory(manager: web.Server, state: SpeedState, *, read_bufsize: int) -> Callable[[], SpeedConnection]:
    """The protocol factory for loop.create_server: a SpeedConnection per accepted socket, serving the requests
    of aiohttp's `manager` (an AppRunner's server) with this server's limits on the request head."""
    limits = state.limits
    handler_args = dict(
        # Idle and overlong connections are ended by SpeedState.reap (and counted) before aiohttp's own timer fires.
        loop=asyncio.get_running_loop(), keepalive_timeout=limits.connection_max_s + 1,
        tcp_keepalive=False, logger=_log, access_log=None, max_line_size=limits.max_head_bytes,
        max_field_size=limits.max_head_bytes, lingering_time=LINGER_S, read_bufsize=read_bufsize)
    return lambda: SpeedConnection(manager, state=state, **handler_args)

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

Why a receipt: collector/receipts.py.

Safe on the internet (`SpeedServerLimits`): connections per source address and in all, bytes per upload and
per test, a bound on the request head, socket timeouts and a lifetime per connection (a slow client cannot hold
a thread), receipts that expire and are bounded in number. Every refusal is answered (429, 503, 413, 411, 400)
and counted; nothing is logged per request.

The pure parts have no sockets and are tested on their own: path and query parsing, the Ookla XML and the
source key in collector/speed_protocol.py, the receipt book in collector/receipts.py. `SpeedServer` is the I/O
around them, on http.server's ThreadingHTTPServer: threads,
like the reflector beside it (collector/reflector.py), so `homeshore serve` has one concurrency model.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import os
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from homeshore.collector.receipts import BIN_S, Receipt, ReceiptBook
from homeshore.collector.speed_protocol import (
    RANDOM_FILE_BYTES, BadRequest, Route, advertised_host, ookla_config_xml, ookla_servers_xml, parse_target,
    source_key,
)

DEFAULT_PORT = 8080
_log = logging.getLogger(__name__)

_RANDOM_BLOCK_BYTES = 1 << 20  # the random bytes every download is cut from, made once per server
_CHUNK_BYTES = 64 * 1024  # per write and per read: small enough to time arrivals within a 0.1 s bin
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
    socket_timeout_s: float = 10.0  # a read or write that makes no progress for this long ends the connection
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


# ---------------------------------------------------------------------------------------------------------- I/O

class _Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _unmapped(address: str) -> str:
    return address[7:] if address.startswith("::ffff:") and "." in address else address


class _Handler(BaseHTTPRequestHandler):
    """One connection; requests on it one after the other (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    # What parse_request's own errors (a bad version: 400, 505) are written as; its default, HTTP/0.9, would
    # leave out the status line. Request lines of HTTP/0.9 are refused before parse_request sees them.
    default_request_version = "HTTP/1.1"
    server_version = "homeshore"
    disable_nagle_algorithm = True  # a reply must not wait for the ACK of the previous segment: latency.txt is timed

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        self.speed: SpeedServer = self.server.speed  # type: ignore[attr-defined]
        self._linger = False
        super().setup()
        self.connection.settimeout(self.speed.limits.socket_timeout_s)

    def finish(self) -> None:
        super().finish()
        if self._linger:
            _linger(self.connection)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        _log.debug("%s %s", self.address_string(), format % args)

    def handle_expect_100(self) -> bool:
        """Defer "100 Continue" until the upload is admitted, so a refused client never sends its body."""
        self._expect_continue = True
        return True

    def handle_one_request(self) -> None:
        self.close_connection = True
        self._expect_continue = False
        try:
            self._handle_one_request()
        except TimeoutError:
            self.speed._count("timeouts")
        except OSError:  # the client went away, or the connection reached its lifetime and was shut down
            self.speed._count("aborted")

    def _handle_one_request(self) -> None:
        limit = self.speed.limits.max_head_bytes
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(limit + 1 - total)
            if not line:
                if lines:  # the client closed in the middle of its request head
                    self.speed._count("malformed")
                return
            total += len(line)
            if total > limit:
                self.speed._count("malformed")
                self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
                self._reply(414 if not lines else 431, b"request head too large\n", close=True)
                return
            lines.append(line)
            if len(lines) == 1 and len(line.split()) != 3:  # not "METHOD TARGET VERSION" (HTTP/0.9 included)
                self.speed._count("malformed")
                self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
                self._reply(400, b"bad request line\n", close=True)
                return
            if len(lines) > 1 and line in (b"\r\n", b"\n"):
                break
        self.raw_requestline = lines[0]
        connection_reader, self.rfile = self.rfile, io.BytesIO(b"".join(lines[1:]))
        try:
            parsed = self.parse_request()  # answers 400/431/505 itself when it returns False
        finally:
            self.rfile = connection_reader
        if not parsed:
            self.speed._count("malformed")
            self.close_connection = self._linger = True
            return
        if self.command not in ("GET", "POST"):
            self.speed._count("malformed")
            self._reply(501, b"only GET and POST\n", close=True)
            return
        try:
            route = parse_target(self.command, self.path)
        except BadRequest as error:
            self.speed._count("malformed")
            self._reply(400, f"{error}\n".encode(), close=True)
            return
        self.speed._count("requests")
        if self.command == "GET" and (self.headers.get("Transfer-Encoding") or
                                      self.headers.get("Content-Length", "0").strip() != "0"):
            self.close_connection = True  # a GET with a body we will not read: the connection cannot go on
        getattr(self, f"_do_{route.endpoint}")(route)

    # --- endpoints

    def _do_not_found(self, route: Route) -> None:
        self.speed._count("not_found")
        self._reply(404, b"not found\n", close=self.command == "POST")

    def _do_index(self, route: Route) -> None:
        self._reply(200, _INDEX_HTML, "text/html; charset=utf-8")

    def _do_info(self, route: Route) -> None:
        info = {"service": "homeshore", "version": 1, "udp_port": self.speed.udp_port}
        self._reply(200, json.dumps(info).encode(), "application/json")

    def _do_latency(self, route: Route) -> None:
        self._reply(200, b"test=test")

    def _do_config(self, route: Route) -> None:
        client_ip = _unmapped(self.client_address[0])
        self._reply(200, ookla_config_xml(client_ip, self.speed.test_length_s), "text/xml; charset=utf-8")

    def _do_servers(self, route: Route) -> None:
        local = _unmapped(self.connection.getsockname()[0])
        authority, host_port = advertised_host(self.headers.get("Host"), local, self.speed.port)
        self._reply(200, ookla_servers_xml(authority, host_port), "text/xml; charset=utf-8")

    def _do_receipt(self, route: Route) -> None:
        if route.test_id is None:
            self.speed._count("malformed")
            self._reply(400, b"receipt needs test=ID\n")
            return
        receipt = self.speed.receipt(route.test_id)
        if receipt is None:
            self.speed._count("not_found")
            self._reply(404, b"no such test\n")
            return
        self._reply(200, json.dumps(receipt.to_json()).encode(), "application/json")

    def _do_random(self, route: Route) -> None:
        size = RANDOM_FILE_BYTES[route.size_px]
        self.speed._count("downloads")
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        block = self.speed._block
        offset = sent = 0
        try:
            while sent < size:
                n = min(_CHUNK_BYTES, size - sent, len(block) - offset)
                self.wfile.write(block[offset:offset + n])
                sent += n
                offset = (offset + n) % len(block)
                self.speed._count("bytes_sent", n)
        except OSError:
            self.close_connection = True  # mid-body: the response cannot be finished
            raise

    def _do_upload(self, route: Route) -> None:
        if self.command == "GET":
            self._reply(200, b"size=0")
            return
        limits = self.speed.limits
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") or not lengths:
            self.speed._count("malformed")
            self._reply(411, b"an upload needs a Content-Length\n", close=True)
            return
        if len(lengths) != 1 or not lengths[0].strip().isdigit():
            self.speed._count("malformed")
            self._reply(400, b"bad Content-Length\n", close=True)
            return
        length = int(lengths[0])
        if length > limits.max_upload_bytes_per_request or (
                route.test_id is not None and not self.speed._claim(route.test_id, length)):
            self.speed._count("too_large")
            self._reply(413, b"upload too large for this server\n", close=True)
            return
        if self._expect_continue:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        received = 0
        try:
            while received < length:
                chunk = self.rfile.read1(min(_CHUNK_BYTES, length - received))
                if not chunk:
                    break
                received += len(chunk)
                self.speed._received(route.test_id, len(chunk), time.monotonic())
        finally:
            self.speed._count("uploads")
        if received < length:  # the client stopped sending and closed (speedtest-cli's time limit)
            self.speed._count("aborted")
            self.close_connection = True
            return
        self._reply(200, f"size={received}".encode())

    def _reply(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8", *,
               close: bool = False) -> None:
        """A whole response in one write, so a small one goes out in one segment."""
        head = [f"HTTP/1.1 {code} {HTTPStatus(code).phrase}", f"Server: {self.version_string()}",
                f"Date: {self.date_time_string()}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                "Cache-Control: no-store"]
        if close:
            head.append("Connection: close")
            self.close_connection = True
            self._linger = code >= 400  # the request, or its body, may not have been read
        self.log_request(code)
        self.wfile.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with admission per connection, a lifetime per connection, dual-stack binding and no
    stderr output; the bookkeeping lives in SpeedServer."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, speed: SpeedServer, address: tuple, family: int) -> None:
        self.address_family = family
        self.speed = speed
        super().__init__(address, _Handler, bind_and_activate=False)
        try:
            if family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def server_bind(self) -> None:
        # Not HTTPServer.server_bind: it looks up the host's name (socket.getfqdn), a DNS query at start.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request, client_address) -> None:
        try:
            self.speed._admit(request, client_address[0])
        except _Refused as refusal:
            _refuse(request, refusal.code)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        self.speed._release(request)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        self.speed._reap(time.monotonic())

    def handle_error(self, request, client_address) -> None:
        _log.debug("error serving %s", client_address, exc_info=True)
        self.speed._count("errors")


def _linger(connection: socket.socket, *, max_bytes: int = 256 * 1024, max_s: float = 1.0) -> None:
    """Close a connection whose request was refused unread the way Apache's lingering close does: stop sending,
    then read (and drop) what the client still sends, up to max_bytes or max_s. Closed with unread data, the
    socket would send a reset, and the client could lose the error response before reading it."""
    try:
        connection.shutdown(socket.SHUT_WR)
        deadline_s = time.monotonic() + max_s
        drained = 0
        while drained < max_bytes and (left_s := deadline_s - time.monotonic()) > 0:
            connection.settimeout(left_s)
            chunk = connection.recv(65536)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:
        pass


def _refuse(request: socket.socket, code: int) -> None:
    """Answer a connection we will not serve, from the accepting thread: a short response that fits any socket
    buffer, sent without blocking, after reading what the client already sent (closing a socket with unread
    data resets the connection, and the client would see the reset instead of the status)."""
    reason = {429: "Too Many Requests", 503: "Service Unavailable"}[code]
    try:
        request.setblocking(False)
        try:
            request.recv(65536)
        except (BlockingIOError, InterruptedError):
            pass
        request.send(f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nRetry-After: 10\r\n"
                     "Connection: close\r\n\r\n".encode())
    except OSError:
        pass


def _address(bind: str, port: int) -> tuple[int, tuple]:
    family, _, _, _, address = socket.getaddrinfo(bind or None, port, type=socket.SOCK_STREAM,
                                                  flags=socket.AI_PASSIVE)[0]
    return family, address


class SpeedServer:
    """The speed-test HTTP server on bind:port (port 0: any free port, read `.port` after start()).

    start() binds (an OSError such as EADDRINUSE reaches the caller) and serves on daemon threads until stop();
    both may be called from any thread. udp_port is what /homeshore.json announces (the reflector's port);
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
        self._receipts = ReceiptBook(bin_s=BIN_S, max_tests=limits.receipts_max, expire_s=limits.receipt_expire_s,
                                     window_s=limits.receipt_window_s,
                                     max_bytes_per_test=limits.max_upload_bytes_per_test)
        self._counts = {f.name: 0 for f in dataclasses.fields(SpeedServerCounters)}
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._open: dict[socket.socket, list] = {}  # connection -> [source key, deadline s]
        self._per_source: dict[str, int] = {}
        self._block = memoryview(os.urandom(_RANDOM_BLOCK_BYTES))
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def counters(self) -> SpeedServerCounters:
        with self._lock:
            return SpeedServerCounters(**self._counts)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def receipt(self, test_id: str) -> Receipt | None:
        with self._lock:
            return self._receipts.receipt(test_id, time.monotonic())

    def start(self) -> SpeedServer:
        if self._thread is not None:
            raise RuntimeError("the speed server is already running")
        family, address = _address(self.bind, self.port)
        self._httpd = _HTTPServer(self, address, family)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"speedserver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 2.0) -> SpeedServerCounters:
        """Stop accepting, end the open connections (waiting up to drain_s for their threads to count what they
        did), close the socket, and return the final counters."""
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
            with self._lock:
                for connection in self._open:
                    _shut(connection)
                self._drained.wait_for(lambda: not self._open, timeout=drain_s)
            self._httpd.server_close()
            self._httpd = None
        return self.counters

    def __enter__(self) -> SpeedServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- bookkeeping for the handlers and the server (each under the lock)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _admit(self, connection: socket.socket, address: str) -> None:
        key = source_key(address)
        with self._lock:
            if len(self._open) >= self.limits.connections_total:
                self._counts["refused"] += 1
                raise _Refused(503)
            if self._per_source.get(key, 0) >= self.limits.connections_per_source:
                self._counts["refused"] += 1
                raise _Refused(429)
            self._open[connection] = [key, time.monotonic() + self.limits.connection_max_s]
            self._per_source[key] = self._per_source.get(key, 0) + 1
            self._counts["connections"] += 1

    def _release(self, connection: socket.socket) -> None:
        with self._lock:
            entry = self._open.pop(connection, None)
            if entry is not None:
                left = self._per_source[entry[0]] - 1
                if left:
                    self._per_source[entry[0]] = left
                else:
                    del self._per_source[entry[0]]
                self._drained.notify_all()

    def _reap(self, now_s: float) -> None:
        """Shut down connections past connection_max_s; their threads then fail their next read or write."""
        with self._lock:
            for connection, entry in self._open.items():
                if now_s > entry[1]:
                    entry[1] = math.inf
                    self._counts["timeouts"] += 1
                    _shut(connection)

    def _claim(self, test_id: str, nbytes: int) -> bool:
        with self._lock:
            return self._receipts.claim(test_id, nbytes, time.monotonic())

    def _received(self, test_id: str | None, nbytes: int, now_s: float) -> None:
        with self._lock:
            self._counts["bytes_received"] += nbytes
            if test_id is not None:
                self._receipts.record(test_id, nbytes, now_s)


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass

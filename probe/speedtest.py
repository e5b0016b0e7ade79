"""The speed test of `homeshore check`: speedtest-cli's client (the `speedtest` library, never its command),
phase by phase, against Ookla's public servers or a self-hosted `homeshore serve`.

    session = SpeedSession.open("http://collector.example.org:8080")   # or None: speedtest.net (Ookla)
    down = session.download(10)        # blocks ~10 s; run the UDP latency probe beside it for RTT under load
    up = session.upload(10)
    result = session.result()          # SpeedResult

Phases run one at a time, at the caller's pace, because `homeshore check` runs its UDP probe during each.

What speedtest-cli measures, and what we measure instead:
- its download figure is all bytes over the whole phase, TCP slow start and thread start-up included, so it
  reads low on short phases. We record when each piece of every response arrives (the library's opener is
  ours: every read goes through a timeline) and take the rate after the warm-up (probe/speed_timeline.py);
- its upload figure counts bytes handed to the socket, not bytes that arrived: on a slow uplink the send
  buffer holds seconds of data when the phase ends, so it over-reads (1.4 Mbit/s on a 1 Mbit/s link). Against
  our own server the upload is counted where it arrives: the server keeps per-test 0.1-s bins and we fetch its
  receipt after the phase. Speedtest.net's servers keep no such count, so against Ookla the upload figure is
  speedtest-cli's, labelled upload_counted_at="sender";
- its "ping" is half of a TCP connect plus an HTTP GET, used by the library to rank servers. It is kept as
  http_ping_ms for that purpose only and is never a latency for call quality (probe/latency.py measures that).
Goodput is HTTP payload bytes per second (10^6 bit/s); the readiness policy converts to line rate itself.

Every connection the library opens goes through our connection class, for two reasons: it can be aborted
when a phase is over (a read or send blocked on a stalled link would otherwise hold the phase up to the
socket timeout), and it closes with a reset (SO_LINGER 0). With a normal close the kernel keeps sending what an
upload left in the send buffer, seconds of it on a slow uplink, into the next phase and the next measurement.
"""

from __future__ import annotations

import json
import os
import sys
import math
import secrets
import socket
import ssl
import struct
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import speedtest

if sys.platform != "win32":
    import fcntl
    import termios

from homeshore.collector.url_hints import with_hint
from homeshore.probe.speed_timeline import steady_rate_from_bins_mbps, steady_rate_mbps, warmup_for

TIMEOUT_S = 10.0  # connect and per-read timeout (speedtest-cli's default)
ABORT_GRACE_S = 1.0  # a phase's connections still open this long after its end are aborted
PROGRESS_INTERVAL_S = 0.2
SERVICE = "homeshore"
OOKLA_CONFIG_HOST = "www.speedtest.net"
# speedtest-cli's ranking counts an unanswered GET as 3600 s and averages 3 GETs over 6: all three unanswered
UNANSWERED_PING_MS = 3 * 3600 / 6 * 1000

# The self-hosted test's configuration, in the shape speedtest-cli's get_config() builds from speedtest.net's
# XML, with speedtest.net's own upload values (2 threads, ratio 5) so the client behaves as it does against Ookla,
# but with file lists long enough for the phase: speedtest-cli walks its list once, and speedtest.net's
# (4 x 102 MB down, 51 requests, 150 MB, up) lasts under 3.5 s at 1 Gbit/s, which left a fibre home's whole upload
# inside the warm-up. The lists are sized for a top rate over the phase, with half as much again to spare;
# the upload bodies are made one request at a time (pre_allocate=False), so a long list costs no memory.
# Download takes only the largest file: speedtest-cli opens a new connection per file, and with speedtest.net's
# list (the first tens of requests all 245-kB files) a slow link turned over a connection every 0.4 s; each new
# one starts in slow start behind a full queue, and when several lost their first packets together (only a
# retransmission timeout recovers a window that small) the link went quiet for a second and the phase read 20 %
# low. With 31.6-MB files each thread keeps one connection for the whole phase below 50 Mbit/s, as iperf3 does.
DOWNLOAD_SIZES = [4000]  # random{N}x{N}.jpg
DOWNLOAD_ROUND_BYTES = 31_625_365  # server/speed_protocol.py's RANDOM_FILE_BYTES[4000]
DOWNLOAD_THREADS = 8
UPLOAD_SIZES_BYTES = [524_288, 1_048_576, 7_340_032]
# Download: a 10-Gbit/s LAN, or a server on this machine (a 1-Gbit/s list ran out in 1.2 s on loopback); with one
# file size that is only 30 requests a second. Upload: 1 Gbit/s, since speedtest-cli still starts a thread for
# each request left when the phase ends, and 3,000 of them held a 0.5-Mbit/s phase a second past its end.
MAX_DOWNLOAD_RATE_MBPS = 10_000.0
MAX_UPLOAD_RATE_MBPS = 1_000.0


class SpeedTestError(Exception):
    """The speed test could not run; str() is a one-line message for the user saying why."""


class SpeedServerUnreachable(SpeedTestError):
    """No connection to the server: refused, timed out, no route, or its name did not resolve."""


class NotASpeedServer(SpeedTestError):
    """Something answered, but not a speed-test server (for a URL: not `homeshore serve`)."""


@dataclass(frozen=True)
class PhaseResult:
    """One download or upload phase."""

    direction: str  # "download" | "upload"
    goodput_mbps: float | None  # HTTP payload after the warm-up; None when too little came after it
    counted_at: str  # "receiver" | "sender": where goodput_mbps and payload_bytes were counted
    reported_mbps: float  # speedtest-cli's own figure (whole phase; upload: bytes handed to the socket)
    payload_bytes: int  # HTTP payload counted where counted_at says, the whole phase
    duration_s: float  # wall time of the phase, from start until its last connection ended
    warmup_s: float  # discarded at the start: max(1 s, 20 % of the phase)


@dataclass(frozen=True)
class SpeedResult:
    """A session's figures; those of a phase that did not run (or failed) are None."""

    method: str  # "ookla" | "selfhosted"
    server: str  # the self-hosted URL, or the Ookla server's host:port
    sponsor: str
    name: str
    udp_port: int | None  # the reflector of a homeshore server (its homeshore.json); None for Ookla
    download_goodput_mbps: float | None
    upload_goodput_mbps: float | None
    upload_counted_at: str  # "receiver" (self-hosted: the server's count) | "sender" (Ookla: speedtest-cli's)
    download_reported_mbps: float | None  # speedtest-cli's own figures, for comparison
    upload_reported_mbps: float | None
    download_bytes: int | None
    upload_bytes: int | None
    download_s: float | None
    upload_s: float | None
    download_warmup_s: float | None
    upload_warmup_s: float | None
    # speedtest-cli's "ping": half of a TCP connect plus an HTTP GET, for ranking servers only, not a latency
    http_ping_ms: float | None


# --- the connections and responses of speedtest-cli, instrumented ------------------------------------------------


class _Connections:
    """Every socket the library opened; abort() resets those still open so blocked reads and sends return."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def opened(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._lock:
            self._sockets.add(sock)

    def unread_bytes(self) -> int:
        """Bytes in the kernel's receive buffers of the open connections, arrived but not read yet (FIONREAD;
        0 where the platform has no such query)."""
        if sys.platform == "win32":
            return 0
        with self._lock:
            sockets = list(self._sockets)
        total = 0
        for sock in sockets:
            try:
                total += struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]
            except (OSError, ValueError):
                pass  # closed meanwhile
        return total

    def abort(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed already


class _Timeline:
    """(monotonic s, bytes) of every response read while recording; appended to by the library's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.samples: list[tuple[float, int]] = []
        self.recording = False

    def record(self, size: int) -> None:
        if self.recording and size:
            now = time.monotonic()
            with self._lock:
                self.samples.append((now, size))

    def restart(self) -> None:
        with self._lock:
            self.samples = []
        self.recording = True

    @property
    def payload_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self.samples)


def _tracked(base: type, connections: _Connections) -> type:
    class Tracked(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            super().connect()
            connections.opened(self.sock)
    return Tracked


class _HTTPHandler(speedtest.SpeedtestHTTPHandler):
    def __init__(self, connections: _Connections, timeout_s: float) -> None:
        super().__init__(timeout=timeout_s)
        self._connection = _tracked(speedtest.SpeedtestHTTPConnection, connections)

    def http_open(self, req):
        return self.do_open(speedtest._build_connection(self._connection, self.source_address, self.timeout), req)


class _HTTPSHandler(speedtest.SpeedtestHTTPSHandler):
    def __init__(self, connections: _Connections, timeout_s: float) -> None:
        super().__init__(timeout=timeout_s)
        self._connection = _tracked(speedtest.SpeedtestHTTPSConnection, connections)

    def https_open(self, req):
        return self.do_open(speedtest._build_connection(self._connection, self.source_address, self.timeout,
                                                        context=self._context), req)


class _TimedResponse:
    """A response whose reads land on the timeline. read(n) returns what has arrived (read1) instead of waiting
    for all n bytes: the time of each sample is then the time its bytes arrived, and a read on a slow link
    returns as soon as anything comes, so the library's own end-of-phase check is reached on time."""

    def __init__(self, response, timeline: _Timeline) -> None:
        self._response = response
        self._timeline = timeline

    def read(self, n: int | None = -1) -> bytes:
        data = self._response.read1(n) if n is not None and n > 0 else self._response.read()
        self._timeline.record(len(data))
        return data

    def __getattr__(self, name: str):
        return getattr(self._response, name)


class _TimelineProcessor(urllib.request.BaseHandler):
    handler_order = 400  # before HTTPErrorProcessor (1000), which then sees our wrapper

    def __init__(self, timeline: _Timeline) -> None:
        self._timeline = timeline

    def http_response(self, request, response):
        return _TimedResponse(response, self._timeline)

    https_response = http_response


def _build_opener(connections: _Connections, timeline: _Timeline, timeout_s: float) -> urllib.request.OpenerDirector:
    """speedtest.build_opener's handlers, with our connections and the timeline added."""
    opener = urllib.request.OpenerDirector()
    opener.addheaders = [("User-agent", speedtest.build_user_agent())]
    for handler in (urllib.request.ProxyHandler(), _HTTPHandler(connections, timeout_s),
                    _HTTPSHandler(connections, timeout_s), urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPRedirectHandler(), urllib.request.HTTPErrorProcessor(),
                    _TimelineProcessor(timeline)):
        opener.add_handler(handler)
    return opener


class _Speedtest(speedtest.Speedtest):
    """speedtest-cli's client on our opener. Its __init__ always fetches speedtest.net's configuration; given a
    configuration (self-hosted), get_config uses that instead, so nothing reaches speedtest.net."""

    def __init__(self, opener: urllib.request.OpenerDirector, *, config: dict | None, secure: bool,
                 timeout_s: float) -> None:
        self._homeshore_opener = opener
        self._homeshore_config = config
        super().__init__(timeout=timeout_s, secure=secure)

    def get_config(self):
        self._opener = self._homeshore_opener  # __init__ built its own just before
        if self._homeshore_config is None:
            return super().get_config()
        self.config.update(self._homeshore_config)
        self.lat_lon = (0.0, 0.0)
        return self.config


def rounds_for(seconds: float, round_bytes: int, minimum: int, rate_mbps: float) -> int:
    """How many rounds of a file list last `seconds` at rate_mbps, with 50 % to spare (never fewer than
    speedtest.net's own count)."""
    return max(minimum, math.ceil(1.5 * rate_mbps * 1e6 / 8 * seconds / round_bytes))


def download_count(seconds: float) -> int:
    return rounds_for(seconds, DOWNLOAD_ROUND_BYTES, DOWNLOAD_THREADS, MAX_DOWNLOAD_RATE_MBPS)


def upload_rounds(seconds: float) -> int:
    return rounds_for(seconds, sum(UPLOAD_SIZES_BYTES), 17, MAX_UPLOAD_RATE_MBPS)


def _selfhosted_config(seconds: float) -> dict:
    counts_upload = upload_rounds(seconds)
    return {
        "client": {"ip": "", "isp": "", "lat": "0", "lon": "0", "country": ""},
        "ignore_servers": [],
        "sizes": {"download": list(DOWNLOAD_SIZES), "upload": list(UPLOAD_SIZES_BYTES)},
        "counts": {"download": download_count(seconds), "upload": counts_upload},
        "threads": {"download": DOWNLOAD_THREADS, "upload": 2},
        "length": {"download": seconds, "upload": seconds},
        "upload_max": counts_upload * len(UPLOAD_SIZES_BYTES),
    }


# --- errors in one line ----------------------------------------------------------------------------------------


def _reason(error: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused", "timed out", "name not found")."""
    while isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    if isinstance(error, socket.gaierror):
        return "name not found"
    if isinstance(error, ssl.SSLError) and error.reason:  # its errno is OpenSSL's, not an OS error number
        return error.reason.lower().replace("_", " ")
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.errno is not None:
        return os.strerror(error.errno).lower()
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# --- the session -------------------------------------------------------------------------------------------------


class SpeedSession:
    """A speed test whose phases the caller runs one at a time (see the module's docstring).

    Not thread-safe: one phase at a time. A phase blocks for its length plus connection set-up (up to
    ABORT_GRACE_S more when connections have to be aborted)."""

    def __init__(self, client: _Speedtest, connections: _Connections, timeline: _Timeline, *, method: str,
                 base_url: str | None, udp_port: int | None, timeout_s: float) -> None:
        self._client = client
        self._connections = connections
        self._timeline = timeline
        self.method = method
        self._base_url = base_url
        self.udp_port = udp_port
        self._timeout_s = timeout_s
        self._phases: dict[str, PhaseResult] = {}
        best = client.best
        self.sponsor = str(best.get("sponsor", ""))
        self.name = str(best.get("name", ""))
        self.server = base_url or str(best.get("host") or urlsplit(best["url"]).netloc)
        # speedtest-cli's "ping": half a TCP connect plus a GET, to rank servers; not an RTT to report
        self.http_ping_ms = float(best["latency"]) if method == "ookla" and "latency" in best else None

    @property
    def server_url(self) -> str:
        """The server's URL: the self-hosted base URL, or the upload URL of the Ookla server chosen."""
        return self._base_url or str(self._client.best["url"])

    @classmethod
    def open(cls, server: str | None, *, timeout_s: float = TIMEOUT_S, secure: bool = False) -> SpeedSession:
        """Connect to a server: None or "ookla" for speedtest.net (configuration, server list, the nearest
        servers ranked by speedtest-cli), otherwise the URL of a `homeshore serve` (GET /homeshore.json).
        Blocks for a few round trips. Raises SpeedServerUnreachable or NotASpeedServer."""
        connections, timeline = _Connections(), _Timeline()
        opener = _build_opener(connections, timeline, timeout_s)
        if server is None or server.lower() == "ookla":
            return cls._open_ookla(opener, connections, timeline, timeout_s=timeout_s, secure=secure)
        return cls._open_selfhosted(server, opener, connections, timeline, timeout_s=timeout_s)

    @classmethod
    def _open_ookla(cls, opener, connections, timeline, *, timeout_s: float, secure: bool) -> SpeedSession:
        try:
            client = _Speedtest(opener, config=None, secure=secure, timeout_s=timeout_s)
        except speedtest.ConfigRetrievalError as error:
            raise SpeedServerUnreachable(f"cannot reach {OOKLA_CONFIG_HOST}: {_reason(error.args[0])}") from None
        except (speedtest.SpeedtestException, KeyError) as error:
            raise NotASpeedServer(f"{OOKLA_CONFIG_HOST} did not send a speedtest.net configuration: "
                                  f"{_reason(error)}") from None
        try:
            client.get_best_server()
        except speedtest.SpeedtestBestServerFailure:
            raise SpeedServerUnreachable(f"cannot reach speedtest.net's server list or any server on it "
                                         f"(via {OOKLA_CONFIG_HOST})") from None
        except speedtest.SpeedtestException as error:
            raise SpeedServerUnreachable(f"cannot choose a speedtest.net server: {_reason(error)}") from None
        if client.best.get("latency", 0) >= UNANSWERED_PING_MS:
            raise SpeedServerUnreachable(f"cannot reach speedtest.net's nearest servers "
                                         f"({client.best.get('host', '?')} did not answer)")
        return cls(client, connections, timeline, method="ookla", base_url=None, udp_port=None, timeout_s=timeout_s)

    @classmethod
    def _open_selfhosted(cls, server: str, opener, connections, timeline, *, timeout_s: float) -> SpeedSession:
        base_url = (server if "://" in server else f"http://{server}").rstrip("/")
        identity = _get_json(opener, f"{base_url}/homeshore.json", base_url, timeout_s)
        if not isinstance(identity, dict) or identity.get("service") != SERVICE:
            said = identity.get("service") if isinstance(identity, dict) else type(identity).__name__
            raise NotASpeedServer(f"{base_url} is not a homeshore server: /homeshore.json names service {said!r}")
        udp_port = identity.get("udp_port")
        client = _Speedtest(opener, config=_selfhosted_config(TIMEOUT_S), secure=False, timeout_s=timeout_s)
        host = urlsplit(base_url).netloc
        client._best.update({"url": f"{base_url}/speedtest/upload.php", "host": host, "sponsor": "homeshore",
                             "name": host, "id": 0, "d": 0, "latency": 0})
        client.results.server = client._best
        return cls(client, connections, timeline, method="selfhosted", base_url=base_url,
                   udp_port=int(udp_port) if isinstance(udp_port, int) else None, timeout_s=timeout_s)

    # --- phases ---

    def download(self, seconds: float, *, progress: Callable[[float], None] | None = None) -> PhaseResult:
        """Download for `seconds` (speedtest-cli's threads and files); goodput counted where the bytes arrive."""
        self._client.config["length"]["download"] = seconds
        if self._base_url:
            self._client.config["counts"]["download"] = download_count(seconds)
        warmup_s = warmup_for(seconds)
        self._timeline.restart()
        started_s = time.monotonic()
        try:
            with _Watchdog(self._connections, seconds, progress, at_cut_s=warmup_s) as watchdog:
                reported_bps = self._client.download()
        finally:
            self._timeline.recording = False
        duration_s = time.monotonic() - started_s
        samples = list(self._timeline.samples)
        if not samples:
            raise SpeedServerUnreachable(f"no data came from {self.server} during the download")
        phase = PhaseResult(
            direction="download",
            goodput_mbps=steady_rate_mbps(samples, start_s=started_s, warmup_s=warmup_s, phase_s=seconds,
                                          unread_at_cut_bytes=watchdog.unread_at_cut_bytes),
            counted_at="receiver", reported_mbps=reported_bps / 1e6,
            payload_bytes=sum(size for _, size in samples), duration_s=duration_s, warmup_s=warmup_s)
        self._phases["download"] = phase
        return phase

    def upload(self, seconds: float, *, progress: Callable[[float], None] | None = None) -> PhaseResult:
        """Upload for `seconds`. Self-hosted: counted by the server as the bytes arrive (its receipt); Ookla:
        speedtest-cli's count of bytes handed to the socket, labelled counted_at="sender"."""
        config = self._client.config
        config["length"]["upload"] = seconds
        test_id = secrets.token_hex(8)
        if self._base_url:
            # speedtest-cli appends "&x=..." to a URL holding "?": every POST of this phase carries the test id
            self._client._best["url"] = f"{self._base_url}/speedtest/upload.php?test={test_id}"
            rounds = upload_rounds(seconds)
            config["counts"]["upload"], config["upload_max"] = rounds, rounds * len(UPLOAD_SIZES_BYTES)
        started_s = time.monotonic()
        with _Watchdog(self._connections, seconds, progress):
            # pre_allocate=False: the library would otherwise build every request body (GBs) first
            reported_bps = self._client.upload(pre_allocate=False)
        duration_s = time.monotonic() - started_s
        warmup_s = warmup_for(seconds)
        if self._base_url is None:
            phase = PhaseResult(
                direction="upload", goodput_mbps=reported_bps / 1e6, counted_at="sender",
                reported_mbps=reported_bps / 1e6, payload_bytes=int(self._client.results.bytes_sent),
                duration_s=duration_s, warmup_s=warmup_s)
        else:
            receipt = _get_json(self._client._opener, f"{self._base_url}/speedtest/receipt?test={test_id}",
                                self._base_url, self._timeout_s)
            if not isinstance(receipt, dict) or not receipt.get("bytes"):
                raise SpeedServerUnreachable(f"no upload data reached {self._base_url}")
            phase = PhaseResult(
                direction="upload",
                goodput_mbps=steady_rate_from_bins_mbps(receipt["bins"], bin_s=float(receipt["bin_s"]),
                                                        warmup_s=warmup_s, phase_s=seconds),
                counted_at="receiver", reported_mbps=reported_bps / 1e6, payload_bytes=int(receipt["bytes"]),
                duration_s=duration_s, warmup_s=warmup_s)
        self._phases["upload"] = phase
        return phase

    def result(self) -> SpeedResult:
        """The figures of the phases run so far (None for a phase not run or failed)."""
        down, up = self._phases.get("download"), self._phases.get("upload")
        return SpeedResult(
            method=self.method, server=self.server, sponsor=self.sponsor, name=self.name, udp_port=self.udp_port,
            download_goodput_mbps=down.goodput_mbps if down else None,
            upload_goodput_mbps=up.goodput_mbps if up else None,
            upload_counted_at="receiver" if self._base_url else "sender",
            download_reported_mbps=down.reported_mbps if down else None,
            upload_reported_mbps=up.reported_mbps if up else None,
            download_bytes=down.payload_bytes if down else None, upload_bytes=up.payload_bytes if up else None,
            download_s=down.duration_s if down else None, upload_s=up.duration_s if up else None,
            download_warmup_s=down.warmup_s if down else None, upload_warmup_s=up.warmup_s if up else None,
            http_ping_ms=self.http_ping_ms)


class _Watchdog:
    """During a phase, on a helper thread: progress ticks (the fraction of the phase's length); at at_cut_s into
    the phase (the end of the warm-up), the bytes then waiting unread in the receive buffers; and ABORT_GRACE_S
    after the phase's end, a reset of the connections still open, so that a read or send blocked on a stalled
    link cannot hold the phase up to the socket timeout."""

    def __init__(self, connections: _Connections, seconds: float, progress: Callable[[float], None] | None,
                 *, at_cut_s: float | None = None) -> None:
        self._connections = connections
        self._seconds = seconds
        self._progress = progress
        self._at_cut_s = at_cut_s
        self.unread_at_cut_bytes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="speedtest-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._started_s = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        cut_s = self._started_s + self._at_cut_s if self._at_cut_s is not None else None
        abort_s = self._started_s + self._seconds + ABORT_GRACE_S
        tick_s = self._started_s + PROGRESS_INTERVAL_S
        while True:
            wake_s = min(tick_s, abort_s, cut_s if cut_s is not None else abort_s)
            if self._done.wait(max(0.0, wake_s - time.monotonic())):
                return
            now_s = time.monotonic()
            if cut_s is not None and now_s >= cut_s:
                self.unread_at_cut_bytes = self._connections.unread_bytes()
                cut_s = None
            if now_s >= tick_s:
                if self._progress is not None:
                    self._progress(min(1.0, (now_s - self._started_s) / self._seconds))
                tick_s += PROGRESS_INTERVAL_S
            if now_s >= abort_s:
                self._connections.abort()
                abort_s += ABORT_GRACE_S


def _get_json(opener: urllib.request.OpenerDirector, url: str, base_url: str, timeout_s: float) -> object:
    """GET url through the opener, parsed as JSON; the failures as one-line SpeedTestErrors naming base_url."""
    path = url[len(base_url):].split("?")[0] or "/"
    try:
        response = opener.open(url, timeout=timeout_s)
        try:
            body = response.read()
        finally:
            response.close()
    except urllib.error.HTTPError as error:
        raise NotASpeedServer(f"{base_url} is not a homeshore server: {path} answered {error.code} "
                              f"{error.reason}") from None
    except OSError as error:  # URLError, timeouts, resets
        raise SpeedServerUnreachable(with_hint(f"cannot reach {base_url}: {_reason(error)}", base_url, error)) \
            from None
    try:
        return json.loads(body)
    except ValueError:
        raise NotASpeedServer(f"{base_url} is not a homeshore server: {path} is not JSON") from None


"""V1Writer against a real influxd 1.6 with authentication on (tests/references/influxd.py): every measurement
of the schema comes back with its values, types and tags, gzip on and off; wrong password, unknown database,
missing WRITE privilege, a malformed line; a closed port and a peer that never answers.

Some answers influxd 1.6 never gives (429/503 with Retry-After, an error body echoing the Authorization header,
a reverse proxy's path prefix, an idle connection closed by a proxy, a self-signed TLS certificate): those are
produced by a small local HTTP server in this file, a legitimate test peer for what the real server cannot do.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import http.server
import socket
import ssl
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pytest

from homeshore.collector.schema import MEASUREMENTS, Sample, to_line_protocol
from homeshore.collector.writer import WriteOutcome
from homeshore.collector.writer_v1 import V1Writer
from tests.conftest import require_tool
from tests.references.http_peer import queued_connections, serving
from tests.references.influxd import InfluxServer, closed_port, quote_ident

WRITER = ("writer", "wr1ter-Pa55word")
T0 = 1_700_000_000_000_000_000

SAMPLES = [
    Sample("bandwidth", {"agent": "home 1", "area": "NG5", "conn": "wired", "server": "Ookla, Nottingham"},
           {"download_mbps": 72.5, "upload_mbps": 18.25, "idle_rtt_ms": 12.0, "loaded_rtt_down_ms": 48.5,
            "loaded_rtt_up_ms": 95.0, "jitter_ms": 1.5, "loss_pct": 0.0, "bytes_used": 2.1e8, "duration_s": 31.0},
           T0),
    Sample("voip_test", {"agent": "home 1", "area": "NG5", "codec": "PCMA", "direction": "up", "conn": "wifi",
                         "server": "reflector=a"},
           {"rtt_ms": 21.5, "jitter_ms": 3.25, "loss_pct": 0.5, "burst_loss_pct": 0.0, "r_factor": 88.1, "mos": 4.3},
           T0 + 1),
    Sample("call", {"agent": "home 1", "area": "NG5", "site": "Mansfield hub, floor 2", "conn": "wired",
                    "codec": "PCMU", "direction": "inbound", "phase": "window"},
           {"packets": 500.0, "lost": 2.0, "loss_pct": 0.4, "jitter_ms": 4.5, "max_jitter_ms": 9.0,
            "reordered": 0.0, "duplicates": 1.0, "discarded_pct": 0.2, "rtt_ms": 35.0, "r_factor": 90.2,
            "mos": 4.35, "call_key": 'k "quoted" \\ back\\slash, = done\\'},
           T0 + 2),
    Sample("host", {"agent": "home 2", "area": "S1", "team": "a\\b", "conn": "wifi"},
           {"cpu_pct": 12.5, "mem_pct": 63.0, "rx_mbps": 1.25, "tx_mbps": 0.5, "wifi_signal_dbm": -61.0,
            "link_mbps": 866.0}, T0 + 3),
    Sample("readiness", {"agent": "home 2", "area": "S1", "conn": "wired", "server": "ookla"},
           {"verdict": "FAIL", "download": True, "upload": False, "candidate": 'O\'Brien "Jo" \\ test'}, T0 + 4),
    Sample("agent", {"agent": "home=3", "area": "LS1"},
           {"spool_rows": 10.0, "spool_dropped": 0.0, "write_errors": 1.0, "packets_seen": 1.2e6,
            "capture_drops": 0.0}, T0 + 5),
]


@pytest.fixture(scope="module")
def influx() -> Iterator[InfluxServer]:
    with InfluxServer(auth=True) as server:
        server.query(f"CREATE USER {WRITER[0]} WITH PASSWORD '{WRITER[1]}'")
        yield server


def database(influx: InfluxServer, name: str, *, grant: bool = True) -> str:
    influx.query(f"CREATE DATABASE {name}")
    if grant:
        influx.query(f"GRANT WRITE ON {name} TO {WRITER[0]}")
    return name


def writer(influx: InfluxServer, db: str, **options) -> V1Writer:
    options.setdefault("username", WRITER[0])
    options.setdefault("password", WRITER[1])
    options.setdefault("timeout_s", 10.0)
    return V1Writer(influx.url, db, **options)


def stored_samples(influx: InfluxServer, db: str, measurement: str) -> set[Sample]:
    schema = MEASUREMENTS[measurement]
    out = set()
    for row in influx.rows(f"SELECT * FROM {quote_ident(measurement)}", db):
        tags = {key: value for key, value in row.items() if key in schema.tag_keys and value not in (None, "")}
        fields = {key: value for key, value in row.items()
                  if key != "time" and key not in schema.tag_keys and value is not None}
        out.add(Sample(measurement, tags, fields, row["time"]))
    return out


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_every_measurement_comes_back_with_its_values_types_and_tags(influx: InfluxServer, compress: bool) -> None:
    db = database(influx, f"roundtrip_{'gzip' if compress else 'plain'}")
    w = writer(influx, db, gzip=compress)
    try:
        result = w.write([to_line_protocol(sample) for sample in SAMPLES])
    finally:
        w.close()
    assert (result.outcome, result.status, result.message) == (WriteOutcome.OK, 204, "")
    for sample in SAMPLES:
        assert stored_samples(influx, db, sample.measurement) == {sample}
        schema = MEASUREMENTS[sample.measurement]
        types = {row["fieldKey"]: row["fieldType"]
                 for row in influx.rows(f"SHOW FIELD KEYS FROM {quote_ident(sample.measurement)}", db)}
        assert types == {key: "string" if key in schema.string_fields else "float" for key in sample.fields}


def test_one_connection_serves_many_writes_and_the_description_names_no_secret(influx: InfluxServer) -> None:
    db = database(influx, "reuse")
    w = writer(influx, db)
    try:
        for i in range(5):
            assert w.write([f"host,agent=a cpu_pct={i}.0 {T0 + i}"]).outcome is WriteOutcome.OK
        connection = w._connection
        assert connection is not None
        assert w.write([f"host,agent=a cpu_pct=9.0 {T0 + 9}"]).outcome is WriteOutcome.OK
        assert w._connection is connection  # kept alive, not one TCP handshake per batch
    finally:
        w.close()
    assert influx.rows("SELECT count(cpu_pct) FROM host", db)[0]["count"] == 6
    assert w.description == f"InfluxDB v1 {influx.url} database {db}"
    assert WRITER[1] not in repr(w) and WRITER[1] not in w.description


def test_a_wrong_password_is_refused_in_one_line_without_the_password(influx: InfluxServer) -> None:
    db = database(influx, "wrongpass")
    password = "not-the-Right-one-42"
    w = writer(influx, db, password=password)
    try:
        result = w.write([f"host,agent=a cpu_pct=1.0 {T0}"])
    finally:
        w.close()
    assert (result.outcome, result.status) == (WriteOutcome.REFUSED, 401)
    assert result.message == "HTTP 401: authorization failed"
    assert password not in result.message
    assert influx.rows("SELECT * FROM host", db) == []


def test_an_unknown_database_is_refused_and_the_data_kept_not_quarantined(influx: InfluxServer) -> None:
    """404 "database not found" is a configuration error: REFUSED (rows stay in the spool), never MALFORMED."""
    w = writer(influx, "does_not_exist")
    try:
        result = w.write([f"host,agent=a cpu_pct=1.0 {T0}"])
    finally:
        w.close()
    assert (result.outcome, result.status) == (WriteOutcome.REFUSED, 404)
    assert result.message == 'HTTP 404: database not found: "does_not_exist"'


def test_a_user_without_write_privilege_is_refused(influx: InfluxServer) -> None:
    db = database(influx, "not_granted", grant=False)
    w = writer(influx, db)
    try:
        result = w.write([f"host,agent=a cpu_pct=1.0 {T0}"])
    finally:
        w.close()
    assert (result.outcome, result.status) == (WriteOutcome.REFUSED, 403)
    assert "not authorized to write" in result.message


def test_a_batch_with_one_malformed_line_is_malformed_and_influxd_16_keeps_the_others(influx: InfluxServer) -> None:
    """What collector/flush.py relies on being harmless: influxd 1.6 stores the valid lines of such a batch and
    answers 400 "partial write"; the flush's bisection resends them, overwriting with the same values."""
    db = database(influx, "malformed")
    lines = [f"host,agent=a cpu_pct={i}.5 {T0 + i}" for i in range(5)]
    lines.insert(2, "host,agent=a cpu_pct= 12")
    w = writer(influx, db)
    try:
        result = w.write(lines)
        assert (result.outcome, result.status) == (WriteOutcome.MALFORMED, 400)
        assert "unable to parse 'host,agent=a cpu_pct= 12'" in result.message
        assert "\n" not in result.message
        assert influx.rows("SELECT count(cpu_pct) FROM host", db)[0]["count"] == 5  # partial write
        assert w.write([lines[0], lines[3]]).outcome is WriteOutcome.OK  # the resend bisection makes
    finally:
        w.close()
    assert [row["cpu_pct"] for row in influx.rows("SELECT cpu_pct FROM host", db)] == [0.5, 1.5, 2.5, 3.5, 4.5]


def test_a_closed_port_is_retry() -> None:
    with closed_port() as port:
        w = V1Writer(f"http://127.0.0.1:{port}", "db", username="u", password="secret-pw", timeout_s=2)
        try:
            result = w.write(["host,agent=a cpu_pct=1.0 1"])
        finally:
            w.close()
    assert (result.outcome, result.status, result.retry_after_s) == (WriteOutcome.RETRY, None, None)
    assert "ConnectionRefusedError" in result.message


def test_an_unknown_host_is_retry() -> None:
    w = V1Writer("http://collector.invalid:8086", "db", timeout_s=2)  # RFC 6761: .invalid never resolves
    try:
        result = w.write(["host,agent=a cpu_pct=1.0 1"])
    finally:
        w.close()
    assert (result.outcome, result.status) == (WriteOutcome.RETRY, None)
    assert "gaierror" in result.message


def test_a_peer_that_never_answers_is_retry_after_the_timeout() -> None:
    """A listening socket that never accepts: the kernel completes the handshake and buffers the request, and
    no answer ever comes, which is what a hung server or a black-holing middlebox looks like."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        w = V1Writer(f"http://127.0.0.1:{silent.getsockname()[1]}", "db", timeout_s=0.5)
        started = time.monotonic()
        try:
            result = w.write(["host,agent=a cpu_pct=1.0 1"])
        finally:
            w.close()
        elapsed_s = time.monotonic() - started
        connections = queued_connections(silent)
    assert (result.outcome, result.status) == (WriteOutcome.RETRY, None)
    assert "timed out" in result.message
    assert elapsed_s >= 0.45  # the timeout given was waited for (a lower bound: load only lengthens it)
    assert connections == 1  # and the request was not tried again


@pytest.mark.parametrize("url", ["ftp://host/", "localhost:8086", "http://user:pw@host:8086", "http://"])
def test_bad_urls_are_refused_without_echoing_credentials(url: str) -> None:
    with pytest.raises(ValueError) as error:
        V1Writer(url, "db")
    assert "pw" not in str(error.value) and "\n" not in str(error.value)


# --- a local HTTP peer, for the answers influxd 1.6 never gives ---------------------------------------------

@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which TCP connection carried it (0, 1, ...)

    def lines(self) -> list[str]:
        data = gzip.decompress(self.body) if self.headers.get("Content-Encoding") == "gzip" else self.body
        return data.decode().split("\n")


@dataclass
class Peer:
    url: str
    requests: list[Request] = field(default_factory=list)


Reply = Callable[[Request], tuple[int, dict[str, str], bytes]]


@contextmanager
def peer(reply: Reply, *, close_silently: bool = False, tls: ssl.SSLContext | None = None) -> Iterator[Peer]:
    """An HTTP/1.1 server on a loopback port answering each request with `reply`; `close_silently` closes the
    connection after each answer without saying so (as a proxy's idle timeout does)."""
    connections = iter(range(1_000_000))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection_number = next(connections)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = Request("POST", self.path, dict(self.headers), body, self.connection_number)
            state.requests.append(request)
            status, headers, payload = reply(request)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            if close_silently:
                self.close_connection = True

        def log_message(self, *_args) -> None:
            pass

    state = Peer("")
    with serving(Handler, tls=tls) as url:
        state.url = url
        yield state


def no_content(_request: Request) -> tuple[int, dict[str, str], bytes]:
    return 204, {}, b""


def test_the_request_keeps_the_path_prefix_and_sends_credentials_only_in_the_header() -> None:
    lines = [to_line_protocol(sample) for sample in SAMPLES]
    with peer(no_content) as server:
        w = V1Writer(server.url + "/influx/", "home shore", retention_policy="one year", username="u",
                     password="p@ss word")
        try:
            assert w.write(lines).outcome is WriteOutcome.OK
        finally:
            w.close()
    (request,) = server.requests
    assert request.target == "/influx/write?db=home+shore&precision=ns&rp=one+year"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p@ss word").decode()
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert request.lines() == lines
    assert "p%40ss" not in request.target and "u=" not in request.target


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_or_as_a_date_is_read(status: int) -> None:
    """influxd 1.6 never sends 429 or 503 with Retry-After (2.x, Cloud and proxies do): a local peer does."""
    answers = iter([{"Retry-After": "17"}, {"Retry-After": email.utils.formatdate(time.time() + 120, usegmt=True)},
                    {}])
    with peer(lambda _r: (status, next(answers), b'{"error":"slow down"}')) as server:
        w = V1Writer(server.url, "db")
        try:
            seconds, dated, absent = (w.write(["host,agent=a cpu_pct=1.0 1"]) for _ in range(3))
        finally:
            w.close()
    assert (seconds.outcome, seconds.status, seconds.retry_after_s) == (WriteOutcome.RETRY, status, 17.0)
    assert seconds.message == f"HTTP {status}: slow down"
    assert dated.outcome is WriteOutcome.RETRY and 110.0 <= dated.retry_after_s <= 120.0
    assert absent.outcome is WriteOutcome.RETRY and absent.retry_after_s is None


def test_a_server_echoing_the_authorization_header_gets_no_secret_into_the_message() -> None:
    password = "Echo-Me-If-You-Dare-99"

    def echo(request: Request) -> tuple[int, dict[str, str], bytes]:
        header = request.headers["Authorization"]
        raw = base64.b64decode(header.split()[1]).decode()
        return 401, {}, f'{{"error":"bad credentials {header} ({raw})"}}'.encode()

    with peer(echo) as server:
        w = V1Writer(server.url, "db", username="writer", password=password)
        try:
            result = w.write(["host,agent=a cpu_pct=1.0 1"])
        finally:
            w.close()
    basic = base64.b64encode(f"writer:{password}".encode()).decode()
    assert result.outcome is WriteOutcome.REFUSED
    assert password not in result.message and basic not in result.message
    assert result.message == "HTTP 401: bad credentials Basic [redacted] (writer:[redacted])"


def test_an_idle_connection_closed_by_the_other_end_is_replaced_and_the_write_delivered() -> None:
    with peer(no_content, close_silently=True) as server:
        w = V1Writer(server.url, "db")
        try:
            results = [w.write([f"host,agent=a cpu_pct={i}.0 {i}"]) for i in range(3)]
        finally:
            w.close()
    assert [r.outcome for r in results] == [WriteOutcome.OK] * 3
    assert [r.lines() for r in server.requests] == [[f"host,agent=a cpu_pct={i}.0 {i}"] for i in range(3)]
    assert len({r.connection for r in server.requests}) == 3


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> ssl.SSLContext:
    openssl = require_tool("openssl")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_tls_is_verified_unless_the_configuration_says_otherwise(self_signed: ssl.SSLContext, caplog) -> None:
    with peer(no_content, tls=self_signed) as server:
        verified = V1Writer(server.url, "db", timeout_s=5)
        unverified = V1Writer(server.url, "db", timeout_s=5, verify_tls=False)
        try:
            refused = verified.write(["host,agent=a cpu_pct=1.0 1"])
            accepted = unverified.write(["host,agent=a cpu_pct=2.0 2"])
        finally:
            verified.close()
            unverified.close()
    assert (refused.outcome, refused.status) == (WriteOutcome.RETRY, None)
    assert "CERTIFICATE_VERIFY_FAILED" in refused.message
    assert accepted.outcome is WriteOutcome.OK
    assert [r.lines() for r in server.requests] == [["host,agent=a cpu_pct=2.0 2"]]
    warnings = [r.getMessage() for r in caplog.records if "verification is off" in r.getMessage()]
    assert warnings == [f"TLS certificate verification is off for {server.url} (verify_tls = false)"]

"""V2Writer (influxdb-client, v2 write API) against a RECORDED contract, not a real server: no InfluxDB 2.x or
3.x can be installed on these machines (DESIGN.md, "Test environment").

tests/data/influx_v2_write_contract.json holds the request the v2 API reference prescribes (POST
/api/v2/write, org/bucket/precision in the query, `Authorization: Token ...`, gzip, text/plain; charset=utf-8)
and the responses InfluxDB 2.x gives, copied with their sources from the API reference and from InfluxDB's
own write-handler tests. A small http.server on a loopback port checks every request the writer sends
against the recorded request and replays one recorded response; the test asserts the WriteResult. The
transport failures (refused, silent peer) need no recording and are real.
"""

from __future__ import annotations

import gzip
import http.server
import json
import socket
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import pytest

from homeshore.collector.writer import WriteOutcome
from homeshore.collector.writer_v2 import V2Writer
from tests.conftest import REPO
from tests.references.http_peer import queued_connections, serving
from tests.references.influxd import closed_port

CONTRACT = json.loads((REPO / "tests" / "data" / "influx_v2_write_contract.json").read_text())
ORG, BUCKET, TOKEN = "contact centre", "homeshore", "tok-3xAmPle_SECRET=="
LINES = [
    'call,agent=home\\ 1,area=NG5,phase=window call_key="k \\"q\\" \\\\",mos=4.2 1700000000000000000',
    "host,agent=home\\ 1,area=NG5,conn=wifi cpu_pct=12.5,mem_pct=50.0 1700000000000000001",
]


@dataclass
class Recorder:
    url: str
    mismatches: list[str] = field(default_factory=list)
    bodies: list[list[str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def expected_request(*, compressed: bool = True) -> dict:
    request = CONTRACT["request"]
    fill = {"{org}": ORG, "{bucket}": BUCKET, "{token}": TOKEN}
    query = {key: fill.get(value, value) for key, value in request["query"].items()}
    headers = {key: [v.replace("{token}", TOKEN) for v in (value if isinstance(value, list) else [value])]
               for key, value in request["headers"].items()}  # each header: the values accepted
    if not compressed:
        del headers["Content-Encoding"]
    return {"method": request["method"], "path": request["path"], "query": query, "headers": headers}


@contextmanager
def replaying(response: dict, *, compressed: bool = True) -> Iterator[Recorder]:
    """Checks each request against the recorded one, then answers with `response` (status, headers, body)."""
    want = expected_request(compressed=compressed)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            target = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(target.query))
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if target.path != want["path"]:
                recorder.mismatches.append(f"path {target.path!r}")
            if query != want["query"]:
                recorder.mismatches.append(f"query {query!r}")
            for key, accepted in want["headers"].items():
                if self.headers.get(key) not in accepted:
                    recorder.mismatches.append(f"header {key}: {self.headers.get(key)!r}")
            if not compressed and self.headers.get("Content-Encoding") not in (None, "identity"):
                recorder.mismatches.append(f"Content-Encoding {self.headers.get('Content-Encoding')!r}")
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            recorder.bodies.append(body.decode().split("\n"))
            recorder.headers.append(dict(self.headers))
            payload = response["body"].encode()
            self.send_response(response["status"])
            for key, value in response["headers"].items():
                self.send_header(key, value)
            if response["status"] != 204:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if response["status"] != 204:
                self.wfile.write(payload)

        def log_message(self, *_args) -> None:
            pass

    recorder = Recorder("")
    with serving(Handler) as url:
        recorder.url = url
        yield recorder


def test_the_recorded_contract_names_its_sources_and_says_why_it_exists() -> None:
    assert "No InfluxDB 2.x or 3.x server can be installed" in CONTRACT["about"]
    assert {r["status"] for r in CONTRACT["responses"]} >= {204, 400, 401, 404, 413, 429, 500, 503}
    for response in CONTRACT["responses"]:
        assert response["source"] and response["expect"]["outcome"] in {o.value for o in WriteOutcome}


@pytest.mark.parametrize("response", CONTRACT["responses"], ids=[r["name"] for r in CONTRACT["responses"]])
def test_each_recorded_response_becomes_the_recorded_result(response: dict) -> None:
    with replaying(response) as server:
        writer = V2Writer(server.url, token=TOKEN, org=ORG, bucket=BUCKET, timeout_s=5)
        try:
            result = writer.write(LINES)
        finally:
            writer.close()
    assert server.mismatches == []
    assert server.bodies == [LINES]  # exactly one request: the client did not retry behind our back
    expect = response["expect"]
    assert result.outcome is WriteOutcome(expect["outcome"])
    assert result.status == expect["status"]
    assert result.retry_after_s == expect["retry_after_s"]
    assert result.message == expect["message"]
    assert TOKEN not in result.message


def test_without_gzip_the_body_is_plain_line_protocol() -> None:
    with replaying(CONTRACT["responses"][0], compressed=False) as server:
        writer = V2Writer(server.url, token=TOKEN, org=ORG, bucket=BUCKET, gzip=False)
        try:
            assert writer.write(LINES).outcome is WriteOutcome.OK
        finally:
            writer.close()
    assert server.mismatches == [] and server.bodies == [LINES]


def test_a_server_echoing_the_token_gets_no_secret_into_the_message() -> None:
    echo = {"status": 401, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"code": "unauthorized", "message": f"bad header Authorization: Token {TOKEN}"})}
    with replaying(echo) as server:
        writer = V2Writer(server.url, token=TOKEN, org=ORG, bucket=BUCKET)
        try:
            result = writer.write(LINES)
        finally:
            writer.close()
    assert result.outcome is WriteOutcome.REFUSED
    assert result.message == "HTTP 401: unauthorized: bad header Authorization: Token [redacted]"
    assert TOKEN not in repr(writer) and TOKEN not in writer.description


def test_a_closed_port_is_retry_at_once() -> None:
    with closed_port() as port:
        writer = V2Writer(f"http://127.0.0.1:{port}", token=TOKEN, org=ORG, bucket=BUCKET, timeout_s=5)
        try:
            result = writer.write(LINES)
        finally:
            writer.close()
    assert (result.outcome, result.status) == (WriteOutcome.RETRY, None)
    assert "NewConnectionError" in result.message and TOKEN not in result.message


def test_a_peer_that_hangs_up_is_retry_after_one_connection() -> None:
    """No urllib3 retries behind the flush loop's back: a peer that closes every connection without answering
    sees exactly one (urllib3's default Retry would come back three more times, with backoff)."""
    connections = []

    class HangsUp(http.server.BaseHTTPRequestHandler):
        def handle(self) -> None:  # reads nothing, answers nothing; the server then closes the connection
            connections.append(self.client_address)

    with serving(HangsUp) as url:
        writer = V2Writer(url, token=TOKEN, org=ORG, bucket=BUCKET, timeout_s=5)
        try:
            result = writer.write(LINES)
        finally:
            writer.close()
    assert (result.outcome, result.status) == (WriteOutcome.RETRY, None), result
    assert len(connections) == 1, connections


def test_a_peer_that_never_answers_is_retry_after_the_timeout() -> None:
    """A listening socket that never accepts: the request is buffered by the kernel and never answered."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        writer = V2Writer(f"http://127.0.0.1:{silent.getsockname()[1]}", token=TOKEN, org=ORG, bucket=BUCKET,
                          timeout_s=0.5)
        started = time.monotonic()
        try:
            result = writer.write(LINES)
        finally:
            writer.close()
        elapsed_s = time.monotonic() - started
        connections = queued_connections(silent)
    assert (result.outcome, result.status) == (WriteOutcome.RETRY, None)
    assert "timed out" in result.message.lower()
    assert elapsed_s >= 0.45  # the timeout given was waited for (a lower bound: load only lengthens it)
    assert connections == 1  # and the request was not tried again

"""collector/provision_v2.py against a recorded contract of the InfluxDB 2.x API, not a real server.

No InfluxDB 2.x can be installed where these tests run, so tests/data/influx_v2_provision_contract.json holds
the exchanges `homeshore collector init --api v2` must have with one, written from the v2 API reference. A tiny
local http.server replays them in order and checks every request: method, path, query string, the admin token
and the JSON body (as a subset). A request the contract does not expect is answered 599 and recorded as a
failure, and a run must consume every exchange. This proves what we send and how we read the documented answers;
it cannot prove that a real 2.x server accepts the Flux task.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from influxdb_client import InfluxDBClient

from homeshore.collector.provision import v2_plan
from homeshore.collector.provision_v1 import SecretStore
from homeshore.collector.provision_v2 import ProvisionError, provision_v2

CONTRACT = json.loads((Path(__file__).parents[1] / "data" / "influx_v2_provision_contract.json").read_text())
PLAN = v2_plan("contact-centre", "homeshore", ["site-a"])
FLUX = "<the plan's flux>"


def _resolve(value):
    if value == FLUX:
        return PLAN.task_flux
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def _subset_problems(expected, actual, where: str = "body") -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        return [p for key, value in expected.items()
                for p in (_subset_problems(value, actual[key], f"{where}.{key}") if key in actual
                          else [f"{where}.{key} missing"])]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {len(expected)} items, got {actual!r}"]
        return [p for i, (e, a) in enumerate(zip(expected, actual)) for p in _subset_problems(e, a, f"{where}[{i}]")]
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]


class ContractServer:
    """Replays one scenario; `problems` lists every request that broke the contract."""

    def __init__(self, scenario: str) -> None:
        self.exchanges = _resolve(CONTRACT["scenarios"][scenario])
        self.served = 0
        self.problems: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = owner.handle(self.command, self.path, self.headers.get("Authorization"), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *_args) -> None:
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> tuple[int, object]:
        if self.served >= len(self.exchanges):
            self.problems.append(f"unexpected extra request {method} {target}")
            return 599, {"code": "contract", "message": "no more exchanges"}
        expected = self.exchanges[self.served]
        self.served += 1
        request = expected["request"]
        parts = urlsplit(target)
        seen = f"{method} {target}"
        if (method, parts.path) != (request["method"], request["path"]):
            self.problems.append(f"expected {request['method']} {request['path']}, got {seen}")
        if dict(parse_qsl(parts.query)) != request["query"]:
            self.problems.append(f"{seen}: expected query {request['query']}")
        if authorization != f"Token {CONTRACT['admin_token']}":
            self.problems.append(f"{seen}: not authenticated with the admin token")
        if "json" in request:
            self.problems += [f"{seen}: {p}" for p in _subset_problems(request["json"], json.loads(body or b"null"))]
        return expected["response"]["status"], expected["response"]["json"]

    def __enter__(self) -> ContractServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


def run(server: ContractServer, store: SecretStore):
    client = InfluxDBClient(url=server.url, token=CONTRACT["admin_token"], org="contact-centre", retries=False)
    try:
        return provision_v2(client, PLAN, store)
    finally:
        client.close()


def test_first_run_creates_buckets_task_write_only_tokens_and_dbrps(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    with ContractServer("first_run") as server:
        outcomes = run(server, store)
    assert server.problems == [] and server.served == len(server.exchanges)
    assert [(o.kind, o.name, o.status) for o in outcomes] == [
        ("bucket", "homeshore", "created"), ("bucket", "homeshore_hourly", "created"),
        ("task", "homeshore_downsample_hourly", "created"),
        ("authorization", "site-a", "created"), ("authorization", "grafana", "created"),
        ("dbrp", "homeshore/raw", "created"), ("dbrp", "homeshore/hourly", "created")]
    tokens = {a["response"]["json"]["description"]: a["response"]["json"]["token"]
              for a in CONTRACT["scenarios"]["first_run"] if a["request"]["path"] == "/api/v2/authorizations"
              and a["request"]["method"] == "POST"}
    assert store.read("site-a", "token") == tokens["homeshore writer site-a"]
    assert store.read("grafana", "token") == tokens["homeshore reader grafana"]
    assert stat.S_IMODE(store.path("site-a", "token").stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


def test_second_run_creates_nothing_and_keeps_the_token_files(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    store.write("site-a", "token", "kept-token")
    with ContractServer("second_run") as server:
        outcomes = run(server, store)
    assert server.problems == [] and server.served == len(server.exchanges)  # no POST was sent
    assert {o.status for o in outcomes} == {"present"}
    assert store.read("site-a", "token") == "kept-token" and store.read("grafana", "token") is None


def test_a_refused_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    with ContractServer("unauthorized") as server:
        with pytest.raises(ProvisionError) as caught:
            run(server, SecretStore(tmp_path / "secrets"))
    assert caught.value.kind == "unauthorized" and server.url in str(caught.value)
    assert CONTRACT["admin_token"] not in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "secrets").exists()


def test_the_cli_prints_the_v2_snippet(tmp_path: Path) -> None:
    token_file = tmp_path / "admin.token"
    token_file.write_text(CONTRACT["admin_token"])
    token_file.chmod(0o600)
    with ContractServer("first_run") as server:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("homeshore")), "collector", "init", "--api", "v2", "--url", server.url,
             "--org", "contact-centre", "--writer", "site-a", "--secrets-dir", str(tmp_path / "s"),
             "--admin-token-file", str(token_file), "--json"],
            capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert server.problems == []
    report = json.loads(result.stdout)
    snippet = report["agent_config"]["site-a"]
    import tomllib
    assert tomllib.loads(snippet)["collector"] == {"url": server.url, "api": "v2", "org": "contact-centre",
                                                   "bucket": "homeshore", "token_file": "/etc/homeshore/collector.token"}
    assert "site-a-token" not in result.stdout + result.stderr


def test_an_unreachable_collector_is_named(tmp_path: Path) -> None:
    from tests.references.influxd import closed_port

    with closed_port() as port:
        url = f"http://127.0.0.1:{port}"
        client = InfluxDBClient(url=url, token=CONTRACT["admin_token"], org="contact-centre", retries=False)
        with pytest.raises(ProvisionError) as caught:
            provision_v2(client, PLAN, SecretStore(tmp_path / "secrets"))
        client.close()
    assert caught.value.kind == "unreachable" and f"cannot reach the collector at {url}" in str(caught.value)

"""`homeshore collector alerts` against a real influxd 1.6 and a real HTTP receiver (http.server on a port bound
at 0): a poor call that stays poor over several evaluations, and across a restart, is one POST; a clean call
none; a call that recovers one resolved POST; bad options one line and exit 2. Incidents over time (end, start
again) through the pure grouping."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from homeshore.collector.alert_incidents import (Firing, OpenIncident, ended_incidents, new_incidents,
                                                 resolved_payload, webhook_payload)
from homeshore.collector.alert_rules import RULES
from homeshore.collector.schema import Sample, to_line_protocol
from tests.cli.one_line import assert_one_line_exit_2
from tests.cli.test_collector_init import CONSOLE_SCRIPT
from tests.references.influxd import InfluxServer, closed_port

DATABASE = "homeshore"


class Receiver:
    """A webhook: records each POSTed JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def call_windows(agent: str, mos: float, start_s: int, end_s: int) -> list[Sample]:
    tags = {"agent": agent, "conn": "wired", "codec": "PCMA", "direction": "outbound", "phase": "window"}
    return [Sample("call", tags, {"mos": mos, "call_key": f"k-{agent}"}, t * 10**9)
            for t in range(start_s, end_s, 10)]


@pytest.fixture(scope="module")
def influx() -> Iterator[InfluxServer]:
    """A poor call and a clean call, a window every 10 s from 5 minutes ago to 20 minutes ahead, so that every
    evaluation the test makes sees windows in its last 30 s whatever the machine's load."""
    now_s = int(time.time())
    with InfluxServer() as server:
        server.query(f'CREATE DATABASE {DATABASE} WITH DURATION 90d REPLICATION 1 NAME "raw"')
        samples = call_windows("agent-poor", 2.4, now_s - 300, now_s + 1200)
        samples += call_windows("agent-clean", 4.3, now_s - 300, now_s + 1200)
        assert server.write([to_line_protocol(s) for s in samples], DATABASE).status == 204
        yield server


def alerts(*args: str) -> list[str]:
    return [str(CONSOLE_SCRIPT), "collector", "alerts", *args]


def test_one_post_per_incident_across_evaluations_and_a_restart(influx: InfluxServer, tmp_path: Path) -> None:
    state = tmp_path / "alerts.json"
    with Receiver() as receiver:
        common = ("--url", influx.url, "--webhook", receiver.url, "--state-file", str(state))
        with subprocess.Popen(alerts(*common, "--interval", "0.2"), stdout=subprocess.PIPE, text=True) as loop:
            assert loop.stdout is not None
            lines = [loop.stdout.readline() for _ in range(4)]  # four evaluations, each a line
            loop.terminate()
        assert lines[0].startswith("1 firing, 1 new incidents sent") and all(
            line.startswith("1 firing, 0 new incidents sent") for line in lines[1:]), lines
        restarted = subprocess.run(alerts(*common, "--once"), capture_output=True, text=True, timeout=60)
        assert restarted.returncode == 0 and restarted.stdout.startswith("1 firing, 0 new"), restarted
    assert len(receiver.bodies) == 1
    alert = receiver.bodies[0]["alerts"][0]
    assert alert["labels"] == {"alertname": "Call MOS below 3.1 for 30 s", "rule_uid": "homeshore-call-mos-low",
                               "agent": "agent-poor", "direction": "outbound"}
    assert alert["values"] == {"B": 2.4} and receiver.bodies[0]["status"] == "firing"
    assert "k-agent-poor" not in json.dumps(receiver.bodies)  # headers only: no call key in the alert


def test_failed_post_is_sent_again(influx: InfluxServer, tmp_path: Path) -> None:
    state = tmp_path / "alerts.json"
    with closed_port() as port:
        failed = subprocess.run(alerts("--url", influx.url, "--webhook", f"http://127.0.0.1:{port}/",
                                       "--state-file", str(state), "--once"), capture_output=True, text=True,
                                timeout=60)
    assert failed.returncode == 1 and "cannot reach the webhook" in failed.stderr, failed
    with Receiver() as receiver:
        again = subprocess.run(alerts("--url", influx.url, "--webhook", receiver.url, "--state-file", str(state),
                                      "--once"), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and len(receiver.bodies) == 1, again


def test_an_incident_that_ends_is_resolved_once_and_across_restarts(tmp_path: Path) -> None:
    """A call poor, then recovered (the same points overwritten with a good MOS: same series and times), then
    poor again, each evaluation a new process (--once) with the state file between them: firing, resolved,
    firing; a resolved POST that failed is sent at the next evaluation, and only once."""
    now_s = int(time.time())
    state = tmp_path / "alerts.json"
    with InfluxServer() as server, Receiver() as receiver:
        server.query(f'CREATE DATABASE {DATABASE} WITH DURATION 90d REPLICATION 1 NAME "raw"')

        def call(mos: float) -> None:
            samples = call_windows("agent-recovers", mos, now_s - 300, now_s + 1200)
            assert server.write([to_line_protocol(s) for s in samples], DATABASE).status == 204

        def once(webhook: str = receiver.url) -> subprocess.CompletedProcess:
            return subprocess.run(alerts("--url", server.url, "--webhook", webhook, "--state-file", str(state),
                                         "--once"), capture_output=True, text=True, timeout=60)

        call(2.4)
        runs = [once(), once()]
        call(4.3)
        with closed_port() as port:
            failed = once(f"http://127.0.0.1:{port}/")
        runs += [once(), once()]
        call(2.4)
        runs.append(once())
    assert [run.stdout for run in runs] == [
        "1 firing, 1 new incidents sent, 0 resolved, 0 failed\n",
        "1 firing, 0 new incidents sent, 0 resolved, 0 failed\n",
        "0 firing, 0 new incidents sent, 1 resolved, 0 failed\n",
        "0 firing, 0 new incidents sent, 0 resolved, 0 failed\n",
        "1 firing, 1 new incidents sent, 0 resolved, 0 failed\n"], [(run.stdout, run.stderr) for run in runs]
    assert failed.returncode == 1 and "cannot reach the webhook" in failed.stderr, failed
    assert [body["status"] for body in receiver.bodies] == ["firing", "resolved", "firing"]
    first, resolved, again = (body["alerts"][0] for body in receiver.bodies)
    assert resolved["status"] == "resolved" and resolved["labels"] == first["labels"] == again["labels"] == {
        "alertname": "Call MOS below 3.1 for 30 s", "rule_uid": "homeshore-call-mos-low", "agent": "agent-recovers",
        "direction": "outbound"}
    assert resolved["startsAt"] == first["startsAt"] and resolved["values"] == first["values"] == {"B": 2.4}
    assert first["startsAt"] < resolved["endsAt"] <= again["startsAt"], (first, resolved, again)
    assert "endsAt" not in first and again["startsAt"] != first["startsAt"]


def test_a_state_file_of_the_earlier_form_still_resolves(influx: InfluxServer, tmp_path: Path) -> None:
    """[uid, labels] entries (before resolved notifications): an incident open in one, not firing now, ends
    with a resolved POST that has no start time; agent-poor, firing and not in the file, starts one."""
    state = tmp_path / "alerts.json"
    state.write_text(json.dumps({"open": [["homeshore-call-mos-low", [["agent", "agent-clean"],
                                                                       ["direction", "outbound"]]]]}))
    with Receiver() as receiver:
        result = subprocess.run(alerts("--url", influx.url, "--webhook", receiver.url, "--state-file", str(state),
                                       "--once"), capture_output=True, text=True, timeout=60)
    assert result.stdout == "1 firing, 1 new incidents sent, 1 resolved, 0 failed\n", result
    by_status = {body["status"]: body["alerts"][0] for body in receiver.bodies}
    assert by_status["resolved"]["labels"]["agent"] == "agent-clean" and by_status["resolved"]["startsAt"] is None
    assert by_status["firing"]["labels"]["agent"] == "agent-poor"
    assert [entry["labels"] for entry in json.loads(state.read_text())["open"]] == [
        [["agent", "agent-poor"], ["direction", "outbound"]]]


def test_incidents_are_runs_of_consecutive_firing() -> None:
    """Firing, firing, clear, firing: two incidents; two agents at once: one each."""
    rule = RULES[0]
    poor_a = Firing(rule, {"agent": "a", "direction": "outbound"}, 2.0)
    poor_b = Firing(rule, {"agent": "b", "direction": "outbound"}, 2.5)
    evaluations = [[poor_a], [poor_a], [], [poor_a, poor_b], [poor_a, poor_b]]
    open_keys: set = set()
    started = []
    for firing in evaluations:
        started.append([one.labels["agent"] for one in new_incidents(open_keys, firing)])
        open_keys = {one.key for one in firing}
    assert started == [["a"], [], [], ["a", "b"], []]
    opened = [OpenIncident(poor_a.key, "2026-01-01T00:00:00Z", 2.0), OpenIncident(poor_b.key, None, 2.5)]
    assert ended_incidents(opened, [poor_b]) == opened[:1] and ended_incidents(opened, [poor_a, poor_b]) == []
    assert resolved_payload(opened[0], "2026-01-01T00:05:00Z") == {"status": "resolved", "alerts": [{
        "status": "resolved", "labels": {"alertname": rule.title, "rule_uid": rule.uid, "agent": "a",
                                         "direction": "outbound"},
        "annotations": {"summary": rule.summary}, "startsAt": "2026-01-01T00:00:00Z", "values": {"B": 2.0},
        "endsAt": "2026-01-01T00:05:00Z"}]}
    assert webhook_payload(poor_a, "2026-01-01T00:00:00Z")["alerts"][0]["startsAt"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(("options", "fragment"), [
    (("--webhook", "ftp://example.org/"), "--webhook must be an http"),
    (("--interval", "0"), "--interval must be a positive"),
    (("--once", "--interval", "5"), "not both"),
    (("--state-file", "/nonexistent-dir/state.json"), "does not exist"),
])
def test_bad_options_one_line_exit_2(influx: InfluxServer, tmp_path: Path, options: tuple[str, ...],
                                     fragment: str) -> None:
    defaults = {"--url": influx.url, "--webhook": "http://127.0.0.1:9/", "--state-file": str(tmp_path / "s.json")}
    for name in options[::2]:
        defaults.pop(name, None)
    args = [part for pair in defaults.items() for part in pair] + list(options)
    once = [] if {"--once", "--interval"} & set(options) else ["--once"]
    result = subprocess.run(alerts(*args, *once), capture_output=True, text=True, timeout=60)
    assert_one_line_exit_2(result, "homeshore collector alerts:", fragment)


def test_corrupt_state_file_one_line_exit_2(influx: InfluxServer, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    state.write_text("{not json")
    result = subprocess.run(alerts("--url", influx.url, "--webhook", "http://127.0.0.1:9/", "--state-file",
                                   str(state), "--once"), capture_output=True, text=True, timeout=60)
    assert_one_line_exit_2(result, "is not an alerts state file")


def test_unreachable_collector_one_line_exit_2(tmp_path: Path) -> None:
    with closed_port() as port:
        result = subprocess.run(alerts("--url", f"http://127.0.0.1:{port}", "--webhook", "http://127.0.0.1:9/",
                                       "--state-file", str(tmp_path / "s.json"), "--once"), capture_output=True,
                                text=True, timeout=60)
    assert_one_line_exit_2(result, "homeshore collector alerts:", f"127.0.0.1:{port}")

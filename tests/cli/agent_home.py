"""One home for the agent's tests: a state directory, a config file, the agent process started from it, and
an InfluxDB 1.6 with authentication on where the agent may only WRITE (what an agent gets in production)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from homeshore.collector.schema import Sample, from_line_protocol
from homeshore.collector.spool import Spool, SpoolStats
from homeshore.collector.state import SPOOL_FILE
from homeshore.probe.agent_status import read_status
from tests.references.influxd import InfluxServer

DATABASE = "homeshore"
WRITER = ("agent-writer", "writer-password")
STOP_LIMIT_S = 5.0  # the issue: SIGTERM to exit


def agent_environment(**extra: str) -> dict[str, str]:
    """This environment without HOMESHORE_* settings of the caller's, and no user config file."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("HOMESHORE_") or key == "HOMESHORE_REQUIRE_NETNS"}
    env["XDG_CONFIG_HOME"] = "/nonexistent"
    env.update(extra)
    return env


def toml_config(sections: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


class AgentSetup:
    """One home: a state directory, a config file, and the agent process started from it."""

    def __init__(self, tmp_path: Path, agent_id: str, influx: InfluxServer | None = None) -> None:
        self.root = tmp_path
        self.state_dir = tmp_path / "state"
        self.config_path = tmp_path / "agent.toml"
        self.agent_id = agent_id
        self.influx = influx
        self.password_file = tmp_path / "password"
        self.password_file.write_text(WRITER[1] + "\n")
        self.password_file.chmod(0o600)
        self.process: subprocess.Popen | None = None
        self.log_path = tmp_path / "agent.log"

    def configure(self, *, to: bool | str = True, **sections: dict[str, Any]) -> None:
        """Writes agent.toml: fast host samples, capture and speed tests off unless a section says otherwise;
        `to` True: the test's InfluxDB; a URL: that one; False: no collector."""
        config: dict[str, dict[str, Any]] = {
            "agent": {"id": self.agent_id, "state_dir": str(self.state_dir), "postcode": "NG5 1AB", "site": "hub-a"},
            "host": {"interval_s": 0.2},
            "speedtest": {"interval_h": 10000},
            "capture": {"enabled": False},
        }
        if to:
            url = self.influx.url if to is True else to
            config["collector"] = {"url": url, "database": DATABASE, "username": WRITER[0],
                                   "password_file": str(self.password_file), "flush_interval_s": 0.5}
        for name, values in sections.items():
            config.setdefault(name, {}).update(values)
        self.config_path.write_text(toml_config(config))

    def start(self, *args: str) -> subprocess.Popen:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "homeshore.cli.main", "agent", "run", "--config", str(self.config_path),
                 *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=agent_environment())
        return self.process

    def stop(self) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds to exit)."""
        assert self.process is not None
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        finally:
            self.kill()
        return code, time.monotonic() - sent

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # by its pid
            self.process.wait(timeout=15)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def status(self) -> dict[str, Any]:
        return read_status(self.state_dir) or {}

    def spool_stats(self) -> SpoolStats:
        with Spool(self.state_dir / SPOOL_FILE) as spool:
            return spool.stats()

    def spooled_samples(self) -> list[Sample]:
        with Spool(self.state_dir / SPOOL_FILE) as spool:
            return [from_line_protocol(row.line) for row in spool.pending(1_000_000)]

    def wait_for(self, condition, timeout_s: float, what: str, every_s: float = 0.1, explain=None):
        """`explain`: a callable whose text the timeout's message adds (what the condition saw last)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"the agent exited ({self.process.returncode}) while waiting for {what}:\n{self.log()}")
            time.sleep(every_s)
        seen = f" ({explain()})" if explain is not None else ""
        pytest.fail(f"timed out after {timeout_s} s waiting for {what}{seen}:\n{self.log()[-3000:]}")

    def count(self, measurement: str, field: str, where: str = "") -> int:
        rows = self.influx.rows(f"SELECT count({field}) FROM {measurement} "
                                f"WHERE agent = '{self.agent_id}'{where}", DATABASE)
        return rows[0]["count"] if rows else 0

    def points(self, measurement: str) -> int:
        """Every point of the measurement for this agent, whatever its fields: `host` holds the host ticks
        (cpu_pct, mem_pct, ...) and, where the router answers echo requests, the home segment's probes
        (gateway_rtt_ms, no mem_pct), so a count of one field misses the others."""
        answer = self.influx.query(f"SELECT * FROM {measurement} WHERE agent = '{self.agent_id}' GROUP BY *",
                                   DATABASE)
        return sum(len(series["values"]) for series in answer["results"][0].get("series", []))

    def counts(self) -> dict[str, int]:
        """Points in InfluxDB per measurement, for this agent."""
        found = {}
        for measurement in ("host", "agent", "call"):
            if (n := self.points(measurement)):
                found[measurement] = n
        return found


def influx_with_writer() -> Iterator[InfluxServer]:
    """A started influxd with the database and the agent's WRITE-only user."""
    with InfluxServer(auth=True) as server:
        server.query(f"CREATE DATABASE {DATABASE}")
        server.query(f"CREATE USER \"{WRITER[0]}\" WITH PASSWORD '{WRITER[1]}'")
        server.query(f"GRANT WRITE ON {DATABASE} TO \"{WRITER[0]}\"")
        yield server

"""Report commands (`diagnose`, `candidates`) as IT and recruiters run them: the console script in a clean
environment, over samples stored in a real spool and in a real influxd written through the real V1Writer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from homeshore.collector.schema import Sample, to_line_protocol
from homeshore.collector.spool import Spool
from homeshore.collector.writer import WriteOutcome
from homeshore.collector.writer_v1 import V1Writer
from tests.references.influxd import InfluxServer


CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")


def run_report(tmp_path: Path, command: str, *args: str, tz: str = "UTC",
               columns: int = 80) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "TZ": tz, "COLUMNS": str(columns)}
    return subprocess.run([str(CONSOLE_SCRIPT), command, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def spool_holding(path: Path, samples: list[Sample]) -> Path:
    with Spool(path) as spool:
        spool.append(samples)
    return path


@contextmanager
def influx_holding(samples: list[Sample]) -> Iterator[InfluxServer]:
    """A fresh influxd whose database "homeshore" holds `samples`."""
    with InfluxServer() as server:
        server.query('CREATE DATABASE "homeshore"')
        writer = V1Writer(server.url, "homeshore")
        try:
            result = writer.write([to_line_protocol(sample) for sample in samples])
        finally:
            writer.close()
        assert result.outcome == WriteOutcome.OK, result
        yield server


def stored_fixtures(samples: Callable[[], list[Sample]]) -> tuple[Callable, Callable]:
    """Module-scoped fixtures (spool_file, influx) holding the same `samples()`, for a test module to bind:
    `spool_file, influx = stored_fixtures(stored_samples)`."""

    @pytest.fixture(scope="module")
    def spool_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return spool_holding(tmp_path_factory.mktemp("agent") / "spool.sqlite3", samples())

    @pytest.fixture(scope="module")
    def influx() -> Iterator[InfluxServer]:
        with influx_holding(samples()) as server:
            yield server

    return spool_file, influx

"""One flush pass (collector/flush.py) from a real Spool in tmp_path into a real influxd 1.6 with authentication:
every row arrives exactly once, a malformed line is quarantined with the server's reason while its batch mates
arrive, nothing is deleted without a 2xx when the server is away, refuses the credentials, or fails in the
middle of a bisection; 413 halves the batch; the deadline is honoured."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from homeshore.collector.flush import flush
from homeshore.collector.schema import Sample, to_line_protocol
from homeshore.collector.spool import Spool, row_bytes
from homeshore.collector.writer import WriteOutcome, WriteResult
from homeshore.collector.writer_v1 import V1Writer
from tests.references.influxd import InfluxServer, closed_port

WRITER = ("writer", "flush-Pa55word")
T0 = 1_700_000_000_000_000_000
BAD_LINE = "host,agent=home-1 cpu_pct= 1700000000000000000"  # no field value: influxd answers 400


def host(i: int) -> Sample:
    return Sample("host", {"agent": f"home-{i % 50}", "area": "NG5", "conn": "wired"},
                  {"cpu_pct": float(i), "mem_pct": 50.0}, T0 + i * 1_000_000)


@pytest.fixture(scope="module")
def influx() -> Iterator[InfluxServer]:
    with InfluxServer(auth=True) as server:
        server.query(f"CREATE USER {WRITER[0]} WITH PASSWORD '{WRITER[1]}'")
        yield server


def database(influx: InfluxServer, name: str) -> str:
    influx.query(f"CREATE DATABASE {name}")
    influx.query(f"GRANT WRITE ON {name} TO {WRITER[0]}")
    return name


def writer(influx: InfluxServer, db: str, **options) -> V1Writer:
    options.setdefault("username", WRITER[0])
    options.setdefault("password", WRITER[1])
    return V1Writer(influx.url, db, **options)


def count(influx: InfluxServer, db: str) -> int:
    rows = influx.rows("SELECT count(cpu_pct) FROM host", db)
    return rows[0]["count"] if rows else 0


def stored_values(influx: InfluxServer, db: str) -> list[float]:
    return sorted(row["cpu_pct"] for row in influx.rows("SELECT cpu_pct FROM host", db))


def insert_raw(path: Path, line: str) -> None:
    """A line no Sample can make, put in the spool's queue as Spool.append would (the triggers keep the byte
    counters right)."""
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("INSERT INTO queue (line, created_ns, bytes) VALUES (?, 1, ?)", (line, row_bytes(line)))
    db.close()


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite3") as opened:
        yield opened


def test_ten_thousand_samples_arrive_exactly_once_in_batches(influx: InfluxServer, spool: Spool) -> None:
    db = database(influx, "ten_thousand")
    spool.append(host(i) for i in range(10_000))
    w = writer(influx, db)
    try:
        report = flush(spool, w, batch_size=1000)
        again = flush(spool, w, batch_size=1000)
    finally:
        w.close()
    assert (report.sent, report.quarantined, report.batches, report.failure) == (10_000, 0, 10, None)
    assert (again.sent, again.batches, again.failure) == (0, 0, None)
    assert spool.stats().rows == 0
    assert count(influx, db) == 10_000
    assert stored_values(influx, db) == [float(i) for i in range(10_000)]


def test_one_malformed_line_is_quarantined_with_the_reason_and_its_batch_mates_arrive(
        influx: InfluxServer, spool: Spool) -> None:
    db = database(influx, "one_malformed")
    spool.append(host(i) for i in range(500))
    insert_raw(spool.path, BAD_LINE)
    spool.append(host(i) for i in range(500, 999))
    w = writer(influx, db)
    try:
        report = flush(spool, w, batch_size=1000)
    finally:
        w.close()
    assert (report.sent, report.quarantined, report.batches, report.failure) == (999, 1, 1, None)
    stats = spool.stats()
    assert (stats.rows, stats.quarantined) == (0, 1)
    ((row, reason),) = spool.quarantined()
    assert row.line == BAD_LINE
    assert reason.startswith("HTTP 400: ") and f"unable to parse '{BAD_LINE}'" in reason
    assert count(influx, db) == 999  # exactly once, although bisection resent lines influxd had already stored
    assert stored_values(influx, db) == [float(i) for i in range(999)]


def test_a_server_that_is_down_is_retry_and_every_row_stays(spool: Spool) -> None:
    spool.append(host(i) for i in range(2_500))
    with closed_port() as port:
        w = V1Writer(f"http://127.0.0.1:{port}", "db", username=WRITER[0], password=WRITER[1], timeout_s=2)
        try:
            report = flush(spool, w, batch_size=1000)
        finally:
            w.close()
    assert (report.sent, report.quarantined, report.batches) == (0, 0, 1)
    assert report.failure is not None and report.failure.outcome is WriteOutcome.RETRY
    assert spool.stats().rows == 2_500 and spool.stats().quarantined == 0


def test_wrong_credentials_are_refused_and_every_row_stays(influx: InfluxServer, spool: Spool) -> None:
    db = database(influx, "refused")
    spool.append(host(i) for i in range(1_500))
    w = writer(influx, db, password="wrong-Pa55word")
    try:
        report = flush(spool, w, batch_size=1000)
    finally:
        w.close()
    assert report.failure is not None
    assert (report.failure.outcome, report.failure.status) == (WriteOutcome.REFUSED, 401)
    assert "wrong-Pa55word" not in report.failure.message
    assert (report.sent, report.quarantined, spool.stats().rows, spool.stats().quarantined) == (0, 0, 1_500, 0)
    assert count(influx, db) == 0


def test_the_deadline_is_honoured(influx: InfluxServer, spool: Spool) -> None:
    db = database(influx, "deadline")
    spool.append(host(i) for i in range(100))
    ticks = iter(range(1000))
    w = writer(influx, db)
    try:
        report = flush(spool, w, batch_size=10, deadline_s=3.0, clock=lambda: float(next(ticks)))
        passed = flush(spool, w, batch_size=10, deadline_s=-1.0)  # already past: nothing is sent
    finally:
        w.close()
    assert (report.sent, report.batches, report.failure) == (30, 3, None)
    assert (passed.sent, passed.batches, passed.failure) == (0, 0, None)
    assert spool.stats().rows == 70 and count(influx, db) == 30


class FailingAfter:
    """The real V1Writer, except that write number `fail_at` (1-based) answers RETRY without sending: a network
    failure at a chosen point of a flush, which no real server produces on cue."""

    def __init__(self, inner: V1Writer, fail_at: int) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.calls = 0
        self.description = inner.description

    def write(self, lines: Sequence[str]) -> WriteResult:
        self.calls += 1
        if self.calls == self.fail_at:
            return WriteResult(WriteOutcome.RETRY, None, "ConnectionResetError: injected")
        return self.inner.write(lines)

    def close(self) -> None:
        self.inner.close()


def test_a_failure_anywhere_in_a_bisection_loses_nothing_and_a_later_pass_finishes(
        influx: InfluxServer, tmp_path: Path) -> None:
    """Two malformed lines among 30: a network failure at every possible write of the bisection stops the pass
    with RETRY, every row gone from the queue is in InfluxDB (or quarantined), and the next pass completes with
    each good line stored once and exactly the two bad lines quarantined."""
    lines = {i: to_line_protocol(host(i)) for i in range(30)}
    for fail_at in range(1, 12):
        db = database(influx, f"bisect_{fail_at}")
        with Spool(tmp_path / f"spool-{fail_at}.sqlite3") as spool:
            spool.append(host(i) for i in range(7))
            insert_raw(spool.path, BAD_LINE)
            spool.append(host(i) for i in range(7, 20))
            insert_raw(spool.path, BAD_LINE.replace("home-1", "home-2"))
            spool.append(host(i) for i in range(20, 30))
            w = FailingAfter(writer(influx, db), fail_at)
            try:
                first = flush(spool, w, batch_size=100)
                assert first.failure is not None and first.failure.message == "ConnectionResetError: injected"
                left = {row.line for row in spool.pending(100)}
                stored = {float(v) for v in stored_values(influx, db)}
                for i, line in lines.items():
                    assert line in left or float(i) in stored, f"fail_at={fail_at}: row {i} deleted unsent"
                second = flush(spool, w, batch_size=100)
            finally:
                w.close()
            assert second.failure is None
            assert first.sent + second.sent == 30 and first.quarantined + second.quarantined == 2
            assert spool.stats().rows == 0 and spool.stats().quarantined == 2
            assert stored_values(influx, db) == [float(i) for i in range(30)]


def test_413_halves_the_batch_and_a_line_too_large_alone_is_quarantined(tmp_path: Path, monkeypatch) -> None:
    """influxd's [http] max-body-size, set through its INFLUXDB_HTTP_MAX_BODY_SIZE environment override. influxd
    1.6 applies it to the request body as sent (compressed), so this test writes without gzip."""
    monkeypatch.setenv("INFLUXDB_HTTP_MAX_BODY_SIZE", "4000")
    huge = Sample("readiness", {"agent": "home-1"}, {"verdict": "PASS", "candidate": "x" * 5000}, T0)
    with InfluxServer(auth=False) as small, Spool(tmp_path / "spool.sqlite3") as spool:
        small.query("CREATE DATABASE db")
        spool.append(host(i) for i in range(100))  # about 9 kB of line protocol
        spool.append([huge])
        spool.append(host(i) for i in range(100, 150))
        w = FailingAfter(V1Writer(small.url, "db", gzip=False), fail_at=0)  # counts writes, never fails
        try:
            report = flush(spool, w, batch_size=200)
        finally:
            w.close()
        assert report.failure is None
        assert (report.sent, report.quarantined) == (150, 1)
        assert w.calls < 40  # halving, not one line per request after the huge one (151 lines)
        ((row, reason),) = spool.quarantined()
        assert row.line == to_line_protocol(huge) and reason.startswith("HTTP 413")
        assert sorted(r["cpu_pct"] for r in small.rows("SELECT cpu_pct FROM host", "db")) == [
            float(i) for i in range(150)]

"""Every sample arrives, exactly once: the agent (a real `homeshore agent run` process) against a real InfluxDB
1.6 that goes away for a minute, an agent killed with SIGKILL in the middle of a flush, and a spool that fills
past its bound while the collector is down.

Accounting: the agent's status file counts every sample it appended to the spool (`samples_spooled`, per
measurement), the spool counts what its bound dropped, and InfluxDB is asked what it holds for this agent;
produced = in InfluxDB + dropped + still waiting, with nothing waiting at the end. InfluxDB keeps one point
per series and timestamp, so a resent line cannot add a point: a count equal to what was produced means
nothing was lost and nothing arrived twice under another time.
"""

from __future__ import annotations

import signal
import time

import pytest

from homeshore.collector.schema import Sample
from homeshore.collector.spool import Spool
from homeshore.collector.state import SPOOL_FILE
from tests.cli.agent_home import DATABASE, AgentSetup, influx_with_writer
from tests.references.influxd import closed_port

OUTAGE_S = 60.0  # the issue: stop influxd for 60 s while the agent produces samples


@pytest.fixture(scope="module")
def influx():
    yield from influx_with_writer()


def make_home(tmp_path, influx, name: str) -> AgentSetup:
    return AgentSetup(tmp_path, name, influx)


def test_a_60_s_collector_outage_loses_nothing_and_duplicates_nothing(tmp_path, influx) -> None:
    home = make_home(tmp_path, influx, "t-outage")
    try:
        home.configure()
        home.start("--self-metrics-interval", "5")
        home.wait_for(lambda: home.count("host", "mem_pct") >= 5, 20, "first deliveries")
        influx.stop()
        home.wait_for(lambda: home.status().get("collector", {}).get("state") == "failing", 10, "the failure noticed")
        time.sleep(OUTAGE_S)
        waiting = home.spool_stats().rows
        assert waiting >= OUTAGE_S / 0.2 * 0.8  # the host samples of the outage are in the spool
        influx.start()
        restarted = time.monotonic()
        home.wait_for(lambda: home.status().get("collector", {}).get("state") == "ok"
                      and home.spool_stats().rows < 10, 60, "the agent catching up", every_s=0.2)
        catch_up_s = time.monotonic() - restarted
        code, exit_s = home.stop()
        print(f"outage: {waiting} samples waited; catch-up {catch_up_s:.1f} s after influxd restarted; "
              f"exit {exit_s:.2f} s after SIGTERM")
        assert code == 0 and exit_s < 5
        status = home.status()
        assert home.spool_stats().rows == 0 and home.spool_stats().dropped == 0
        assert home.counts() == status["samples_spooled"]  # one point per (series, time): none twice
        log = home.log()
        assert log.count("cannot write") == 1 and log.count("recovered") == 1, log
    finally:
        home.kill()
        if influx.ping() != 204:
            influx.start()


def test_sigkill_during_a_flush_then_restart_delivers_every_sample_exactly_once(tmp_path, influx) -> None:
    home = make_home(tmp_path, influx, "t-kill")
    home.state_dir.mkdir(mode=0o700)
    base_ns = time.time_ns() - 3600 * 10**9
    backlog = 60_000
    with Spool(home.state_dir / SPOOL_FILE) as spool:  # a backlog, as after a long outage
        spool.append(Sample("host", {"agent": home.agent_id, "site": "backlog"}, {"cpu_pct": i % 100, "mem_pct": 50},
                            base_ns + i * 1000) for i in range(backlog))
    try:
        home.configure(collector={"batch_size": 500, "flush_interval_s": 0.2}, host={"interval_s": 0.5})
        home.start()
        home.wait_for(lambda: home.count("host", "mem_pct", " AND site = 'backlog'") >= 5000, 60,
                      "the flush under way", every_s=0.05)
        home.process.send_signal(signal.SIGKILL)
        home.process.wait(timeout=10)
        delivered = home.count("host", "mem_pct", " AND site = 'backlog'")
        left = home.spool_stats().rows
        print(f"killed with {delivered} of {backlog} delivered, {left} rows in the spool")
        assert delivered < backlog  # killed in the middle of it
        assert delivered + left >= backlog  # nothing deleted that InfluxDB did not take

        home.start()
        home.wait_for(lambda: home.spool_stats().rows < 5, 60, "the rest delivered", every_s=0.2)
        assert home.stop()[0] == 0
        assert home.spool_stats().rows == 0
        assert home.count("host", "mem_pct", " AND site = 'backlog'") == backlog
        stored = home.influx.rows(f"SELECT cpu_pct FROM host WHERE agent = '{home.agent_id}' AND site = 'backlog'",
                                  DATABASE)
        assert sorted(row["time"] for row in stored) == [base_ns + i * 1000 for i in range(backlog)]
        assert all(row["cpu_pct"] == (row["time"] - base_ns) // 1000 % 100 for row in stored)
    finally:
        home.kill()


def test_a_full_spool_drops_the_oldest_and_the_drop_count_reaches_influxdb(tmp_path, influx) -> None:
    home = make_home(tmp_path, influx, "t-bound")
    try:
        # Collector down (nothing listens at its address) and a spool of 20 KB: about a hundred host samples.
        with closed_port() as port:
            home.configure(to=f"http://127.0.0.1:{port}", agent={"spool_max_mb": 0.02}, host={"interval_s": 0.02})
            home.start("--self-metrics-interval", "1")
            oldest = home.wait_for(lambda: [row.line for row in _pending(home, 3) if row.line.startswith("host,")],
                                   10, "the first samples")
            home.wait_for(lambda: home.spool_stats().dropped >= 100, 30, "drops", every_s=0.2)
            assert home.stop()[0] == 0
        first_run = home.status()["samples_spooled"]

        home.configure(agent={"spool_max_mb": 0.02}, host={"interval_s": 3600})  # the collector is back
        home.start("--self-metrics-interval", "3600")
        home.wait_for(lambda: home.spool_stats().rows == 0, 30, "the spool delivered")
        assert home.stop()[0] == 0
        second_run = home.status()["samples_spooled"]
        dropped = home.spool_stats().dropped
        produced = sum(first_run.values()) + sum(second_run.values())
        in_influx = home.counts()
        assert sum(in_influx.values()) + dropped == produced, (in_influx, dropped, first_run, second_run)
        for line in oldest:  # the oldest went first
            time_ns = int(line.rsplit(" ", 1)[1])
            assert not influx.rows(f"SELECT * FROM host WHERE agent = '{home.agent_id}' AND time = {time_ns}",
                                   DATABASE)
        last = influx.rows(f"SELECT last(spool_dropped) FROM agent WHERE agent = '{home.agent_id}'", DATABASE)
        assert last[0]["last"] == dropped > 0
    finally:
        home.kill()


def _pending(home: AgentSetup, limit: int):
    with Spool(home.state_dir / SPOOL_FILE) as spool:
        return spool.pending(limit)


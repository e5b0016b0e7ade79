"""Benchmark: replaying a full spool into InfluxDB, as after a long outage of the collector.

A temporary spool is filled with N realistic samples (default 1,000,000): 1,000 homes (one `agent` tag each,
spread over 40 postcode districts), a mix of `host` samples every 10 s, `call` windows and `agent` self-metrics,
timestamps spread over one day. A real influxd 1.6 (tests/references/influxd.py, authentication on, a write-only
user) is started in a temporary directory, and the spool is flushed into it with V1Writer (gzip) and
collector.flush at batch size 5,000. Printed: the spool's fill rate (samples/s into SQLite, on its own), the
replay rate (points/s from spool to InfluxDB, deletes included), the count InfluxDB holds (must equal N), and
the replay rate as a ratio of the target, 50,000 points/s (issue 6).

The second part runs the agent itself (`homeshore agent run`, a process of its own) for M minutes (default 10)
as a home runs it between calls: live capture on an idle interface (a veth pair made for the run, root
needed), host samples every 10 s, self-metrics every minute, flushes every 10 s into the same kind of influxd.
Printed: its CPU (user + system time over the wall time, after a 15-s start, from /proc/PID/stat) and its peak
resident memory (VmHWM), as ratios of the targets, 1 % of one core and 80 MB.

    python bench/spool_replay.py [--samples 1000000] [--batch-size 5000] [--agent-minutes 10]
    (--samples 0 skips the replay, --agent-minutes 0 the agent)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from homeshore.collector.flush import flush  # noqa: E402
from homeshore.collector.schema import Sample  # noqa: E402
from homeshore.collector.spool import Spool  # noqa: E402
from homeshore.collector.writer_v1 import V1Writer  # noqa: E402
from tests.references.influxd import InfluxServer  # noqa: E402  (the influxd the tests use)

TARGET_POINTS_S = 50_000.0
HOMES = 1_000
DAY_NS = 86_400 * 10**9
T0 = 1_700_000_000 * 10**9
AREAS = [f"{prefix}{n}" for prefix in ("NG", "S", "DE", "LE") for n in range(1, 11)]
APPEND_CHUNK = 10_000
WRITER = ("replay", "replay-Pa55word")


def sample(i: int, n: int) -> Sample:
    """Sample i of n: a fixed mix of 80 % host, 18 % call windows, 2 % agent self-metrics; its own timestamp
    (i spread over a day), so no two samples are the same point and InfluxDB must keep all n."""
    home = i % HOMES
    tags = {"agent": f"home-{home:04d}", "area": AREAS[home % len(AREAS)]}
    time_ns = T0 + i * DAY_NS // n
    kind = i % 50
    if kind < 40:
        conn = "wifi" if home % 3 == 0 else "wired"
        fields = {"cpu_pct": (i * 7 % 1000) / 10, "mem_pct": 40 + i % 40, "rx_mbps": (i % 97) / 13,
                  "tx_mbps": (i % 31) / 29, "link_mbps": 866.0 if conn == "wifi" else 1000.0}
        if conn == "wifi":
            fields["wifi_signal_dbm"] = -40.0 - i % 40
        return Sample("host", {**tags, "conn": conn}, fields, time_ns)
    if kind < 49:
        return Sample("call", {**tags, "conn": "wired", "codec": "PCMA", "phase": "window",
                               "direction": "inbound" if i % 2 else "outbound"},
                      {"packets": 500.0, "lost": float(i % 3), "loss_pct": (i % 3) / 5, "jitter_ms": (i % 90) / 10,
                       "max_jitter_ms": (i % 90) / 5, "reordered": 0.0, "duplicates": 0.0, "discarded_pct": 0.0,
                       "rtt_ms": 20.0 + i % 60, "r_factor": 90.0 - i % 10, "mos": 4.4 - (i % 10) / 20,
                       "call_key": f"c{home:04d}-{i // 5000:06d}"}, time_ns)
    return Sample("agent", tags, {"spool_rows": float(i % 100), "spool_dropped": 0.0, "write_errors": 0.0,
                                  "packets_seen": float(i), "capture_drops": 0.0}, time_ns)


def chunks(n: int) -> Iterator[list[Sample]]:
    for start in range(0, n, APPEND_CHUNK):
        yield [sample(i, n) for i in range(start, min(n, start + APPEND_CHUNK))]


def stored_points(server: InfluxServer, db: str) -> int:
    total = 0
    for measurement, field in (("host", "cpu_pct"), ("call", "mos"), ("agent", "spool_rows")):
        rows = server.rows(f'SELECT count("{field}") FROM "{measurement}"', db)
        total += rows[0]["count"] if rows else 0
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--agent-minutes", type=float, default=10.0)
    args = parser.parse_args()
    if args.samples < 0 or args.batch_size < 1 or args.agent_minutes < 0:
        parser.error("--samples and --agent-minutes must not be negative, --batch-size must be positive")
    replayed = replay(args.samples, args.batch_size) if args.samples else True
    idle_ok = idle_agent(args.agent_minutes) if args.agent_minutes else True
    return 0 if replayed and idle_ok else 1


def replay(samples: int, batch_size: int) -> bool:

    with tempfile.TemporaryDirectory(prefix="homeshore-replay-") as folder:
        spool_file = Path(folder) / "spool.sqlite3"
        with Spool(spool_file, max_bytes=2**40) as spool:  # no bound: this measures the replay, not the drops
            fill_s = 0.0
            for chunk in chunks(samples):
                started = time.perf_counter()
                spool.append(chunk)
                fill_s += time.perf_counter() - started
            stats = spool.stats()
            print(f"spool: {stats.rows:,} samples, {stats.bytes / 1e6:,.0f} MB accounted, "
                  f"file {spool_file.stat().st_size / 1e6:,.0f} MB; "
                  f"fill {fill_s:.1f} s = {samples / fill_s:,.0f} samples/s (appends of {APPEND_CHUNK:,})")

            with InfluxServer(auth=True) as server:
                server.query("CREATE DATABASE homeshore")
                server.query(f"CREATE USER {WRITER[0]} WITH PASSWORD '{WRITER[1]}'")
                server.query(f"GRANT WRITE ON homeshore TO {WRITER[0]}")
                writer = V1Writer(server.url, "homeshore", username=WRITER[0], password=WRITER[1], timeout_s=60)
                started = time.perf_counter()
                try:
                    report = flush(spool, writer, batch_size=batch_size)
                finally:
                    writer.close()
                replay_s = time.perf_counter() - started
                stored = stored_points(server, "homeshore")
            left = spool.stats().rows

    rate = report.sent / replay_s
    print(f"replay: {report.sent:,} points in {report.batches} batches of {batch_size:,}, {replay_s:.1f} s "
          f"= {rate:,.0f} points/s; failure: {report.failure.message if report.failure else 'none'}; "
          f"quarantined {report.quarantined}; left in the spool {left:,}")
    exact = stored == samples and left == 0 and report.sent == samples
    print(f"InfluxDB holds {stored:,} points: {'exactly' if exact else 'NOT'} the {samples:,} spooled")
    print(f"ratio (replay rate / target {TARGET_POINTS_S:,.0f} points/s): {rate / TARGET_POINTS_S:.2f}")
    return exact


IDLE_INTERFACE, IDLE_PEER = "hsidle0", "hsidle1"
IDLE_START_S = 15.0  # imports, the first host sample and the capture socket: not the steady state
TARGET_CPU_PCT = 1.0
TARGET_RSS_MB = 80.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (proc(5))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/PID/status")


def idle_agent(minutes: float) -> bool:
    """The agent for `minutes` on an idle interface; prints CPU % and peak RSS against the targets."""
    # a veth pair (this kernel has no dummy interfaces), both ends up and nothing sent on it
    subprocess.run(["ip", "link", "add", IDLE_INTERFACE, "type", "veth", "peer", "name", IDLE_PEER], check=True)
    try:
        for name in (IDLE_INTERFACE, IDLE_PEER):
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
        with tempfile.TemporaryDirectory(prefix="homeshore-idle-") as folder, InfluxServer(auth=True) as server:
            server.query("CREATE DATABASE homeshore")
            server.query(f"CREATE USER {WRITER[0]} WITH PASSWORD '{WRITER[1]}'")
            server.query(f"GRANT WRITE ON homeshore TO {WRITER[0]}")
            password = Path(folder) / "password"
            password.write_text(WRITER[1])
            password.chmod(0o600)
            config = Path(folder) / "agent.toml"
            config.write_text("\n".join([
                "[agent]", f"state_dir = {json.dumps(folder + '/state')}", 'postcode = "NG5"',
                "[collector]", f"url = {json.dumps(server.url)}", f'username = "{WRITER[0]}"',
                f"password_file = {json.dumps(str(password))}",
                "[speedtest]", "interval_h = 100000",  # a speed test is not idle
                "[capture]", f'interface = "{IDLE_INTERFACE}"', ""]))
            env = {k: v for k, v in os.environ.items() if not k.startswith("HOMESHORE_")}
            agent = subprocess.Popen([sys.executable, "-m", "homeshore.cli.main", "agent", "run", "--config",
                                      str(config)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(Path(folder) / "agent.log", "w"), env={**env, "XDG_CONFIG_HOME": folder},
                                     cwd=REPO)
            try:
                time.sleep(IDLE_START_S)
                cpu_start, wall_start = cpu_seconds(agent.pid), time.monotonic()
                time.sleep(minutes * 60)
                if agent.poll() is not None:
                    print("agent: exited early:\n" + (Path(folder) / "agent.log").read_text()[-2000:])
                    return False
                cpu_s, wall_s = cpu_seconds(agent.pid) - cpu_start, time.monotonic() - wall_start
                rss_mb = peak_rss_mb(agent.pid)
            finally:
                agent.send_signal(signal.SIGTERM)
                agent.wait(timeout=30)
            hosts = server.rows("SELECT count(cpu_pct) FROM host", "homeshore")
            delivered = hosts[0]["count"] if hosts else 0
    finally:
        subprocess.run(["ip", "link", "del", IDLE_INTERFACE], check=False)
    cpu_pct = 100 * cpu_s / wall_s
    print(f"idle agent: {wall_s / 60:.1f} min, capture on {IDLE_INTERFACE}, {delivered} host samples delivered; "
          f"CPU {cpu_pct:.2f} % of one core (ratio to the {TARGET_CPU_PCT:g} % target: {cpu_pct / TARGET_CPU_PCT:.2f}); "
          f"peak RSS {rss_mb:.1f} MB (ratio to the {TARGET_RSS_MB:g} MB target: {rss_mb / TARGET_RSS_MB:.2f})")
    return delivered > 0


if __name__ == "__main__":
    sys.exit(main())

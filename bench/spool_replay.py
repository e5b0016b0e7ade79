"""Benchmark: replaying a full spool into InfluxDB, as after a long outage of the collector.

A temporary spool is filled with N realistic samples (default 1,000,000): 1,000 homes (one `agent` tag each,
spread over 40 postcode districts), a mix of `host` samples every 10 s, `call` windows and `agent` self-metrics,
timestamps spread over one day. A real influxd 1.6 (tests/references/influxd.py, authentication on, a write-only
user) is started in a temporary directory, and the spool is flushed into it with V1Writer (gzip) and
collector.flush at batch size 5,000. Printed: the spool's fill rate (samples/s into SQLite, on its own), the
replay rate (points/s from spool to InfluxDB, deletes included), the count InfluxDB holds (must equal N), and
the replay rate as a ratio of the target, 50,000 points/s (issue 6).

    python bench/spool_replay.py [--samples 1000000] [--batch-size 5000]
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    if args.samples < 1 or args.batch_size < 1:
        parser.error("--samples and --batch-size must be positive")

    with tempfile.TemporaryDirectory(prefix="homeshore-replay-") as folder:
        spool_file = Path(folder) / "spool.sqlite3"
        with Spool(spool_file, max_bytes=2**40) as spool:  # no bound: this measures the replay, not the drops
            fill_s = 0.0
            for chunk in chunks(args.samples):
                started = time.perf_counter()
                spool.append(chunk)
                fill_s += time.perf_counter() - started
            stats = spool.stats()
            print(f"spool: {stats.rows:,} samples, {stats.bytes / 1e6:,.0f} MB accounted, "
                  f"file {spool_file.stat().st_size / 1e6:,.0f} MB; "
                  f"fill {fill_s:.1f} s = {args.samples / fill_s:,.0f} samples/s (appends of {APPEND_CHUNK:,})")

            with InfluxServer(auth=True) as server:
                server.query("CREATE DATABASE homeshore")
                server.query(f"CREATE USER {WRITER[0]} WITH PASSWORD '{WRITER[1]}'")
                server.query(f"GRANT WRITE ON homeshore TO {WRITER[0]}")
                writer = V1Writer(server.url, "homeshore", username=WRITER[0], password=WRITER[1], timeout_s=60)
                started = time.perf_counter()
                try:
                    report = flush(spool, writer, batch_size=args.batch_size)
                finally:
                    writer.close()
                replay_s = time.perf_counter() - started
                stored = stored_points(server, "homeshore")
            left = spool.stats().rows

    rate = report.sent / replay_s
    print(f"replay: {report.sent:,} points in {report.batches} batches of {args.batch_size:,}, {replay_s:.1f} s "
          f"= {rate:,.0f} points/s; failure: {report.failure.message if report.failure else 'none'}; "
          f"quarantined {report.quarantined}; left in the spool {left:,}")
    exact = stored == args.samples and left == 0 and report.sent == args.samples
    print(f"InfluxDB holds {stored:,} points: {'exactly' if exact else 'NOT'} the {args.samples:,} spooled")
    print(f"ratio (replay rate / target {TARGET_POINTS_S:,.0f} points/s): {rate / TARGET_POINTS_S:.2f}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())

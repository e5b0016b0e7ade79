"""Benchmark: the live capture's cost on a homeworker's machine, and whether it keeps up.

For each load (default 100, 1,000 and 5,000 RTP packets/s: one call, 10 calls, 50 calls, at 50 packets/s per
stream), a paced sender in one network namespace sends G.711 RTP across a veth pair for 60 s to another, where
`homeshore calls --json` captures (headers only). Printed per load, for the capture process: CPU as a % of one
core over the sending period, peak RSS, and packets missed (sent minus analysed, the analysed count being the
sum of its streams' end samples). Targets (issue 4): <= 2 % CPU at 100 packets/s, no packet missed at 5,000
packets/s, RSS under 80 MB. Needs root (namespaces).

    python bench/capture_load.py [--seconds 60] [--rates 100,1000,5000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import netlab  # noqa: E402  (the same lab the live tests use)

PACKETS_PER_STREAM_S = 50
CLOCK_TICKS_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_S  # utime, stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(rate_pps: int, seconds: float) -> dict:
    streams = max(1, rate_pps // PACKETS_PER_STREAM_S)
    with netlab.Lab() as lab:
        argv = [sys.executable, "-m", "homeshore.cli.main", "calls", "--iface", lab.b.dev, "--json"]
        capture = netlab.popen(lab.b.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        ready = capture.stderr.readline()
        if "capturing" not in ready:
            raise SystemExit(f"homeshore calls did not start: {ready}{capture.stderr.read()}")
        lines: list[str] = []  # read while it runs: a full pipe would block its writes, and with them the capture
        reader = threading.Thread(target=lambda: lines.extend(capture.stdout), daemon=True)
        reader.start()
        cpu_before, wall_before = cpu_seconds(capture.pid), time.monotonic()
        report = netlab.send_rtp(lab.a.ns, lab.b.ipv4, streams=streams, rate_pps=rate_pps, seconds=seconds)
        time.sleep(1.5)  # the last packets reach the engine; the next tick passes
        cpu = cpu_seconds(capture.pid) - cpu_before
        wall = time.monotonic() - wall_before
        rss = peak_rss_mib(capture.pid)
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=60)
        reader.join(timeout=10)
    ends = [json.loads(line) for line in lines if line.strip()]
    analysed = sum(s["packets"] for s in ends if s["phase"] == "end")
    return {"rate_pps": rate_pps, "streams": streams, "sent": report["packets_sent"], "analysed": analysed,
            "missed": report["packets_sent"] - analysed, "cpu_pct": 100 * cpu / wall, "rss_mib": rss,
            "exit": capture.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rates", default="100,1000,5000")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("capture_load: needs root (network namespaces and packet capture)")
    print(f"live capture load, {args.seconds:g} s per rate, capture process = homeshore calls --json")
    for rate in (int(r) for r in args.rates.split(",")):
        result = measure(rate, args.seconds)
        print(f"{result['rate_pps']:>6} packets/s ({result['streams']:>3} streams): CPU {result['cpu_pct']:5.2f} % "
              f"of one core, peak RSS {result['rss_mib']:.1f} MiB, sent {result['sent']}, "
              f"analysed {result['analysed']}, missed {result['missed']}", flush=True)
    print("targets: <= 2 % CPU at 100 packets/s, 0 missed at 5,000 packets/s, RSS < 80 MB")


if __name__ == "__main__":
    main()

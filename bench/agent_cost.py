"""Benchmark: what the agent costs a homeworker's machine, idle and with a call up (issue 18).

`homeshore agent run` in the home namespace of a lab (tests/netlab.py), capturing on the home's veth, its
default route through the far side (so the gateway probe runs), no collector (samples stay in the spool), no
speed test. Measured from the kernel's counters of the agent's process, all threads (/proc/PID/stat utime +
stime; /proc/PID/status VmRSS and VmHWM), over the same length of time:
- idle: no call; the host source every `host.interval_s` (10 s), the gateway probe as often;
- call: a sipp call (G.711, 50 packets a second each way, echoed) that the agent's capture tracks in process,
  with the host context and the gateway probe every second while the call is up (the 1-s sampling).
Printed: CPU % of one core and RSS for each, the call's over the idle agent's, and the host points and gateway
probes the agent spooled in each window (the cadence it ran at). Target (issue 18): under 2 %
of a core and under 80 MB with a call up, the call's capture included. Needs root (namespaces).

    python bench/agent_cost.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import netlab  # noqa: E402  (the same lab the live tests use)
from tests.cli.agent_home import AgentSetup  # noqa: E402
from tests.probe.test_agent_live import start_agent  # noqa: E402

TARGET_CPU_PCT, TARGET_RSS_MB = 2.0, 80.0
SETTLE_S = 3.0  # after the agent starts, and after the call is seen: imports done, the 1-s cadence begun
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU time of the process, all its threads, in seconds (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB: resident now, and its peak."""
    values = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(int(values[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def measure(pid: int, seconds: float) -> dict:
    started_s, started_cpu, unix_s = time.monotonic(), cpu_s(pid), time.time()
    time.sleep(seconds)  # the measuring window
    used = cpu_s(pid) - started_cpu
    rss_mb, peak_mb = memory_mb(pid)
    return {"cpu_pct": 100 * used / (time.monotonic() - started_s), "rss_mb": rss_mb, "peak_mb": peak_mb,
            "from_s": unix_s, "to_s": time.time()}


def host_points(samples: list, row: dict) -> tuple[int, int]:
    """(host points with CPU, gateway probes) the agent spooled within the row's window: the sampling cadence."""
    inside = [s for s in samples if s.measurement == "host" and row["from_s"] <= s.time_ns / 1e9 < row["to_s"]]
    return sum("cpu_pct" in s.fields for s in inside), sum("gateway_rtt_ms" in s.fields for s in inside)


def run(seconds: float) -> tuple[dict, dict, dict]:
    with tempfile.TemporaryDirectory() as directory, netlab.Lab() as lab, ThreadPoolExecutor(1) as pool:
        home = AgentSetup(Path(directory), "bench-agent-cost")
        try:
            netlab.run(lab.a.ns, ["ip", "route", "add", "default", "via", lab.b.ipv4])
            home.configure(to=False, capture={"enabled": True, "interface": lab.a.dev}, host={"interval_s": 10.0},
                           speedtest={"interval_h": 10_000.0})
            agent = start_agent(home, lab.a.ns)
            home.wait_for(lambda: home.status().get("capture", {}).get("state") == "running", 30, "the capture")
            time.sleep(SETTLE_S)
            idle = measure(agent.pid, seconds)
            packets = int((seconds + 2 * SETTLE_S + 10) / netlab.PTIME_S)
            call = pool.submit(netlab.sipp_call, lab.a, lab.b, rtp_packets=packets, log_dir=Path(directory) / "sipp")
            home.wait_for(lambda: home.status().get("capture", {}).get("calls_in_progress"), 60, "the call seen")
            time.sleep(SETTLE_S)
            in_call = measure(agent.pid, seconds)
            assert not call.done(), "the call ended before the measurement did"
            sipp = call.result(timeout=seconds + 120)
            status = home.status()
            home.stop()
            samples = home.spooled_samples()
        finally:
            home.kill()
    for row in (idle, in_call):
        row["host_points"], row["gateway_probes"] = host_points(samples, row)
    return idle, in_call, {"uac_exit": sipp.uac_exit, "packets": sipp.rtp_packets,
                           "capture": status.get("capture", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measuring window")
    args = parser.parse_args()
    idle, in_call, call = run(args.seconds)
    print(f"{'':>10} {'CPU % of a core':>16} {'RSS MB':>7} {'peak MB':>8} {'host points':>12} {'gateway probes':>15}")
    for name, row in (("idle", idle), ("call up", in_call)):
        print(f"{name:>10} {row['cpu_pct']:>16.2f} {row['rss_mb']:>7.1f} {row['peak_mb']:>8.1f} "
              f"{row['host_points']:>12} {row['gateway_probes']:>15}")
    print(f"{'call/idle':>10} {in_call['cpu_pct'] / idle['cpu_pct'] if idle['cpu_pct'] else float('inf'):>16.2f} "
          f"{in_call['rss_mb'] / idle['rss_mb']:>7.2f}")
    print(f"call: sipp exit {call['uac_exit']}, {call['packets']} packets each way; agent capture "
          f"{call['capture'].get('packets')} packets, {call['capture'].get('drops')} drops")
    within = in_call["cpu_pct"] < TARGET_CPU_PCT and in_call["peak_mb"] < TARGET_RSS_MB
    print(f"target: under {TARGET_CPU_PCT:g} % and {TARGET_RSS_MB:g} MB with a call up: {'ok' if within else 'MISSED'}")
    sys.exit(0 if within and call["uac_exit"] == 0 else 1)


if __name__ == "__main__":
    main()

"""Benchmark: what one check costs a candidate's home: wall time and bytes on the wire, from the CLI and the browser.

For each link rate (default 8 and 50 Mbit/s, the same both ways, tbf with 50 ms of queue), `homeshore serve`
runs in one network namespace and, in the other, the installed `homeshore check --json` (full, then --quick),
then the browser check: Debian's headless Chromium opens a one-use invite link, clicks Start and waits for the
verdict (tests/references/cdp.py, as tests/server/test_browser_check_live.py drives it).
Printed per run: wall time (the command's; for the browser, from the click to the verdict), bytes the home's
interface moved (both directions, from the kernel's counters: the reference, headers included), the check's own
count of payload bytes (`bytes_used`), and the ratio of the two. Targets: a full CLI check at most 60 s and 25 MB
at 8 Mbit/s, --quick at most 20 s (issue 5); the browser check at most 40 s and 25 MB at 8 Mbit/s (issue 16).
Needs root (namespaces).

    python bench/check_cost.py [--rates 8,50] [--modes full,quick,browser]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import netlab  # noqa: E402  (the same lab the live tests use)

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
HTTP_PORT, UDP_PORT = 8080, 8610
TARGETS = {("full", 8): (60.0, 25e6), ("quick", 8): (20.0, None), ("quick", 50): (20.0, None),
           ("browser", 8): (40.0, 25e6)}
MODES = ("full", "quick", "browser")


def interface_bytes(ns: str, dev: str) -> int:
    stats = netlab.run(ns, ["cat", f"/sys/class/net/{dev}/statistics/rx_bytes",
                            f"/sys/class/net/{dev}/statistics/tx_bytes"])
    return sum(int(value) for value in stats.split())


def shape_both_ways(lab: netlab.Lab, rate_mbps: int) -> None:
    for host in (lab.a, lab.b):
        netlab.shape(host.ns, host.dev, rate_kbit=rate_mbps * 1000,
                     burst_bytes=max(3_000, rate_mbps * 1_000_000 // 8 // 250), latency_ms=50)


def measure_browser(rate_mbps: int) -> dict:
    """The browser check of a one-use link; the wall time is the page's own, from the click to the verdict."""
    from tests.cli.test_check_live import HTTP_PORT as port, serving
    from tests.server.test_browser_check_live import browser_check, invite, the_document

    with netlab.Lab() as lab, tempfile.TemporaryDirectory() as temporary:
        state = Path(temporary) / "state"
        token = invite(state, "BENCH-1", "NG5")
        shape_both_ways(lab, rate_mbps)
        with serving(lab, state):
            before = interface_bytes(lab.a.ns, lab.a.dev)
            shown, _ = browser_check(lab, f"http://{lab.b.ipv4}:{port}/c/{token}", Path(temporary) / "profile")
            wire_bytes = interface_bytes(lab.a.ns, lab.a.dev) - before
        document = the_document(state)
    return {"rate_mbps": rate_mbps, "mode": "browser", "wall_s": shown["elapsed_s"], "wire_bytes": wire_bytes,
            "bytes_used": document["measurements"]["bytes_used"], "verdict": document["verdict"], "exit": 0}


def measure(rate_mbps: int, mode: str) -> dict:
    if mode == "browser":
        return measure_browser(rate_mbps)
    with netlab.Lab() as lab, tempfile.TemporaryDirectory() as state:
        serve = netlab.popen(lab.b.ns, [str(CONSOLE_SCRIPT), "serve", "--http-port", str(HTTP_PORT),
                                        "--udp-port", str(UDP_PORT)], stdout=subprocess.PIPE, text=True)
        try:
            serve.stdout.readline()
            shape_both_ways(lab, rate_mbps)
            before = interface_bytes(lab.a.ns, lab.a.dev)
            argv = ["ip", "netns", "exec", lab.a.ns, "env", f"HOMESHORE_AGENT_STATE_DIR={state}",
                    str(CONSOLE_SCRIPT), "check", "--server", f"http://{lab.b.ipv4}:{HTTP_PORT}", "--json"]
            if mode == "quick":
                argv.append("--quick")
            started = time.monotonic()
            result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            wall_s = time.monotonic() - started
            wire_bytes = interface_bytes(lab.a.ns, lab.a.dev) - before
        finally:
            netlab.end_process(serve)
    document = json.loads(result.stdout)
    return {"rate_mbps": rate_mbps, "mode": mode, "wall_s": wall_s, "wire_bytes": wire_bytes,
            "bytes_used": document["measurements"]["bytes_used"], "verdict": document["verdict"],
            "exit": result.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="8,50", help="link rates in Mbit/s, comma-separated")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    args = parser.parse_args()
    modes = args.modes.split(",")
    if not set(modes) <= set(MODES):
        parser.error(f"--modes: unknown {', '.join(sorted(set(modes) - set(MODES)))}")
    print(f"{'rate':>9} {'mode':>6} {'wall s':>7} {'wire MB':>8} {'own MB':>7} {'own/wire':>8}  target")
    failed = False
    for rate in (int(r) for r in args.rates.split(",")):
        for mode in modes:
            row = measure(rate, mode)
            limit_s, limit_bytes = TARGETS.get((mode, rate), (None, None))
            within = (limit_s is None or row["wall_s"] <= limit_s) and \
                     (limit_bytes is None or row["wire_bytes"] <= limit_bytes)
            target = "-" if limit_s is None else \
                f"<= {limit_s:g} s" + (f", {limit_bytes / 1e6:g} MB" if limit_bytes else "") + \
                (" ok" if within else " MISSED")
            failed |= not within
            print(f"{rate:>4} Mbit/s {mode:>6} {row['wall_s']:>7.1f} {row['wire_bytes'] / 1e6:>8.2f} "
                  f"{row['bytes_used'] / 1e6:>7.2f} {row['bytes_used'] / row['wire_bytes']:>8.3f}  {target}",
                  flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

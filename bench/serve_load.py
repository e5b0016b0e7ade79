"""Benchmark: one `homeshore serve` process under N candidates checking at once (issue 16).

A star of network namespaces: the server's, and one per candidate, each joined to the server's by a veth pair
of its own shaped to --rate-mbit each way (tc tbf: the candidate's broadband; the server's side is the sum).
The server process serves the speed-test endpoints (server/speed_http.py) with the browser call's routes
(server/webrtc_call.py) on one application and event loop, as `homeshore serve` does. Each candidate is a
scripted client process (no browser) in its own namespace; all start each phase together:
- download: 4 parallel GETs of /speedtest/random4000x4000.jpg for --phase-s, the first second discarded;
- upload: 4 parallel POSTs to /speedtest/upload.php for --phase-s, each cut at the phase's end, counted by the
  server's receipt where the bytes arrived, the first second discarded;
- the synthetic call over WebRTC (tests/tools/call_client.py: aiortc, one unordered no-retransmit data channel,
  50 packets/s each way for --seconds), scored by the server.
Printed per N: the server's CPU (% of one core over the whole run of that N) and peak RSS, each leg's mean
jitter and the jitter added (the mean over the N calls less the lone call's, the worse leg), the server loop's
own lag during the calls (the mean change of a 20-ms timer's lateness from tick to tick, and its 99th
percentile: the part of the added jitter that is the server's), the worst leg's loss, and the mean speeds as
ratios to the lone candidate's. Targets (issue 16): at N = 20, added jitter under 1 ms, speeds within 5 %.
The candidates' own processes share the machine's 2 cores with the server, so part of what is added at high N
is theirs. Needs root (namespaces).

    python bench/serve_load.py [--counts 1,5,10,20] [--rate-mbit 8] [--seconds 20] [--phase-s 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.capture_load import cpu_seconds, peak_rss_mib  # noqa: E402
from tests import netlab  # noqa: E402  (the same lab the live tests use)

STREAMS = 4
WARMUP_S = 1.0
SETTLE_S = 1.0  # between phases: what the last one left in the link's queue drains before the next starts
CHUNK = 64 * 1024
CHECK_PREFIX = "bench-"
LAG_TICK_S = 0.020


# --- the server process ---------------------------------------------------------------------------------------

async def serve(bind: str, lags_path: str) -> None:
    from homeshore.server.sockets import bound_socket
    from homeshore.server.speed_http import start_speed_http
    from homeshore.server.webrtc_call import WebrtcCall
    from homeshore.server.webrtc_limits import WebrtcLimits

    calls = WebrtcCall(lambda check_id: check_id.startswith(CHECK_PREFIX), WebrtcLimits(peers_total=64))
    sock = bound_socket(bind, 0, socket.SOCK_STREAM)
    http = await start_speed_http(sock, udp_port=0, routes=calls.routes())
    lags: list[tuple[float, float]] = []

    async def monitor() -> None:
        """How late a 20-ms timer fires on the server's loop: what the call's packets wait for it too."""
        while True:
            due_s = time.monotonic() + LAG_TICK_S
            await asyncio.sleep(LAG_TICK_S)
            lags.append((due_s, time.monotonic() - due_s))

    monitoring = asyncio.create_task(monitor())
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    print(f"listening {sock.getsockname()[1]}", flush=True)
    await stopping.wait()
    monitoring.cancel()
    print(json.dumps({"http": (await http.stop()).__dict__, "calls": (await calls.stop()).__dict__}), flush=True)
    Path(lags_path).write_text(json.dumps(lags))


# --- a candidate process --------------------------------------------------------------------------------------

@dataclass
class _Phase:
    """One phase of a candidate's speed test: its connections share this."""

    url: str
    counted_from_s: float  # the warm-up's end
    until_s: float
    test_id: str = field(default_factory=lambda: os.urandom(8).hex())  # the server's receipt of the uploads
    read_bytes: int = 0  # downloaded past the warm-up


async def _download(session, phase: _Phase) -> None:
    async with session.get(f"{phase.url}/speedtest/random4000x4000.jpg") as response:
        while time.monotonic() < phase.until_s:
            data = await response.content.read(CHUNK)
            if not data:
                return
            if time.monotonic() >= phase.counted_from_s:
                phase.read_bytes += len(data)


def _no_linger(addr_info) -> socket.socket:
    """A cut upload's unsent bytes are discarded at close (RST), not left to drain into the next phase: with
    them, the call started behind up to seconds of queued upload and lost packets to the tbf queue."""
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return sock


async def _upload(session, phase: _Phase) -> None:
    block = os.urandom(CHUNK)

    async def body():
        while time.monotonic() < phase.until_s:
            yield block
    # The speed server takes only declared lengths (411 otherwise): the largest it accepts, cut at the phase's end.
    headers = {"Content-Length": str(8 * 1024 * 1024)}
    async with session.post(f"{phase.url}/speedtest/upload.php?test={phase.test_id}", data=body(),
                            headers=headers) as reply:
        await reply.read()


async def _received_mbps(session, phase: _Phase, phase_s: float) -> float:
    """The upload as the server's receipt counted it where the bytes arrived (server/receipts.py: 0.1-s bins
    from the first byte), the first second and the last bin (cut by the phase's end) left out."""
    async with session.get(f"{phase.url}/speedtest/receipt?test={phase.test_id}") as reply:
        receipt = await reply.json()
    bins = receipt["bins"][round(WARMUP_S / receipt["bin_s"]):round(phase_s / receipt["bin_s"]) - 1]
    return sum(bins) * 8 / (len(bins) * receipt["bin_s"]) / 1e6 if bins else 0.0


async def _speed(worker, session, url: str, phase_s: float) -> float:
    """Mbit/s over the phase less its first second, STREAMS connections at once: downloads as read here,
    uploads as the server received them."""
    start_s = time.monotonic()
    phase = _Phase(url, start_s + WARMUP_S, start_s + phase_s)
    tasks = [asyncio.create_task(worker(session, phase)) for _ in range(STREAMS)]
    await asyncio.wait(tasks, timeout=phase_s)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if worker is _upload:
        return await _received_mbps(session, phase, phase_s)
    return phase.read_bytes * 8 / (phase_s - WARMUP_S) / 1e6


async def candidate(url: str, name: str, seconds: int, phase_s: float) -> None:
    import aiohttp

    from tests.tools.call_client import scripted_call

    print("ready", flush=True)
    start_at = float(await asyncio.to_thread(sys.stdin.readline))
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=_no_linger)) as session:
        download = await _speed(_download, session, url, phase_s)
        await asyncio.sleep(SETTLE_S)
        upload = await _speed(_upload, session, url, phase_s)
        await asyncio.sleep(SETTLE_S)
        call_start_s = time.monotonic()
        call = await scripted_call(session, f"{url}/check/{CHECK_PREFIX}{name}", seconds=seconds)
    print(json.dumps({"download_mbps": download, "upload_mbps": upload, "call_status": call.status,
                      "call": call.reply, "call_s": [call_start_s, time.monotonic()]}), flush=True)


# --- the coordinator ------------------------------------------------------------------------------------------

def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def build_star(count: int, rate_mbit: int) -> tuple[str, list[tuple[str, str]]]:
    """The server's namespace and (namespace, server address) per candidate; names as netlab's, so a run
    killed midway is swept by the next lab."""
    server_ns = f"{netlab.PREFIX}{os.getpid()}-900a"
    _sh("ip", "netns", "add", server_ns)
    netlab.run(server_ns, ["ip", "link", "set", "lo", "up"])
    clients = []
    for k in range(count):
        ns = f"{netlab.PREFIX}{os.getpid()}-{901 + k}b"
        _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", f"vs{k}", "netns", server_ns, "type", "veth", "peer", "name", "vc", "netns", ns)
        server_address, client_address = f"10.80.{k}.1", f"10.80.{k}.2"
        netlab.run(server_ns, ["ip", "addr", "add", f"{server_address}/24", "dev", f"vs{k}"])
        netlab.run(ns, ["ip", "addr", "add", f"{client_address}/24", "dev", "vc"])
        for where, dev in ((server_ns, f"vs{k}"), (ns, "vc")):
            netlab.run(where, ["ip", "link", "set", dev, "up"])
            netlab.shape(where, dev, rate_mbit * 1000, 32 * 1024, 50)
        netlab.run(ns, ["ip", "link", "set", "lo", "up"])
        netlab.run(ns, ["ip", "route", "add", "default", "via", server_address, "dev", "vc"])
        clients.append((ns, server_address))
    for ns, _ in clients:
        deadline = time.monotonic() + 10
        while " state UP " not in netlab.run(ns, ["ip", "-o", "link", "show", "dev", "vc"]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ns}: vc never came up")
            time.sleep(0.05)  # carrier comes through the kernel's link watch, up to a second after set up
    return server_ns, clients


def run_load(server: subprocess.Popen, port: int, clients: list[tuple[str, str]], args) -> dict:
    processes = [netlab.popen(ns, [sys.executable, __file__, "--candidate", f"http://{address}:{port}",
                                   "--name", str(k), "--seconds", str(args.seconds), "--phase-s", str(args.phase_s)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
                 for k, (ns, address) in enumerate(clients)]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready"
        cpu_before, started_s = cpu_seconds(server.pid), time.monotonic()
        start_at = time.monotonic() + 0.5
        for process in processes:
            process.stdin.write(f"{start_at}\n")
            process.stdin.flush()
        results = [json.loads(process.stdout.readline()) for process in processes]
        cpu_pct = 100 * (cpu_seconds(server.pid) - cpu_before) / (time.monotonic() - started_s)
    finally:
        for process in processes:
            netlab.end_process(process)
    calls = [r["call"] for r in results if r["call_status"] == 200]
    return {
        "n": len(clients), "cpu_pct": cpu_pct, "rss_mib": peak_rss_mib(server.pid), "calls_scored": len(calls),
        "download_mbps": statistics.mean(r["download_mbps"] for r in results),
        "upload_mbps": statistics.mean(r["upload_mbps"] for r in results),
        "jitter_up_ms": statistics.mean(c["upstream"]["jitter_ms"] for c in calls) if calls else None,
        "jitter_down_ms": statistics.mean(c["downstream"]["jitter_ms"] for c in calls) if calls else None,
        "loss_pct": max((c[leg]["loss_pct"] for c in calls for leg in ("upstream", "downstream")), default=None),
        "call_window_s": [min(r["call_s"][0] for r in results), max(r["call_s"][1] for r in results)],
        "load_1min": os.getloadavg()[0],  # the machine is shared: what else ran shows here
    }


def loop_lag_ms(lags: list[list[float]], window_s: list[float]) -> tuple[float, float]:
    """Over the calls' window: the mean change of the server loop's lag from one 20-ms tick to the next (the
    jitter a 20-ms stream gets from waiting for the loop: RFC 3550's J averages the same |D|), and its 99th
    percentile lag."""
    inside = [lag for due_s, lag in lags if window_s[0] <= due_s <= window_s[1]]
    if len(inside) < 2:
        return math.nan, math.nan
    changes = [abs(b - a) for a, b in zip(inside, inside[1:])]
    return 1000 * statistics.mean(changes), 1000 * statistics.quantiles(inside, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="1,5,10,20")
    parser.add_argument("--rate-mbit", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--phase-s", type=float, default=6.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--lags", help=argparse.SUPPRESS)
    parser.add_argument("--candidate", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return asyncio.run(serve(args.serve, args.lags))
    if args.candidate:
        return asyncio.run(candidate(args.candidate, args.name, args.seconds, args.phase_s))
    counts = [int(n) for n in args.counts.split(",")]
    server_ns, clients = build_star(max(counts), args.rate_mbit)
    lags_file = tempfile.NamedTemporaryFile(prefix="serve_load_lags", suffix=".json")
    server = netlab.popen(server_ns, [sys.executable, __file__, "--serve", "0.0.0.0", "--lags", lags_file.name],
                          stdout=subprocess.PIPE, text=True, cwd=REPO)
    rows = []
    try:
        port = int(server.stdout.readline().split()[1])
        for n in counts:
            rows.append(run_load(server, port, clients[:n], args))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        netlab.end_process(server)
        for ns in [server_ns] + [ns for ns, _ in clients]:
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
    print(server.stdout.read().strip())
    lags = json.loads(Path(lags_file.name).read_text())
    lone = rows[0]
    print(f"{'N':>3} {'CPU %':>6} {'RSS MiB':>8} {'calls':>5} {'jit up ms':>9} {'jit dn ms':>9} {'added ms':>8} "
          f"{'lag jit':>7} {'lag p99':>7} {'loss %':>6} {'down Mb/s':>9} {'ratio':>6} {'up Mb/s':>8} {'ratio':>6} "
          f"{'load':>5}")
    for row in rows:
        added = max(row["jitter_up_ms"] - lone["jitter_up_ms"], row["jitter_down_ms"] - lone["jitter_down_ms"])
        lag_jitter_ms, lag_p99_ms = loop_lag_ms(lags, row["call_window_s"])
        print(f"{row['n']:>3} {row['cpu_pct']:>6.1f} {row['rss_mib']:>8.1f} {row['calls_scored']:>5} "
              f"{row['jitter_up_ms']:>9.3f} {row['jitter_down_ms']:>9.3f} {added:>8.3f} {lag_jitter_ms:>7.3f} "
              f"{lag_p99_ms:>7.2f} {row['loss_pct']:>6.2f} "
              f"{row['download_mbps']:>9.2f} {row['download_mbps'] / lone['download_mbps']:>6.3f} "
              f"{row['upload_mbps']:>8.2f} {row['upload_mbps'] / lone['upload_mbps']:>6.3f} {row['load_1min']:>5.1f}")


if __name__ == "__main__":
    main()

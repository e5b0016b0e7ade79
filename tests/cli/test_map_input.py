"""The CSV input of `homeshore map` can be found (issue 15): `--help` and the README name every column the reader
accepts, with its unit, each documented column is really read, and the repository's example file maps without
error to figures worked by hand and by the independent reference (tests/cli/map_reference.py)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from homeshore.planning.home_tests import CSV_FIGURES, CSV_OPTIONAL, CSV_REQUIRED, csv_home_tests
from tests.cli.map_reference import Raw, expected_areas

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE = REPOSITORY / "examples" / "home_tests.csv"
CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
ACCEPTED = (*CSV_REQUIRED, *CSV_FIGURES, *CSV_OPTIONAL)
UNITS = {"_mbps": "Mbit/s", "_ms": "ms", "_pct": "%", "mos": "MOS (1-5)"}


def documented_columns(text: str) -> dict[str, str]:
    """column -> its description, from the indented two-column list in the help text."""
    return dict(re.findall(r"^ {4}([a-z_]+) {2,}(.+)$", text, re.MULTILINE))


@pytest.fixture(scope="module")
def help_text() -> str:
    result = subprocess.run([str(CONSOLE_SCRIPT), "map", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_names_every_column_the_reader_accepts_with_its_unit(help_text: str) -> None:
    columns = documented_columns(help_text)
    assert sorted(columns) == sorted(ACCEPTED)
    for column, description in columns.items():
        unit = next((unit for suffix, unit in UNITS.items() if column.endswith(suffix)), None)
        if unit is not None:
            assert description.startswith(unit), (column, description)
    assert "examples/home_tests.csv" in help_text
    assert all(value in columns["conn"] for value in ("wired", "wifi", "cellular", "unknown"))


def test_the_readme_names_every_column() -> None:
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Planning maps"):]
    section = section[:section.index("\n## ", 1)]
    assert {column for column in ACCEPTED if f"`{column}`" not in section} == set()
    assert "examples/home_tests.csv" in section


@pytest.mark.parametrize("column", CSV_FIGURES)
def test_each_documented_figure_column_is_read(column: str) -> None:
    read = csv_home_tests([f"time,agent,postcode,{column},comment\n", "1700000000,a,NG5 1AA,12.25,ignored\n"])
    (test,) = read.tests
    assert getattr(test, column) == 12.25
    assert [name for name in CSV_FIGURES if getattr(test, name) is not None] == [column]


def test_conn_is_read_when_present() -> None:
    read = csv_home_tests(["time,agent,postcode,download_mbps,conn\n", "1700000000,a,NG5 1AA,10,WiFi\n"])
    assert read.tests[0].conn == "wifi"


def read_example() -> list[Raw]:
    def value(text: str) -> float | None:
        return float(text) if text else None

    with EXAMPLE.open(newline="", encoding="utf-8") as file:
        return [Raw(time=datetime.fromisoformat(row["time"].replace("Z", "+00:00")), agent=row["agent"],
                    postcode=row["postcode"], conn=row["conn"] or None,
                    **{name: value(row[name]) for name in CSV_FIGURES})
                for row in csv.DictReader(file)]


@pytest.mark.parametrize("level", ["district", "sector"])
def test_the_example_maps_without_error_to_known_figures(level: str, tmp_path: Path) -> None:
    until = "2026-11-20T12:00:00+00:00"
    result = subprocess.run([str(CONSOLE_SCRIPT), "map", "--from", f"csv:{EXAMPLE}", "--until", until,
                             "--level", level, "--out", str(tmp_path), "--json"],
                            capture_output=True, text=True, timeout=120,
                            env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and result.stderr == "", result.stderr  # no row skipped
    areas = {entry["area"]: entry for entry in json.loads(result.stdout)["areas"]}
    reference = expected_areas(read_example(), level, datetime.fromisoformat(until))
    assert sorted(areas) == sorted(reference)
    for area, want in reference.items():
        assert {key: areas[area][key] for key in want} == want, area
    if level == "district":
        # Worked by hand: NG5 has 8 homes (6 eligible, home-e too slow, home-f one test: not yet known), shown as
        # 10 homes and 5 eligible, 50 % of the rounded counts. Home medians 5.5, 22, 26, 32, 42, 52, 62, 70:
        # median (32 + 42) / 2 = 37; 10th percentile at 0.7 of the way from 5.5 to 22: 17.05. Wi-Fi 4 of 8.
        # NG18's 2 homes show nothing.
        assert {key: areas["NG5"][key] for key in ("homes", "eligible", "eligible_pct", "not_yet_known",
                                                    "download_median_mbps", "download_p10_mbps",
                                                    "upload_median_mbps", "mos_median", "wifi_pct")} == {
            "homes": 10, "eligible": 5, "eligible_pct": 50.0, "not_yet_known": 0, "download_median_mbps": 37.0,
            "download_p10_mbps": 17.05, "upload_median_mbps": 10.0, "mos_median": 4.3, "wifi_pct": 50.0}
        assert areas["NG18"]["suppressed"] is True and areas["NG18"]["homes"] is None

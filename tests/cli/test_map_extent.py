"""`homeshore map --extent` and, at `--level area`, how many of an area's districts were measured: the console
script on the shared GB boundaries, checked against the boundaries and the postcode-district list read here."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cli.map_reference import UNTIL, Raw
from tests.cli.one_line import assert_one_line_exit_2
from tests.cli.test_map import (CONSOLE_SCRIPT, GEO, districts_geojson, homeshore_map, private_cache,  # noqa: F401
                                raws, samples_csv)
from tests.conftest import skip_or_fail

SVG = "{http://www.w3.org/2000/svg}"


def svg_areas(directory: Path) -> dict[str, str]:
    """data-area code -> its hover text, from map.svg."""
    root = ET.fromstring((directory / "map.svg").read_text(encoding="utf-8"))
    return {element.get("data-area"): element.find(f"{SVG}title").text
            for element in root.iter() if element.get("data-area") is not None}


def district_boxes(path: Path) -> dict[str, tuple[float, float, float, float]]:
    """district -> (min_lon, min_lat, max_lon, max_lat) of its outline, read from the GeoJSON here."""
    boxes: dict[str, list[float]] = {}
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        geometry = feature["geometry"]
        members = geometry["geometries"] if geometry["type"] == "GeometryCollection" else [geometry]
        for member in members:
            polygons = [member["coordinates"]] if member["type"] == "Polygon" else \
                member["coordinates"] if member["type"] == "MultiPolygon" else []
            for polygon in polygons:
                for lon, lat in polygon[0]:
                    box = boxes.setdefault(feature["properties"]["district"], [lon, lat, lon, lat])
                    box[:] = [min(box[0], lon), min(box[1], lat), max(box[2], lon), max(box[3], lat)]
    return {code: tuple(box) for code, box in boxes.items()}


def test_bad_extents_get_one_line_and_exit_2(samples_csv: Path, tmp_path: Path) -> None:
    base = ("--from", f"csv:{samples_csv}", "--until", UNTIL.isoformat(), "--out", str(tmp_path))
    assert_one_line_exit_2(homeshore_map(*base, "--extent", "gb"), "--extent", "data, all or W,S,E,N")
    assert_one_line_exit_2(homeshore_map(*base, "--extent", "1,2,3"), "--extent", "W,S,E,N")
    assert_one_line_exit_2(homeshore_map(*base, "--extent", "-0.5,52,-2,53"), "--extent", "west -0.5")
    assert not (tmp_path / "map.svg").exists()


def test_extent_all_data_and_a_box(samples_csv: Path, districts_geojson: Path, tmp_path: Path) -> None:
    base = ("--from", f"csv:{samples_csv}", "--until", UNTIL.isoformat(), "--boundaries", str(districts_geojson))
    drawn = {}
    for extent in ("all", "data", "-1.3,53.0,-1.1,53.2"):
        result = homeshore_map(*base, "--extent", extent, "--out", str(tmp_path / extent))
        assert result.returncode == 0, result.stderr
        drawn[extent] = svg_areas(tmp_path / extent)
    boxes = district_boxes(districts_geojson)
    with (tmp_path / "all" / "areas.csv").open(newline="", encoding="utf-8") as file:
        measured = {row["area"] for row in csv.DictReader(file) if row["source"] == "measured"}
    # the country: every district but a few city-centre ones too small to draw at that scale
    assert len(boxes) == 2736 and len(set(drawn["all"]) & set(boxes)) > 2600
    assert measured <= set(drawn["all"]) and measured <= set(drawn["data"])
    # the box: every district reaching into it is drawn; none lying a degree or more away from it is
    west, south, east, north = -1.3, 53.0, -1.1, 53.2
    reaching = {code for code, (x0, y0, x1, y1) in boxes.items() if x0 < east and x1 > west and y0 < north and y1 > south}
    far = {code for code, (x0, y0, x1, y1) in boxes.items()
           if x1 < west - 1 or x0 > east + 1 or y1 < south - 1 or y0 > north + 1}
    assert reaching and reaching <= set(drawn["-1.3,53.0,-1.1,53.2"])
    assert not far & set(drawn["-1.3,53.0,-1.1,53.2"])
    for extent, has_inset in (("all", False), ("data", True), ("-1.3,53.0,-1.1,53.2", True)):
        text = (tmp_path / extent / "map.svg").read_text(encoding="utf-8")
        assert ('id="inset"' in text) is has_inset, extent


def test_area_level_says_how_many_districts_were_measured(raws: list[Raw], samples_csv: Path,
                                                          districts_geojson: Path, tmp_path: Path) -> None:
    directory = GEO / "gb_postcode_district_centroids.csv"
    if not directory.is_file():
        skip_or_fail(f"shared district list not found at {directory}")
    result = subprocess.run([str(CONSOLE_SCRIPT), "map", "--from", f"csv:{samples_csv}", "--until", UNTIL.isoformat(),
                             "--level", "area", "--boundaries", str(districts_geojson), "--code-property", "area",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "200"})  # one line per row in the printed table
    assert result.returncode == 0, result.stderr
    # the reference: each home's district is that of its latest test in the 28 days; an area's districts are
    # those of the ONS directory (the shared list), with any measured one it lacks
    latest: dict[str, Raw] = {}
    for raw in raws:
        if UNTIL - timedelta(days=28) < raw.time <= UNTIL and (raw.agent not in latest
                                                               or raw.time > latest[raw.agent].time):
            latest[raw.agent] = raw
    measured: dict[str, set[str]] = defaultdict(set)
    for raw in latest.values():
        measured[raw.area("area")].add(raw.district)
    known: dict[str, set[str]] = defaultdict(set)
    with directory.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            known[re.match(r"[A-Z]+", row["district"])[0]].add(row["district"])
    titles = svg_areas(tmp_path)
    with (tmp_path / "areas.csv").open(newline="", encoding="utf-8") as file:
        shown = {row["area"]: row for row in csv.DictReader(file) if row["source"] == "measured" and row["homes"]}
    assert shown
    for area, row in shown.items():
        total = len(measured[area] | known[area])
        assert (row["districts_measured"], row["districts"]) == (str(len(measured[area])), str(total)), area
        assert f"{len(measured[area])} of {total} district" in titles[area], (area, titles[area])
        assert re.search(rf"│\s*{area}\s*│\s*{len(measured[area])} of {total}\s*│", result.stdout), area

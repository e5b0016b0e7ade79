"""`homeshore map` run as a planner runs it (the console script), its areas.csv checked against an independent
computation from the raw tests the test wrote (tests/cli/map_reference.py), for the three levels and the three
sources: a CSV, the local spool and a real InfluxDB 1.6."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from homeshore.collector.schema import Sample, to_line_protocol
from homeshore.collector.spool import Spool
from tests.cli.map_reference import UNTIL, Raw, csv_text, expected_areas, generate, published_team
from tests.cli.one_line import assert_one_line_exit_2
from tests.conftest import SHARED, require_tool, skip_or_fail
from tests.references.influxd import InfluxServer

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
GEO = SHARED / "geo"
FIGURES = ("homes", "eligible", "eligible_pct", "download_median_mbps", "download_p10_mbps", "upload_median_mbps",
           "mos_median", "wifi_pct")
COUNTS = ("homes", "eligible")


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """The postcode centroids' cache goes into a temporary directory, never the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


def homeshore_map(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONSOLE_SCRIPT), "map", *args], capture_output=True, text=True, timeout=120)


def read_areas_csv(directory: Path) -> dict[str, dict]:
    with (directory / "areas.csv").open(newline="", encoding="utf-8") as file:
        return {row["area"]: row for row in csv.DictReader(file)}


def assert_areas_equal(produced: dict[str, dict], expected: dict[str, dict]) -> None:
    assert sorted(produced) == sorted(expected)
    for area, want in expected.items():
        got = produced[area]
        assert got["level"] == want["level"] and got["source"] == want["source"], (area, got)
        for column in FIGURES:
            cell, value = got[column], want[column]
            if value is None:
                assert cell == "", (area, column, got)
            elif column in COUNTS:
                assert int(cell) == value, (area, column, got, want)
            else:
                # Both sides round the same exact figure; an interpolation done in another order can differ in
                # the last binary digit and so round to the neighbouring hundredth.
                assert math.isclose(float(cell), value, abs_tol=0.0101), (area, column, got, want)


@pytest.fixture(scope="module")
def raws() -> list[Raw]:
    return generate(7, UNTIL)


@pytest.fixture(scope="module")
def samples_csv(raws: list[Raw], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("input") / "samples.csv"
    path.write_text(csv_text(raws), encoding="utf-8")
    return path


@pytest.mark.parametrize("level", ["district", "area", "sector"])
def test_areas_csv_equals_an_independent_computation_from_a_csv(level: str, raws: list[Raw], samples_csv: Path,
                                                                 tmp_path: Path) -> None:
    result = homeshore_map("--from", f"csv:{samples_csv}", "--level", level, "--until", UNTIL.isoformat(),
                           "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    expected = expected_areas(raws, level, UNTIL)
    assert_areas_equal(read_areas_csv(tmp_path), expected)
    # The generator makes both kinds of area at every level, so the comparison covers suppression too.
    assert any(row["homes"] is None for row in expected.values())
    assert any(row["homes"] is not None for row in expected.values())
    shown = [row["eligible_pct"] for row in expected.values() if row["homes"] is not None]
    if level != "sector":  # the sectors shown have 5-7 homes and at most 2 eligible: a share of 0 of 5
        assert any(0 < pct < 100 for pct in shown), shown  # eligible and not eligible homes side by side
    document = json.loads(result.stdout)
    assert {area["area"] for area in document["areas"]} == set(expected)


def bandwidth_samples(raws: list[Raw]) -> list[Sample]:
    """What the agent and `homeshore check` write for these tests: the district as `area`, never the postcode."""
    samples = []
    for raw in raws:
        tags = {"agent": raw.agent, "area": raw.district, "conn": raw.conn or "unknown", "server": "test"}
        time_ns = int(raw.time.timestamp()) * 10**9
        samples.append(Sample("bandwidth", tags, {
            "download_mbps": raw.download_mbps, "upload_mbps": raw.upload_mbps, "idle_rtt_ms": raw.idle_rtt_ms,
            "loaded_rtt_down_ms": raw.loaded_rtt_ms, "loaded_rtt_up_ms": None if raw.loaded_rtt_ms is None
            else raw.loaded_rtt_ms / 2, "jitter_ms": raw.jitter_ms, "loss_pct": raw.loss_pct}, time_ns))
        if raw.mos is not None:
            samples.append(Sample("voip_test", {**tags, "codec": "PCMU"}, {"mos": raw.mos}, time_ns))
    return samples


def without_sectors(raws: list[Raw]) -> list[Raw]:
    """The conn tag has no "no value": the agent writes "unknown", which the map does not count either way."""
    return [Raw(**{**raw.__dict__, "postcode": raw.district}) for raw in raws]


@pytest.mark.parametrize("level", ["district", "area"])
def test_areas_csv_equals_an_independent_computation_from_the_spool(level: str, raws: list[Raw],
                                                                    tmp_path: Path) -> None:
    spool = tmp_path / "state" / "spool.sqlite3"
    with Spool(spool) as store:
        store.append(bandwidth_samples(raws))
        store.append([Sample("host", {"agent": "home-001", "area": "NG5", "conn": "wifi"}, {"cpu_pct": 5.0},
                             int(UNTIL.timestamp()) * 10**9)])
    result = homeshore_map("--from", f"spool:{spool}", "--level", level, "--until", UNTIL.isoformat(),
                           "--out", str(tmp_path / "map"))
    assert result.returncode == 0, result.stderr
    assert_areas_equal(read_areas_csv(tmp_path / "map"), expected_areas(without_sectors(raws), level, UNTIL))


@pytest.fixture(scope="module")
def influx(raws: list[Raw]):
    with InfluxServer() as server:
        server.query('CREATE DATABASE "homeshore"')
        lines = [to_line_protocol(sample) for sample in bandwidth_samples(raws)]
        reply = server.write(lines, "homeshore")
        assert reply.status == 204, reply.body
        yield server


@pytest.mark.parametrize("level", ["district", "area"])
def test_areas_csv_equals_an_independent_computation_from_influxdb(level: str, raws: list[Raw], influx,
                                                                   tmp_path: Path) -> None:
    result = homeshore_map("--from", "influx", "--url", influx.url, "--level", level, "--until", UNTIL.isoformat(),
                           "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert_areas_equal(read_areas_csv(tmp_path), expected_areas(without_sectors(raws), level, UNTIL))


def test_sector_level_from_the_collector_is_refused_in_one_line(influx, tmp_path: Path) -> None:
    result = homeshore_map("--from", "influx", "--url", influx.url, "--level", "sector", "--out", str(tmp_path))
    assert_one_line_exit_2(result, "--level sector needs full postcodes")


@pytest.fixture(scope="module")
def districts_geojson() -> Path:
    path = GEO / "gb_postcode_districts.geojson"
    if not path.is_file():
        skip_or_fail(f"shared boundaries not found at {path}")
    return path


def test_bad_input_gets_one_line_and_exit_2(samples_csv: Path, districts_geojson: Path, tmp_path: Path) -> None:
    base = ("--from", f"csv:{samples_csv}", "--until", UNTIL.isoformat(), "--out", str(tmp_path / "out"))
    not_json = tmp_path / "broken.geojson"
    not_json.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    assert_one_line_exit_2(homeshore_map(*base, "--boundaries", str(not_json)), "--boundaries", "broken.geojson")
    assert_one_line_exit_2(homeshore_map(*base, "--boundaries", str(districts_geojson), "--code-property", "LAD22CD"),
                           "LAD22CD", "district")
    ofcom = tmp_path / "ofcom.csv"
    ofcom.write_text("postcode_name,coverage\nNG5 1AB,99\n", encoding="utf-8")
    assert_one_line_exit_2(homeshore_map(*base, "--ofcom", str(ofcom)), "--ofcom", "postcode_name")
    assert_one_line_exit_2(homeshore_map(*base, "--hub", "ZZ99 9ZZ:20"), "ZZ99 9ZZ")
    assert_one_line_exit_2(homeshore_map(*base, "--hub", "not a place"), "--hub", "not a place")
    assert_one_line_exit_2(homeshore_map(*base, "--hub", "53.1,-1.2:far"), "reach")
    assert_one_line_exit_2(homeshore_map("--from", f"csv:{samples_csv}", "--until", "2020-01-01T00:00:00Z",
                                         "--out", str(tmp_path / "out")), "no home", "2020-01-01")
    assert_one_line_exit_2(homeshore_map("--from", "csv:/nonexistent/samples.csv", "--out", str(tmp_path)),
                           "/nonexistent/samples.csv")
    no_columns = tmp_path / "no_columns.csv"
    no_columns.write_text("when,who\n2026-11-01T10:00:00Z,a\n", encoding="utf-8")
    assert_one_line_exit_2(homeshore_map("--from", f"csv:{no_columns}", "--out", str(tmp_path)), "time", "postcode")
    assert_one_line_exit_2(homeshore_map("--from", "ftp:somewhere", "--out", str(tmp_path)), "--from")
    assert_one_line_exit_2(homeshore_map("--from", "influx", "--out", str(tmp_path)), "--url")
    assert_one_line_exit_2(homeshore_map(*base, "--level", "county"), "--level")
    assert not (tmp_path / "out" / "map.html").exists()


def shared_centroids() -> dict[str, tuple[float, float]]:
    """District and sector centroids from ../shared/geo (derived by someone else from the same ONS data)."""
    centroids = {}
    for name, column in (("gb_postcode_district_centroids.csv", "district"),
                         ("gb_postcode_sector_centroids.csv", "sector")):
        path = GEO / name
        if not path.is_file():
            skip_or_fail(f"shared centroids not found at {path}")
        with path.open(newline="", encoding="utf-8") as file:
            centroids |= {row[column]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(file)}
    return centroids


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance, written out here from the formula (mean Earth radius 6371.0088 km)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def eligible_home_places(raws: list[Raw], centroids: dict[str, tuple[float, float]]) -> list[tuple[float, float]]:
    """Where each eligible home lies: its latest test's sector centroid, else its district's (brute force)."""
    from tests.cli.map_reference import home_status

    start = UNTIL - timedelta(days=28)
    by_home: dict[str, list[Raw]] = {}
    for raw in raws:
        if start < raw.time <= UNTIL:
            by_home.setdefault(raw.agent, []).append(raw)
    places = []
    for tests in by_home.values():
        if home_status(tests)[0] != "eligible":
            continue
        latest = max(tests, key=lambda t: t.time)
        places.append(centroids.get(latest.sector or "", centroids[latest.district]))
    return places


def test_the_hub_team_count_equals_a_brute_force_count(raws: list[Raw], samples_csv: Path, tmp_path: Path) -> None:
    centroids = shared_centroids()
    places = eligible_home_places(raws, centroids)
    mansfield = (53.1440, -1.1970)
    distances = sorted(haversine_km(mansfield, place) for place in places)
    # A reach in the middle of the widest gap between homes near 25 km, so that centroids derived from the same
    # data a few metres apart cannot put a home on the other side of the line.
    gaps = [(distances[i + 1] - distances[i], (distances[i] + distances[i + 1]) / 2)
            for i in range(len(distances) - 1) if 10 < distances[i] < 40]
    width, reach_km = max(gaps)
    assert width > 0.5, distances
    expected = sum(distance <= reach_km for distance in distances)
    assert expected >= 5  # shown, not suppressed, so the count itself is compared
    far = sum(haversine_km((57.48, -4.22), place) <= 10 for place in places)  # Inverness: too few to show
    assert far < 5

    answers = set()
    for team_size in (max(1, expected - 5), expected, expected + 5):  # below, at and above the rounding interval
        result = homeshore_map("--from", f"csv:{samples_csv}", "--until", UNTIL.isoformat(), "--out", str(tmp_path),
                               "--hub", f"53.1440,-1.1970:{reach_km:.3f}", "--hub", "57.48,-4.22:10",
                               "--team-size", str(team_size), "--json")
        assert result.returncode == 0, result.stderr
        near_hub, far_hub = json.loads(result.stdout)["hubs"]
        assert (near_hub["eligible_homes"], near_hub["team_possible"]) == published_team(expected, team_size)
        assert (far_hub["eligible_homes"], far_hub["team_possible"]) == published_team(far, team_size)
        assert far_hub["areas"] == []
        answers.add(near_hub["team_possible"])
    assert answers == {True, None, False}


OFCOM_2023 = ("postcode,postcode_space,postcode area,All Premises,% of premises unable to receive 2Mbit/s,"
              "% of premises unable to receive 5Mbit/s,% of premises unable to receive 10Mbit/s,"
              "% of premises unable to receive 30Mbit/s\n"
              "NG201AA,NG20 1AA,NG,40,0,2,12,40\n"  # NG20 has measured homes (too few to show): measured wins
              "NG211AB,NG21 1AB,NG,30,1,3,13,50\n"  # NG21 has none: an estimate, drawn as such
              "DN221AB,DN22 1AB,DN,10,5,10,20,60\n")


@pytest.fixture(scope="module")
def full_map(samples_csv: Path, districts_geojson: Path, tmp_path_factory: pytest.TempPathFactory):
    """Every output of one planner's run: the four files, the --json document and the printed table."""
    directory = tmp_path_factory.mktemp("full")
    ofcom = directory / "ofcom.csv"
    ofcom.write_text(OFCOM_2023, encoding="utf-8")
    arguments = ["--from", f"csv:{samples_csv}", "--until", UNTIL.isoformat(), "--boundaries", str(districts_geojson),
                 "--attribution", "Boundaries © Wikipedia contributors, CC BY-SA 3.0", "--ofcom", str(ofcom),
                 "--hub", "NG18:30", "--hub", "57.48,-4.22:5"]
    as_json = homeshore_map(*arguments, "--out", str(directory / "out"), "--json")
    as_table = homeshore_map(*arguments, "--out", str(directory / "again"))
    assert as_json.returncode == 0 and as_table.returncode == 0, (as_json.stderr, as_table.stderr)
    return directory / "out", json.loads(as_json.stdout), as_table.stdout


def svg_area_titles(svg_text: str) -> dict[str, list[str]]:
    """data-area code -> the hover texts of its elements."""
    import xml.etree.ElementTree as ET

    titles: dict[str, list[str]] = {}
    for element in ET.fromstring(svg_text).iter():
        code = element.get("data-area")
        if code is not None:
            titles.setdefault(code, []).extend(t.text or "" for t in element if t.tag.endswith("title"))
    return titles


def test_no_area_with_fewer_than_5_homes_has_a_figure_in_any_output(full_map, raws: list[Raw]) -> None:
    out, document, table = full_map
    small = {area for area, row in expected_areas(raws, "district", UNTIL).items() if row["homes"] is None}
    assert {"NG20", "S10", "LE10", "IV1"} <= small
    rows = read_areas_csv(out)
    for area in small:
        assert all(rows[area][column] == "" for column in FIGURES), rows[area]
        assert rows[area]["source"] == "measured"
    assert rows["NG21"]["source"] == "ofcom_prior" and rows["NG21"]["homes"] == ""
    geojson = json.loads((out / "areas.geojson").read_text(encoding="utf-8"))
    properties = {f["properties"]["area"]: f["properties"] for f in geojson["features"] if "area" in f["properties"]}
    for area in small:
        assert set(properties[area]) == {"area", "level", "source", "suppressed"}, properties[area]
    for entry in document["areas"]:
        if entry["area"] in small:
            assert all(entry[column] is None for column in FIGURES) and entry["suppressed"] is True
    for name in ("map.svg", "map.html"):
        text = (out / name).read_text(encoding="utf-8")
        svg = text[text.index("<svg"):text.index("</svg>") + len("</svg>")]
        titles = svg_area_titles(svg)
        for area in small:
            assert titles[area], (name, area)
            for title in titles[area]:
                rest = title.replace(area, "").replace("fewer than 5", "")
                assert not re.search(r"\d", rest), (name, area, title)
        outside = text.replace(svg, "")
        for area in small:
            assert not re.search(rf"(?<![A-Z0-9]){area}(?![0-9A-Z])", outside), (name, area)
    for area in small:
        assert not re.search(rf"(?<![A-Z0-9]){area}(?![0-9A-Z])", table), area
    inverness = document["hubs"][1]
    assert inverness["eligible_homes"] is None and inverness["areas"] == []


def test_map_html_renders_offline_in_chromium_with_the_choropleth_and_legend(full_map, tmp_path: Path) -> None:
    from homeshore.planning.map_svg import CLASSES, NO_DATA_COLOUR
    from tests.references.chromium import decode_png, render

    chromium = require_tool("chromium")
    out, document, _ = full_map
    rendering = render(chromium, out / "map.html", tmp_path / "chromium", width=1400, height=1200)
    assert rendering.page_requests == ()
    image = decode_png(rendering.screenshot.read_bytes())
    colours = image.colours(0, 0, image.width, image.height)

    def rgb(colour: str) -> tuple[int, int, int]:
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))

    total = sum(colours.values())
    assert colours[rgb(NO_DATA_COLOUR)] > total * 0.02, colours.most_common(5)  # Great Britain's districts drawn
    shown = {next(c.colour for c in CLASSES if c.low_pct <= entry["eligible_pct"] < c.high_pct or
                  (entry["eligible_pct"] == 100 and c.high_pct == 100))
             for entry in document["areas"] if entry["source"] == "measured" and not entry["suppressed"]}
    assert len(shown) >= 2
    for colour in {c.colour for c in CLASSES}:  # the legend has every class; the map has the areas' classes
        assert colours[rgb(colour)] > 0, colour


def test_hovering_an_area_shows_its_hover_text_in_the_side_panel(full_map, tmp_path: Path) -> None:
    """map.html's own script, run by Chromium under the page's Content-Security-Policy: a mouseover on an area
    puts that area's <title> text in the side panel, and leaving the map restores the panel's first text.

    Chromium headless cannot move a mouse for us, so a copy of the page gets a driver script that dispatches the
    events and writes what the panel showed into the DOM, which `--dump-dom` returns. The copy's policy gains
    only the driver's hash: the page's script still runs only because its own hash is in the policy."""
    import base64
    import hashlib
    import html as html_module

    from homeshore.planning.map_html import SCRIPT_HASH
    from tests.references.chromium import dump_dom

    chromium = require_tool("chromium")
    out, document, _ = full_map
    titles = svg_area_titles((out / "map.svg").read_text(encoding="utf-8"))
    shown = [entry["area"] for entry in document["areas"]
             if entry["source"] == "measured" and not entry["suppressed"] and titles.get(entry["area"])]
    hidden = [entry["area"] for entry in document["areas"] if entry["suppressed"] and titles.get(entry["area"])]
    assert shown and hidden
    codes = [shown[0], hidden[0]]
    driver = (
        "(function () {\n"
        "  var map = document.querySelector('#map-frame svg'), panel = document.getElementById('hover');\n"
        "  var seen = {idle: panel.textContent};\n"
        f"  {json.dumps(codes)}.forEach(function (code) {{\n"
        "    var area = map.querySelector('[data-area=\"' + code + '\"]');\n"
        "    var target = area.querySelector('path, circle, rect') || area;\n"
        "    target.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));\n"
        "    seen[code] = panel.textContent;\n"
        "    map.dispatchEvent(new MouseEvent('mouseleave'));\n"
        "    seen[code + ' left'] = panel.textContent;\n"
        "  });\n"
        "  document.body.setAttribute('data-hover-test', JSON.stringify(seen));\n"
        "})();"
    )
    driver_hash = base64.b64encode(hashlib.sha256(driver.encode("utf-8")).digest()).decode("ascii")
    page = (out / "map.html").read_text(encoding="utf-8")
    policy = html_module.escape(f"script-src 'sha256-{SCRIPT_HASH}'")  # as the page's attribute holds it
    assert page.count(policy) == 1 and page.count("</body>") == 1
    page = page.replace(policy, policy + html_module.escape(f" 'sha256-{driver_hash}'")).replace(
        "</body>", f"<script>{driver}</script></body>")
    copy = tmp_path / "map-driven.html"
    copy.write_text(page, encoding="utf-8")

    dom = dump_dom(chromium, copy, tmp_path / "chromium")
    found = re.search(r'data-hover-test="([^"]*)"', dom)
    assert found, dom[-2000:]
    seen = json.loads(html_module.unescape(found.group(1)))
    for code in codes:
        assert seen[code] == titles[code][0], code
        assert seen[code] != seen["idle"]
        assert seen[f"{code} left"] == seen["idle"]

"""Disclosure control that holds (issue 15): from everything `homeshore map` publishes, no exact count comes back.

Many areas with varied exact counts (and hubs with varied exact counts of eligible homes within reach) go through
every output: areas.csv, areas.geojson, the SVG's and the HTML page's tooltips and tables, the `--json` document
and the terminal tables. Every number printed about an area or a hub is parsed back, and an outsider who knows
the rules works out which exact counts could have produced them. A share is read as either interpretation a
reader might give it (the share of the exact counts, or of the rounded ones). For every area more than one exact
(homes, eligible) pair must remain, and for every hub more than one exact count.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import random
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from homeshore.cli.map import _document
from homeshore.cli.map_view import render_summary
from homeshore.planning.areas import area_rows
from homeshore.planning.map_model import Eligibility, HomeAssessment, Hub, MapData
from homeshore.planning.map_html import render_html
from homeshore.planning.map_svg import render_svg
from homeshore.planning.map_tables import areas_csv, areas_geojson
from homeshore.planning.teams import hub_teams

MAX_COUNT = 60  # exact counts tried by the outsider: above any count generated, plus the rounding
WITHHELD = "withheld"  # a hub's answer left out (JSON null): recorded, unlike other missing figures
VERDICTS = {"possible": True, "not possible": False, "too close to call": WITHHELD}


def to_five(count: int) -> int:
    return (count + 2) // 5 * 5


@dataclass
class Seen:
    """Every figure published about one area (or hub), from every output: name -> set of values."""

    figures: dict[str, set] = field(default_factory=lambda: defaultdict(set))

    def add(self, name: str, value: object) -> None:
        if value not in (None, ""):
            self.figures[name].add(value)


def assessed(agent: str, area: str, status: Eligibility) -> HomeAssessment:
    return HomeAssessment(agent=agent, area=area, district=area, sector=None, status=status, tests=3, peak_tests=1,
                          download_judged_mbps=None, loaded_rtt_judged_ms=None, download_median_mbps=20.0,
                          upload_median_mbps=5.0, mos_median=4.2, on_wifi=None)


def map_data(team_size: int) -> tuple[MapData, dict[str, tuple[int, int, int]], dict[str, int]]:
    """(the map, area -> exact (homes, eligible, not yet known), hub label -> exact eligible homes in reach)."""
    rng = random.Random(15)
    exact: dict[str, tuple[int, int, int]] = {"AB1": (12, 7, 0)}  # issue 15's "58.3 % of 10 homes"
    for number in range(2, 160):
        homes = rng.randint(0, 40)
        eligible = rng.randint(0, homes)
        exact[f"AB{number}"] = (homes, eligible, rng.randint(0, homes - eligible))
    homes, centroids = [], {}
    for index, (area, (count, eligible, unknown)) in enumerate(sorted(exact.items())):
        statuses = ([Eligibility.ELIGIBLE] * eligible + [Eligibility.NOT_YET_KNOWN] * unknown
                    + [Eligibility.NOT_ELIGIBLE] * (count - eligible - unknown))
        homes += [assessed(f"{area}-{n}", area, status) for n, status in enumerate(statuses)]
        centroids[area] = (50.5 + (index // 13) * 0.5, -4.0 + (index % 13) * 0.5)  # 0.5° apart: 33+ km
    hubs, in_reach = [], {}
    for count in range(0, 26):  # hubs 0.2° west of the areas' grid, each with its own eligible homes only
        label, area = f"{55.0 + count * 0.3:g},-6", f"HUB{count}"
        centroids[area] = (55.0 + count * 0.3, -6.0)
        homes += [assessed(f"{area}-{n}", area, Eligibility.ELIGIBLE) for n in range(count)]
        hubs.append(Hub(label=label, lat=55.0 + count * 0.3, lon=-6.0, reach_km=5.0))
        in_reach[label] = count
        exact[area] = (count, count, 0)
    rows = tuple(area_rows(homes, "district"))
    teams = tuple(hub_teams(hubs, homes, centroids, team_size))
    data = MapData(level="district", rows=rows, hubs=teams, boundaries=None, centroids=centroids,
                   title="disclosure", attribution=())
    return data, exact, in_reach


def number(text: str) -> float | int:
    return int(text) if re.fullmatch(r"\d+", text) else float(text)


AREA_TOOLTIP = re.compile(r"(\d+) homes tested, (\d+) eligible \(([\d.]+)%\)(?:\n(\d+) not yet known)?")
HUB_TOOLTIP = re.compile(r"Training hub (\S+), reach .*\n(?:fewer than 5|(\d+)) eligible homes within reach\n"
                         r"team of (\d+) (possible|not possible|too close to call)")


def read_svg(svg: str, areas: dict[str, Seen], hubs: dict[str, Seen]) -> int:
    """The figures of every area and hub tooltip; how many tooltips had figures."""
    parsed = 0
    for title in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}title"):
        text = title.text or ""
        hub = HUB_TOOLTIP.match(text)
        if hub:
            hubs[hub[1]].add("eligible_homes", hub[2] and int(hub[2]))
            hubs[hub[1]].add("team_possible", VERDICTS[hub[4]])
            parsed += 1
            continue
        area, _, rest = text.partition("\n")
        found = AREA_TOOLTIP.match(rest)
        if found:
            seen = areas[area]
            seen.add("homes", int(found[1]))
            seen.add("eligible", int(found[2]))
            seen.add("eligible_pct", number(found[3]))
            seen.add("not_yet_known", found[4] and int(found[4]))
            parsed += 1
    return parsed


def read_html_tables(page: str, areas: dict[str, Seen], hubs: dict[str, Seen]) -> int:
    cell = r'<td class="n"(?: data-label="[^"]*")?>'  # narrow screens show data-label before the value
    return add_table_rows(
        re.findall(r'<tr><td>(?:<span [^>]*></span>)?([A-Z0-9]+)</td>(?:' + cell + r'[^<]*</td>)??'
                   + cell + r'(\d+)</td>' + cell + r'(\d+)</td>' + cell + r'([\d.]+)</td>', page),
        re.findall(r'<tr><td>([^<]+)</td>' + cell + r'[^<]+ km</td>' + cell + r'(fewer than 5|\d+)</td>'
                   r'<td>team of \d+ (possible|not possible|too close to call)</td></tr>', page), areas, hubs)


def read_terminal(text: str, areas: dict[str, Seen], hubs: dict[str, Seen]) -> int:
    return add_table_rows(
        re.findall(r"│ (AB\d+|HUB\d+) +│ +(\d+) │ +(\d+) │ +([\d.]+) % │", text),
        re.findall(r"│ (\S+) +│ [\d.]+ km +│ (fewer than 5|\d+) +│ (possible|not possible|too close to call) "
                   r"\(team of \d+\)", text), areas, hubs)


def add_table_rows(rows: list[tuple[str, ...]], hub_rows: list[tuple[str, ...]], areas: dict[str, Seen],
                   hubs: dict[str, Seen]) -> int:
    """Table rows (area, homes, eligible, share) and (hub, count, verdict) as parsed; how many."""
    for area, homes, eligible, pct in rows:
        areas[area].add("homes", int(homes))
        areas[area].add("eligible", int(eligible))
        areas[area].add("eligible_pct", number(pct))
    for label, count, verdict in hub_rows:
        hubs[label].add("eligible_homes", None if count.startswith("fewer") else int(count))
        hubs[label].add("team_possible", VERDICTS[verdict])
    return len(rows) + len(hub_rows)


def read_records(records: list[dict], areas: dict[str, Seen]) -> None:
    for record in records:
        for name in ("homes", "eligible", "eligible_pct", "not_yet_known"):
            value = record.get(name)
            areas[record["area"]].add(name, number(value) if isinstance(value, str) and value else value)


def read_hub_records(records: list[dict], hubs: dict[str, Seen]) -> None:
    for record in records:
        hubs[record["label"]].add("eligible_homes", record["eligible_homes"])
        possible = record["team_possible"]
        hubs[record["label"]].add("team_possible", WITHHELD if possible is None else possible)


def area_candidates(seen: Seen) -> set[tuple[int, int]]:
    """The exact (homes, eligible) pairs an outsider cannot rule out from what was published."""
    pairs = set()
    for homes in range(MAX_COUNT):
        for eligible in range(homes + 1):
            for unknown in range(homes - eligible + 1):
                if explains(seen.figures, homes, eligible, unknown):
                    pairs.add((homes, eligible))
    return pairs


def explains(figures: dict[str, set], homes: int, eligible: int, unknown: int) -> bool:
    if not figures:  # nothing published: only "fewer than 5 homes" (every output shows the area somehow)
        return homes < 5
    if homes < 5:
        return False
    shares = {round(100 * eligible / homes, 1), round(100 * to_five(eligible) / to_five(homes), 1)}
    return (figures.get("homes", {to_five(homes)}) == {to_five(homes)}
            and figures.get("eligible", {to_five(eligible)}) == {to_five(eligible)}
            and figures.get("not_yet_known", {to_five(unknown)}) <= {to_five(unknown)}
            and figures.get("eligible_pct", set()) <= shares)


def hub_candidates(seen: Seen, team_size: int) -> set[int]:
    counts = set()
    for count in range(MAX_COUNT):
        shown = {to_five(count)} if count >= 5 else set()
        if seen.figures.get("eligible_homes", set()) == shown and \
                seen.figures.get("team_possible", set()) <= {count >= team_size, WITHHELD}:
            counts.add(count)
    return counts


@functools.lru_cache(maxsize=None)
def publish(team_size: int) -> tuple[dict[str, Seen], dict[str, Seen], dict[str, tuple[int, int, int]],
                                     dict[str, int]]:
    """(what every output says about each area, and about each hub; the exact counts behind them)."""
    data, exact, in_reach = map_data(team_size)
    areas: dict[str, Seen] = defaultdict(Seen)
    hubs: dict[str, Seen] = defaultdict(Seen)
    read_records(list(csv.DictReader(io.StringIO(areas_csv(data.rows)))), areas)
    features = [feature["properties"] for feature in areas_geojson(data)["features"]]
    read_records([properties for properties in features if properties.get("kind") != "hub"], areas)
    read_hub_records([properties for properties in features if properties.get("kind") == "hub"], hubs)
    document = json.loads(json.dumps(_document(data, {}, [])))
    read_records(document["areas"], areas)
    read_hub_records(document["hubs"], hubs)
    assert read_svg(render_svg(data), areas, hubs) > 100
    page = render_html(data, table_rows=len(data.rows))
    assert read_svg(page[page.index("<svg"):page.index("</svg>") + len("</svg>")], areas, hubs) > 100
    assert read_html_tables(page, areas, hubs) > 100  # the tables were parsed, not skipped
    terminal = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(terminal):
        patch.setenv("COLUMNS", "300")  # rich's width when not a terminal: no row wrapped
        render_summary(data, {}, [], 15)
    assert read_terminal(terminal.getvalue(), areas, hubs) == 15 + len(data.hubs)
    return areas, hubs, exact, in_reach


def test_no_area_gives_back_its_exact_counts() -> None:
    areas, _, exact, _ = publish(15)
    shown = [area for area in exact if areas[area].figures]
    assert len(shown) > 100 and any(areas[area].figures["eligible_pct"] for area in shown)
    for area, (homes, eligible, _) in exact.items():
        candidates = area_candidates(areas[area])
        assert (homes, eligible) in candidates, (area, exact[area], dict(areas[area].figures))
        assert len(candidates) > 1, (area, exact[area], dict(areas[area].figures))


@pytest.mark.parametrize("team_size", [14, 15, 17])  # the rounding interval's edges fall differently each time
def test_no_hub_gives_back_its_exact_count(team_size: int) -> None:
    _, hubs, _, in_reach = publish(team_size)
    for label, count in in_reach.items():
        candidates = hub_candidates(hubs[label], team_size)
        assert count in candidates, (label, count, dict(hubs[label].figures))
        assert len(candidates) > 1, (label, count, dict(hubs[label].figures))
    assert {verdict for seen in hubs.values() for verdict in seen.figures["team_possible"]} == {True, False, WITHHELD}

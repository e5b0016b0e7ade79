"""map.html: self-contained (nothing to fetch, checked in the text and in headless Chromium's net log), its
tables, privacy, and a screenshot of the real GB districts that shows the choropleth and the legend."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from homeshore.planning.map_html import render_html
from homeshore.planning.map_model import OFCOM_PRIOR, AreaRow, Hub, HubTeam, MapData
from tests.conftest import require_tool
from tests.planning.test_map_svg import SECRET_FIGURES, VIRIDIS, fixture_data, load_districts, measured
from tests.references.chromium import Rendering, decode_png, render

NO_DATA_RGB = (0xDD, 0xDD, 0xDD)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


class Page(HTMLParser):
    """Tags with their attributes, script bodies, and the text of each table's body rows."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._in_script = self._in_body = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.tables[-1].append([])
        elif tag == "td" and self._in_body:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        elif tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        elif self._cell is not None:
            self._cell.append(data)


def test_nothing_in_the_page_points_outside_it() -> None:
    text = render_html(fixture_data((HubTeam(Hub("NG18 1AB", 53.0, -4.5, 40.0), 20, 15, True, ()),)))
    assert re.findall(r"https?://[^\"' ]*", text) == ["http://www.w3.org/2000/svg"]
    page = Page(text)
    assert not [tag for tag, attrs in page.tags if tag in ("link", "img", "iframe", "object", "embed")
                or "src" in attrs or "href" in attrs]
    assert "@import" not in text and re.findall(r"url\((?!#)", text) == []
    # the one script runs by its hash only
    policy = next(attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert len(page.scripts) == 1


def test_best_areas_table_is_sorted_limited_and_leaves_out_hidden_and_estimated_areas() -> None:
    rows = tuple(measured(f"AB{i}", pct, homes=homes)
                 for i, (pct, homes) in enumerate([(12.5, 10), (90.0, 20), (90.0, 40), (55.5, 15), (70.0, 5)]))
    rows += (AreaRow("SS1", "district", suppressed=True, **SECRET_FIGURES),
             AreaRow("OF1", "district", None, None, 99.0, None, None, None, None, None, source=OFCOM_PRIOR))
    data = MapData("district", rows, (), None, {}, "", ())
    table = Page(render_html(data, table_rows=3)).tables[-1]
    # by share, then by more homes: AB2 (90 %, 40 homes), AB1 (90 %, 20), AB4 (70 %)
    assert [row[0] for row in table] == ["AB2", "AB1", "AB4"]
    assert table[0][1:4] == ["40", "36", "90"] and table[0][4] == "25.5 / 9.25"
    assert [row[0] for row in Page(render_html(data, table_rows=20)).tables[-1]] == ["AB2", "AB1", "AB4", "AB3",
                                                                                    "AB0"]


def test_hub_table_hides_small_counts() -> None:
    hubs = (HubTeam(Hub("NG18 1AB", 53.0, -4.5, 40.0), 17, 15, True, ("AA1",)),
            HubTeam(Hub("Leeds <hub>", 53.8, -1.5, 25.5), None, 15, False, ()))
    text = render_html(fixture_data(hubs))
    table = Page(text).tables[0]
    assert table == [["NG18 1AB", "40 km", "17", "team of 15 possible"],
                     ["Leeds <hub>", "25.5 km", "fewer than 5", "team of 15 not possible"]]
    assert "Leeds &lt;hub&gt;" in text


def test_suppressed_figures_appear_nowhere_in_the_page() -> None:
    text = render_html(fixture_data())
    assert "SS1" in text
    for figure in SECRET_FIGURES.values():
        assert str(figure) not in text, figure
    assert "<title>Map &lt;&amp;&gt; test</title>" in text


# --- headless Chromium, on the real districts --------------------------------------------------------------


def gb_map() -> MapData:
    """The 40 districts with the largest bounding boxes (spread over GB, large enough to see): 30 measured,
    6 per class, then 5 suppressed and 5 Ofcom estimates; one hub."""
    boundaries = load_districts()

    def extent(shape) -> float:
        points = [p for polygon in shape.polygons for p in polygon[0]]
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return (max(lons) - min(lons)) * (max(lats) - min(lats)) if points else 0.0

    largest = [shape.code for shape in sorted(boundaries.shapes, key=extent, reverse=True)]
    codes = list(dict.fromkeys(largest))[:40]
    rows = [measured(code, 10.0 + 20.0 * (i % 5)) for i, code in enumerate(codes[:30])]
    rows += [AreaRow(code, "district", suppressed=True, **SECRET_FIGURES) for code in codes[30:35]]
    rows += [AreaRow(code, "district", None, None, 65.0, None, None, None, None, None, source=OFCOM_PRIOR)
             for code in codes[35:40]]
    hub = HubTeam(Hub("Mansfield", 53.14, -1.20, 30.0), 20, 15, True, ())
    return MapData("district", tuple(rows), (hub,), boundaries, {}, "Where can we recruit a team?",
                   ("Boundaries © Wikipedia contributors, CC BY-SA 3.0",))


@pytest.fixture(scope="module")
def rendering(tmp_path_factory: pytest.TempPathFactory) -> Rendering:
    chromium = require_tool("chromium")
    directory = tmp_path_factory.mktemp("map_html")
    page = directory / "map.html"
    page.write_text(render_html(gb_map()), encoding="utf-8")
    return render(chromium, page, directory / "run")


def test_chromium_makes_no_request_for_the_map(rendering: Rendering) -> None:
    assert rendering.page_requests == ()


def test_screenshot_shows_the_choropleth_and_the_legend(rendering: Rendering) -> None:
    image = decode_png(rendering.screenshot.read_bytes())
    everywhere = image.colours(0, 0, image.width, image.height)
    # the legend: every class swatch and the no-data swatch
    for colour in (*VIRIDIS, "#dddddd"):
        assert everywhere[rgb(colour)] >= 20, colour
    # the map, left of the legend (the legend column starts near x = 500 at this window size)
    left = image.colours(0, 0, 480, image.height)
    shown = [colour for colour in VIRIDIS if left[rgb(colour)] >= 200]
    assert len(shown) >= 3, {colour: left[rgb(colour)] for colour in VIRIDIS}
    assert left[NO_DATA_RGB] >= 20_000  # the unmeasured districts of GB, in grey

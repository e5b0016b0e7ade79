"""map.html: self-contained (nothing to fetch, checked in the text and in headless Chromium's net log), its
tables, privacy, and a screenshot of the real GB districts that shows the choropleth and the legend."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from homeshore.planning.map_html import SCRIPT_HASH, render_html
from homeshore.planning.map_model import OFCOM_PRIOR, AreaRow, Hub, HubTeam, MapData
from tests.conftest import require_tool
from tests.planning.test_map_svg import SECRET_FIGURES, VIRIDIS, fixture_data, load_districts, measured
from tests.references.chromium import Image, Rendering, decode_png, dump_dom, render

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


# --- ten measured districts in Great Britain's boundaries: the map zoomed to them, on a desktop and a phone ----

TEN = ("NG1", "NG2", "NG3", "NG4", "NG5", "NG6", "NG7", "NG8", "NG9", "NG11")
HUB_LAT_LON = (52.955, -1.15)  # Nottingham, in NG1


def ten_districts() -> MapData:
    """All 2,736 GB districts as boundaries, ten Nottingham districts measured (two per class), a hub."""
    rows = tuple(measured(code, 10.0 + 20.0 * (i % 5)) for i, code in enumerate(TEN))
    hub = HubTeam(Hub("Nottingham", *HUB_LAT_LON, 8.0), 20, 15, True, ())
    return MapData("district", rows, (hub,), load_districts(), {}, "Ten districts",
                   ("Boundaries © Wikipedia contributors, CC BY-SA 3.0",))


LAYOUT_DRIVER = """(function () {
  function box(selector) {
    var element = document.querySelector(selector), r = element.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  }
  var layout = {map: box('#map-frame svg'), legend: box('#legend-svg'), aside: box('aside'),
                tables: Array.prototype.map.call(document.querySelectorAll('aside table'), function (t) {
                  var r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }),
                scroll_width: document.documentElement.scrollWidth, viewbox: document.querySelector(
                  '#map-frame svg').getAttribute('viewBox')};
  document.body.setAttribute('data-layout', JSON.stringify(layout));
})();"""


def layout(chromium: str, text: str, workdir, width: int, height: int) -> dict:
    """Where Chromium lays out the map, the legend, the side panel and its tables (CSS px, as the screenshot's
    pixels at the same window size), from a copy of the page whose policy admits a measuring script."""
    digest = base64.b64encode(hashlib.sha256(LAYOUT_DRIVER.encode("utf-8")).digest()).decode("ascii")
    policy = f"script-src &#x27;sha256-{SCRIPT_HASH}&#x27;"
    assert text.count(policy) == 1, "the page's policy changed: update the driver's insertion"
    copy = workdir / "measured.html"
    copy.write_text(text.replace(policy, f"{policy} &#x27;sha256-{digest}&#x27;").replace(
        "</body>", f"<script>{LAYOUT_DRIVER}</script></body>"), encoding="utf-8")
    dom = dump_dom(chromium, copy, workdir / "dom", width=width, height=height)
    found = re.search(r'data-layout="([^"]*)"', dom)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


def class_pixels(image: Image, box: list[float]) -> tuple[int, int]:
    """(pixels of a class colour, all pixels) inside the box, rounded inwards."""
    left, top, right, bottom = (int(box[0]) + 1, int(box[1]) + 1, int(box[2]), min(int(box[3]), image.height))
    colours = image.colours(left, top, right, bottom)
    return sum(colours[rgb(colour)] for colour in VIRIDIS), (right - left) * (bottom - top)


@pytest.fixture(scope="module")
def ten_pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    chromium = require_tool("chromium")
    return chromium, tmp_path_factory.mktemp("ten")


def map_block(image: Image) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), inclusive, of the map's drawing in a screenshot: the first run of rows, then
    of columns, with 100 or more pixels of the map's grey or a class colour (the legend's swatches are 22 x 16,
    its inset another grey, a heading's rule shorter or further down)."""
    wanted = {NO_DATA_RGB, *(rgb(colour) for colour in VIRIDIS)}

    def first_run(counts: list[int]) -> tuple[int, int]:
        start = next(i for i, count in enumerate(counts) if count >= 100)
        end = start
        while end + 1 < len(counts) and counts[end + 1] >= 100:
            end += 1
        return start, end

    top, bottom = first_run([sum(n for c, n in image.colours(0, y, image.width, y + 1).items() if c in wanted)
                             for y in range(image.height)])
    columns = [0] * image.width
    for y in range(top, bottom + 1):
        for x in range(image.width):
            if image.pixel(x, y)[:3] in wanted:
                columns[x] += 1
    left, right = first_run(columns)
    return left, top, right, bottom


def test_ten_measured_districts_fill_the_map_with_the_country_in_an_inset(ten_pages) -> None:
    chromium, directory = ten_pages
    data = ten_districts()
    text = render_html(data)
    page = directory / "map.html"
    page.write_text(text, encoding="utf-8")
    rendering = render(chromium, page, directory / "wide", width=1200, height=900)
    assert rendering.page_requests == ()
    image = decode_png(rendering.screenshot.read_bytes())
    left, top, right, bottom = map_block(image)
    assert right - left > 400 and bottom - top > 600, (left, top, right, bottom)  # the map, not a swatch
    coloured, total = class_pixels(image, [left - 1, top - 1, right + 1, bottom + 1])
    # At the country's extent these ten districts are a few pixels of the map; zoomed, a large share of it.
    assert coloured / total > 0.3, (coloured, total)
    # the inset right of the map: the country in grey and the red box of the map's extent
    beside = image.colours(right + 1, 0, image.width, image.height)
    red = sum(count for (r, g, b), count in beside.items() if r > 150 and g < 110 and b < 110)
    assert beside[rgb("#c8c8c8")] > 2_000 and red >= 16, beside.most_common(8)  # a box of 4 sides, 2 px
    # The hub's marker leaves its own district (NG1, Nottingham's centre: the first class) showing at its centre
    # (a filled marker there fails this). Its pixel: the map's clip box (SVG units) is the block found above, so
    # SVG units scale to pixels by their widths.
    svg = ET.fromstring(text[text.index("<svg"):text.index("</svg>") + len("</svg>")])
    namespace = "{http://www.w3.org/2000/svg}"
    clip = svg.find(f".//{namespace}clipPath/{namespace}rect")
    marker = svg.find(f".//{namespace}g[@class='hub-marker']/{namespace}circle")
    scale = (right + 1 - left) / float(clip.get("width"))
    x = left + (float(marker.get("cx")) - float(clip.get("x"))) * scale
    y = top + (float(marker.get("cy")) - float(clip.get("y"))) * scale
    centre = image.colours(round(x) - 1, round(y) - 1, round(x) + 2, round(y) + 2)
    assert centre[rgb(VIRIDIS[0])] >= 7, (x, y, centre)  # of the 9 pixels around the hub's centre


def test_on_a_phone_the_legend_and_tables_follow_the_map(ten_pages) -> None:
    """Laid out at 500 px (the narrowest window headless Chromium lays out for --dump-dom: it widens a 390-px
    one to 485 px), and seen in a 390-px screenshot (a phone's width), where pixels show the order."""
    chromium, directory = ten_pages
    text = render_html(ten_districts())
    page = directory / "phone.html"
    page.write_text(text, encoding="utf-8")
    places = layout(chromium, text, directory, 500, 1600)
    map_box, legend, aside = places["map"], places["legend"], places["aside"]
    assert places["scroll_width"] <= 500  # nothing wider than the screen
    assert map_box[2] - map_box[0] > 450  # the map takes the width of the screen
    assert legend[1] >= map_box[3] and aside[1] >= map_box[3]  # below the map, not beside or over it
    assert all(table[1] >= legend[3] and table[2] <= 500 for table in places["tables"])

    image = decode_png(render(chromium, page, directory / "phone", width=390, height=1600).screenshot.read_bytes())
    assert image.width == 390
    # the map's rows: wide runs of its grey (districts not measured) and class colours
    map_colours = {NO_DATA_RGB, *(rgb(colour) for colour in VIRIDIS)}
    map_rows = [y for y in range(image.height)
                if sum(count for colour, count in image.colours(0, y, image.width, y + 1).items()
                       if colour in map_colours) >= 200]
    top = bottom = map_rows[0]
    while bottom + 1 in map_rows:  # the first block from the top is the map (headings below have grey rules)
        bottom += 1
    assert bottom - top > 400
    # from the left edge to the scroll bar (15 px at the right), less the page's and the map's margins
    row = (top + bottom) // 2
    left, right = image.colours(0, row, 25, row + 1), image.colours(345, row, 375, row + 1)
    assert sum(left[c] for c in map_colours) > 0 and sum(right[c] for c in map_colours) > 0
    columns = [x for x in range(image.width) if image.pixel(x, row)[:3] in map_colours]
    coloured, total = class_pixels(image, [columns[0] - 1, top - 1, columns[-1] + 1, bottom + 1])
    assert coloured / total > 0.25, (coloured, total)
    # the legend: every class swatch below the map
    under = image.colours(0, bottom + 1, image.width, image.height)
    assert all(under[rgb(colour)] >= 200 for colour in VIRIDIS), under.most_common(10)

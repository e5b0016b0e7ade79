"""map.svg and its projection, read back with xml.etree: colours, hatching, the Ofcom style, symbols, hub rings,
escaping, and the real 2,736 GB districts at speed. Expected numbers are worked by hand or by haversine here."""

from __future__ import annotations

import json
import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from homeshore.planning.map_model import OFCOM_PRIOR, AreaRow, AreaShape, Boundaries, Hub, HubTeam, MapData
from homeshore.planning.map_projection import ProjectionError, fit, parse_extent
from homeshore.planning.map_svg import map_bounds, render_svg
from tests.conftest import SHARED, skip_or_fail

SVG = "{http://www.w3.org/2000/svg}"
DISTRICTS = SHARED / "geo" / "gb_postcode_districts.geojson"
# viridis at 0, .25, .5, .75, 1 (matplotlib's table), written out here rather than read from the module
VIRIDIS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
# Figures a suppressed row must never show. The row is published wrongly on purpose (suppressed, yet carrying
# figures): the renderer must not read them. Each is a string no coordinate (1 decimal) or label can contain.
SECRET_FIGURES = {"homes": 4321, "eligible": 1234, "eligible_pct": 43.21, "download_median_mbps": 987.65,
                  "download_p10_mbps": 876.54, "upload_median_mbps": 765.43, "mos_median": 3.97, "wifi_pct": 71.17,
                  "not_yet_known": 2468}


def square(lat: float, lon: float, size_deg: float = 1.0) -> tuple:
    """One polygon: a square with its south-west corner at (lat, lon), as a closed (lon, lat) ring."""
    ring = ((lon, lat), (lon + size_deg, lat), (lon + size_deg, lat + size_deg), (lon, lat + size_deg), (lon, lat))
    return (ring,)


def measured(code: str, pct: float, homes: int = 20) -> AreaRow:
    return AreaRow(code, "district", homes, round(homes * pct / 100), pct, 25.5, 9.25, 4.5, 4.15, 40.0,
                   not_yet_known=5)


def fixture_data(hubs: tuple[HubTeam, ...] = ()) -> MapData:
    # eligible_pct -> class worked by hand: [0,20) 0, [20,40) 1, [40,60) 2, [60,80) 3, [80,100] 4
    rows = (measured("AA1", 10.0), measured("AA2", 20.0), measured("AA3", 59.9), measured("AA4", 60.0),
            measured("AA5", 100.0), measured("X<&1", 85.0),
            AreaRow("SS1", "district", suppressed=True, **{k: v for k, v in SECRET_FIGURES.items()}),
            AreaRow("OF1", "district", None, None, 47.3, None, None, None, None, None, source=OFCOM_PRIOR))
    codes = ("AA1", "AA2", "AA3", "AA4", "AA5", "X<&1", "SS1", "OF1", "NR1")
    shapes = [AreaShape(code, (square(50.0 + 2 * (i // 3), -6.0 + 2 * (i % 3)),)) for i, code in enumerate(codes)]
    shapes.append(AreaShape("AA1", (square(57.0, -6.0, 0.5),)))  # a second shape with AA1's code
    return MapData("district", rows, hubs, Boundaries(tuple(shapes), "district"), {}, "Map <&> test",
                   ("Boundaries © A & B <contributors>",))


def elements(root: ET.Element) -> dict[str, ET.Element]:
    return {element.get("data-area"): element for element in root.iter() if element.get("data-area") is not None}


def title(element: ET.Element) -> str:
    return element.find(f"{SVG}title").text


def all_text(root: ET.Element) -> str:
    return " ".join(root.itertext())


def path_points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?\d+\.\d),(-?\d+\.\d)", d)]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dp, dl = map(math.radians, (lat1, lat2, lat2 - lat1, lon2 - lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


# --- projection --------------------------------------------------------------------------------------------


def test_projection_maps_the_corners_of_the_bounds() -> None:
    # 50..60 N, 5 W..1 E in 400 x 600 with 10 px margins: 380 x 580 inside; width 6° x cos 55° = 3.4415 "degrees",
    # height 10°: 580/10 = 58 px per degree beats 380/3.4415 = 110.4, so the map is 199.6 px wide, centred.
    projection = fit((50.0, -5.0, 60.0, 1.0), 400, 600, 10)
    width = 6 * math.cos(math.radians(55)) * 58
    assert projection.px_per_degree == pytest.approx(58.0)
    assert projection.point(60.0, -5.0) == pytest.approx(((400 - width) / 2, 10.0))
    assert projection.point(50.0, 1.0) == pytest.approx(((400 + width) / 2, 590.0))
    assert projection.point(55.0, -2.0) == pytest.approx((200.0, 300.0))


def test_projection_distances_are_true_at_the_middle_latitude() -> None:
    projection = fit((50.0, -5.0, 60.0, 1.0), 400, 600, 10)
    for (lat1, lon1), (lat2, lon2) in (((54.0, -2.0), (56.0, -2.0)), ((55.0, -3.0), (55.0, -1.0))):
        x1, y1 = projection.point(lat1, lon1)
        x2, y2 = projection.point(lat2, lon2)
        # along the parallel, the chord of the haversine differs from the projected length by < 0.1 %
        expected_px = projection.km_to_px(haversine_km(lat1, lon1, lat2, lon2))
        assert math.hypot(x2 - x1, y2 - y1) == pytest.approx(expected_px, rel=1e-3)


def test_a_single_point_is_centred() -> None:
    projection = fit((53.0, -1.2, 53.0, -1.2), 300, 200, 10)
    assert projection.point(53.0, -1.2) == pytest.approx((150.0, 100.0))
    assert math.isfinite(projection.km_to_px(1.0))


@pytest.mark.parametrize("bounds, box", [((55.0, 0.0, 50.0, 1.0), (100, 100)),  # min above max
                                         ((50.0, 0.0, 91.0, 1.0), (100, 100)),  # beyond the pole
                                         ((50.0, math.nan, 51.0, 1.0), (100, 100)),
                                         ((50.0, 0.0, 51.0, 1.0), (20, 100))])  # no room inside the margins
def test_bad_bounds_or_box_raise(bounds: tuple, box: tuple) -> None:
    with pytest.raises(ProjectionError):
        fit(bounds, *box, 10)


# --- areas -------------------------------------------------------------------------------------------------


def test_every_measured_row_has_a_shape_in_its_class_colour() -> None:
    shapes = elements(ET.fromstring(render_svg(fixture_data())))
    expected = {"AA1": 0, "AA2": 1, "AA3": 2, "AA4": 3, "AA5": 4, "X<&1": 4}
    for code, index in expected.items():
        assert shapes[code].tag == f"{SVG}path"
        assert shapes[code].get("fill") == VIRIDIS[index], code
        assert shapes[code].get("stroke-dasharray") is None
    # AA1's two shapes are one path of two rings: 4 corners each (the closing point becomes "Z")
    d = shapes["AA1"].get("d")
    assert d.count("M") == 2 and d.count("Z") == 2 and len(path_points(d)) == 8
    # the group carries evenodd for every path (self-intersecting rings are kept)
    assert ET.fromstring(render_svg(fixture_data())).find(f".//{SVG}g[@id='areas']").get("fill-rule") == "evenodd"


def test_hover_shows_the_published_figures() -> None:
    text = title(elements(ET.fromstring(render_svg(fixture_data())))["AA4"])
    assert text.startswith("AA4\n20 homes tested, 12 eligible (60%)")
    for figure in ("25.5 Mbit/s", "9.25 Mbit/s", "4.5 Mbit/s", "MOS 4.15", "40%", "5 not yet known"):
        assert figure in text


def test_suppressed_areas_are_hatched_and_show_no_figure_anywhere() -> None:
    document = render_svg(fixture_data())
    shape = elements(ET.fromstring(document))["SS1"]
    assert shape.get("fill") == "url(#hatch)"
    assert ET.fromstring(document).find(f".//{SVG}pattern[@id='hatch']") is not None
    # no digit in its tooltip or attributes but its code's and the threshold's
    assert re.findall(r"\d", title(shape)) == ["1", "5"]
    assert [value for key, value in shape.attrib.items()
            if key != "d" and not value.startswith("#") and re.search(r"\d", value)] == ["SS1"]
    for figure in SECRET_FIGURES.values():
        assert str(figure) not in document, figure


def test_ofcom_prior_areas_are_dotted_dashed_and_labelled() -> None:
    root = ET.fromstring(render_svg(fixture_data()))
    shape = elements(root)["OF1"]
    assert shape.get("fill") == "url(#ofcom-2)"  # 47.3 % is in 40-60
    assert shape.get("stroke-dasharray")
    dots = root.find(f".//{SVG}pattern[@id='ofcom-2']/{SVG}circle")
    assert dots.get("fill") == VIRIDIS[2]
    assert "estimate (Ofcom), not measured" in title(shape) and "47.3%" in title(shape)
    legend = all_text(root.find(f".//{SVG}g[@id='legend']"))
    assert "estimate (Ofcom), not measured" in legend and "not enough homes" in legend
    for label in ("0–20%", "20–40%", "40–60%", "60–80%", "80–100%", "no homes tested"):
        assert label in legend


def test_areas_without_a_row_are_grey_without_figures() -> None:
    shape = elements(ET.fromstring(render_svg(fixture_data())))["NR1"]
    assert shape.get("fill") == "#dddddd"
    assert title(shape) == "NR1: no homes tested"


def test_a_code_and_texts_with_markup_are_escaped() -> None:
    document = render_svg(fixture_data())
    root = ET.fromstring(document)  # would raise on a raw "<" or "&"
    assert "X<&1" in elements(root) and title(elements(root)["X<&1"]).startswith("X<&1\n")
    assert root.find(f"{SVG}title").text == "Map <&> test"
    assert "Boundaries © A & B <contributors>" in all_text(root)
    assert "X&lt;&amp;1" in document


def test_coordinates_have_one_decimal_and_crowded_points_are_dropped() -> None:
    # 1,000 points along a 1° edge: at ~100 px per degree, at most one every half pixel survives
    edge = tuple((-6.0 + i / 1000, 50.0) for i in range(1000))
    ring = (*edge, (-5.0, 50.0), (-5.0, 51.0), (-6.0, 51.0), (-6.0, 50.0))
    data = MapData("district", (measured("AA1", 50.0),), (), Boundaries((AreaShape("AA1", ((ring,),)),), "district"),
                   {}, "", ())
    d = elements(ET.fromstring(render_svg(data)))["AA1"].get("d")
    assert re.fullmatch(r"M(-?\d+\.\d,-?\d+\.\d ?)+Z", d)
    points = path_points(d)
    edge_px = max(x for x, _ in points) - min(x for x, _ in points)
    assert edge_px < len(points) - 3 <= edge_px / 0.5 + 1  # every 0.1 px went in; one per 0.5 px came out
    assert all(max(abs(x2 - x1), abs(y2 - y1)) >= 0.5 for (x1, y1), (x2, y2) in zip(points, points[1:]))


def test_an_area_too_small_to_draw_becomes_a_marker() -> None:
    tiny = AreaShape("EC1A", (square(51.52, -0.10, 0.0001),))
    large = AreaShape("AA1", (square(50.0, -6.0, 5.0),))
    data = MapData("district", (measured("EC1A", 90.0),), (), Boundaries((large, tiny), "district"), {}, "", (),
                   extent="all")  # at the scale of the country (by default the map would zoom to EC1A)
    marker = elements(ET.fromstring(render_svg(data)))["EC1A"]
    assert marker.tag == f"{SVG}circle" and marker.get("fill") == VIRIDIS[4]


# --- symbols and hubs --------------------------------------------------------------------------------------


def test_without_boundaries_circle_areas_are_proportional_to_homes() -> None:
    rows = (measured("AA1", 50.0, homes=10), measured("AA2", 90.0, homes=40), measured("AA3", 10.0, homes=90),
            AreaRow("SS1", "district", suppressed=True, **SECRET_FIGURES),
            AreaRow("SS2", "district", None, None, None, None, None, None, None, None, suppressed=True))
    centroids = {"AA1": (51.0, -1.0), "AA2": (52.0, -2.0), "AA3": (53.0, -3.0), "SS1": (54.0, -2.0),
                 "SS2": (54.5, -1.0)}
    document = render_svg(MapData("district", rows, (), None, centroids, "", ()))
    circles = elements(ET.fromstring(document))
    assert set(circles) == set(centroids)  # one symbol per area, none per home
    radius = {code: float(circle.get("r")) for code, circle in circles.items()}
    assert radius["AA2"] / radius["AA1"] == pytest.approx(2.0, rel=1e-3)  # sqrt(40 / 10)
    assert radius["AA3"] / radius["AA1"] == pytest.approx(3.0, rel=1e-3)  # sqrt(90 / 10)
    assert circles["AA3"].get("fill") == VIRIDIS[0] and circles["AA2"].get("fill") == VIRIDIS[4]
    assert radius["SS1"] == radius["SS2"] and circles["SS1"].get("fill") == "url(#hatch)"
    assert all(str(figure) not in document for figure in SECRET_FIGURES.values())


def test_hub_ring_radius_is_its_reach_at_the_map_scale() -> None:
    hubs = (HubTeam(Hub("NG18 1AB", 53.0, -4.5, 40.0), 20, 15, True, ("AA1",)),
            HubTeam(Hub("53.5,-2.5", 53.5, -2.5, 25.0), None, 15, False, ()))
    root = ET.fromstring(render_svg(fixture_data(hubs)))
    # px per degree of latitude, read off a drawn square 1° tall
    ys = [y for _, y in path_points(elements(root)["AA2"].get("d"))]
    px_per_degree = max(ys) - min(ys)
    groups = root.findall(f".//{SVG}g[@class='hub']")
    assert len(groups) == 2
    for group, reach_km in zip(groups, (40.0, 25.0)):
        ring = group.find(f"{SVG}circle[@class='reach']")
        assert float(ring.get("r")) == pytest.approx(reach_km / (6371.0088 * math.pi / 180) * px_per_degree, abs=0.1)
    assert "20 eligible homes within reach" in title(groups[0]) and "team of 15 possible" in title(groups[0])
    assert "fewer than 5 eligible homes" in title(groups[1]) and "team of 15 not possible" in title(groups[1])
    assert "NG18 1AB" in all_text(groups[0])


# --- the real districts ------------------------------------------------------------------------------------


def load_districts(path: Path = DISTRICTS) -> Boundaries:
    """A minimal reading of the shared GeoJSON: every polygon per `district`, GeometryCollections' members too."""
    if not path.is_file():
        skip_or_fail(f"shared boundaries not found at {path}")
    shapes = []
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        geometry = feature["geometry"]
        members = geometry["geometries"] if geometry["type"] == "GeometryCollection" else [geometry]
        polygons = []
        for member in members:
            raw = [member["coordinates"]] if member["type"] == "Polygon" else \
                member["coordinates"] if member["type"] == "MultiPolygon" else []
            polygons += [tuple(tuple((p[0], p[1]) for p in ring) for ring in polygon) for polygon in raw]
        shapes.append(AreaShape(feature["properties"]["district"], tuple(polygons)))
    return Boundaries(tuple(shapes), "district")


def test_all_gb_districts_render_with_every_row_drawn() -> None:
    """Every one of 2,736 districts drawn in its class colour (the time it takes: bench/map_scale.py)."""
    boundaries = load_districts()
    codes = sorted({shape.code for shape in boundaries.shapes})
    assert len(codes) == 2736
    rows = tuple(measured(code, float(i % 100)) for i, code in enumerate(codes))
    document = render_svg(MapData("district", rows, (), boundaries, {}, "GB", ()))
    drawn = elements(ET.fromstring(document))
    assert set(drawn) == set(codes)
    assert all(drawn[code].get("fill") == VIRIDIS[min(4, (i % 100) // 20)] for i, code in enumerate(codes))


# --- extent, inset, hub markers, partly measured areas ----------------------------------------------------

KM_PER_DEGREE = 6371.0088 * math.pi / 180


def one_measured(hubs: tuple[HubTeam, ...] = (), extent="data") -> MapData:
    """fixture_data's nine squares (50-57.5 N, 6-1 W) with only AA5 (52-53 N, 4-3 W) measured, and OF1 an
    Ofcom estimate, which is not data."""
    data = fixture_data(hubs)
    rows = tuple(row for row in data.rows if row.area in ("AA5", "OF1"))
    return dataclasses.replace(data, rows=rows, extent=extent)


def clip_box(root: ET.Element) -> tuple[float, float, float, float]:
    rect = root.find(f".//{SVG}clipPath[@id='map-clip']/{SVG}rect")
    return tuple(float(rect.get(name)) for name in ("x", "y", "width", "height"))


def bbox(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return min(xs), min(ys), max(xs), max(ys)


def test_the_default_extent_is_the_measured_areas_and_hubs_reach_with_a_margin() -> None:
    # AA5 alone: 1° x 1°, grown by 8 % of its span on each side (more than 2 km)
    assert map_bounds(one_measured()) == pytest.approx((52 - 0.08, -4 - 0.08, 53 + 0.08, -3 + 0.08))
    # a hub at 52.5 N 3.5 W reaching 100 km: its ring's box, 100 km = 0.89932° of latitude and that over
    # cos(52.5°) of longitude, then 8 % of the spans
    reach_lat = 100 / KM_PER_DEGREE
    reach_lon = reach_lat / math.cos(math.radians(52.5))
    hub = HubTeam(Hub("hub", 52.5, -3.5, 100.0), 20, 15, True, ())
    pad_lat, pad_lon = 0.08 * 2 * reach_lat, 0.08 * 2 * reach_lon
    assert map_bounds(one_measured((hub,))) == pytest.approx(
        (52.5 - reach_lat - pad_lat, -3.5 - reach_lon - pad_lon, 52.5 + reach_lat + pad_lat, -3.5 + reach_lon + pad_lon))
    assert map_bounds(one_measured(extent="all")) == (50.0, -6.0, 57.5, -1.0)  # every boundary
    assert map_bounds(one_measured(extent=(51.0, -5.0, 52.0, -4.0))) == (51.0, -5.0, 52.0, -4.0)
    # nothing measured placed: the whole country
    nowhere = dataclasses.replace(one_measured(), rows=(measured("ZZ9", 50.0),))
    assert map_bounds(nowhere) == (50.0, -6.0, 57.5, -1.0)


def test_the_measured_area_fills_the_map_and_areas_outside_it_are_left_out() -> None:
    zoomed, country = (ET.fromstring(render_svg(one_measured(extent=extent))) for extent in ("data", "all"))
    # the map box's arithmetic: AA5 spans 1 / 1.16 of the extent along the axis that limits the scale
    left, top, width, height = clip_box(zoomed)
    x0, y0, x1, y1 = bbox(path_points(elements(zoomed)["AA5"].get("d")))
    cos_mid = math.cos(math.radians(52.5))
    px_per_degree = min((width - 20) / (1.16 * cos_mid), (height - 20) / 1.16)
    assert y1 - y0 == pytest.approx(px_per_degree, abs=0.2)
    assert (x1 - x0) * (y1 - y0) > 0.5 * width * height
    # every other square lies outside the box and is not in the document (OF1 lies north of it)
    assert set(elements(zoomed)) == {"AA5"}
    assert set(elements(country)) == {"AA1", "AA2", "AA3", "AA4", "AA5", "X<&1", "SS1", "OF1", "NR1"}
    left, top, width, height = clip_box(country)
    x0, y0, x1, y1 = bbox(path_points(elements(country)["AA5"].get("d")))
    assert (x1 - x0) * (y1 - y0) < 0.05 * width * height


def test_the_inset_shows_the_whole_country_and_where_the_map_is() -> None:
    root = ET.fromstring(render_svg(one_measured()))
    inset = root.find(f".//{SVG}g[@id='inset']")
    country = bbox(path_points(inset.find(f"{SVG}path").get("d")))  # the squares' outer edges: 50-57.5 N, 6-1 W
    box = inset.find(f"{SVG}rect[@class='extent']")
    x, y, w, h = (float(box.get(name)) for name in ("x", "y", "width", "height"))
    country_w, country_h = country[2] - country[0], country[3] - country[1]
    # the extent 51.92-53.08 N, 4.08-2.92 W as shares of the country's 7.5° x 5°
    assert (x - country[0]) / country_w == pytest.approx((-4.08 + 6) / 5, abs=0.01)
    assert (y - country[1]) / country_h == pytest.approx((57.5 - 53.08) / 7.5, abs=0.01)
    assert w / country_w == pytest.approx(1.16 / 5, abs=0.01) and h / country_h == pytest.approx(1.16 / 7.5, abs=0.01)
    assert box.get("fill") == "none"
    # the whole country shown, or data all over it (the box grown by its margin): no inset
    for data in (one_measured(extent="all"), fixture_data()):
        assert ET.fromstring(render_svg(data)).find(f".//{SVG}g[@id='inset']") is None


def test_a_hub_marker_leaves_the_area_under_it_visible() -> None:
    hub = HubTeam(Hub("hub", 52.5, -3.5, 10.0), 20, 15, True, ())
    root = ET.fromstring(render_svg(one_measured((hub,))))
    marker = root.find(f".//{SVG}g[@class='hub']/{SVG}g[@class='hub-marker']")
    drawn = list(marker)
    assert drawn and all(element.get("fill") == "none" for element in drawn)
    assert not root.findall(f".//{SVG}g[@class='hub']/{SVG}rect")  # the old filled diamond


@pytest.mark.parametrize("coverage, partial", [((1, 12), True), ((5, 12), True), ((6, 12), False),
                                               ((3, 3), False)])
def test_an_area_measured_in_few_of_its_districts_is_lighter_and_says_so(coverage: tuple[int, int],
                                                                         partial: bool) -> None:
    data = dataclasses.replace(fixture_data(), level="area", coverage={"AA1": coverage})
    root = ET.fromstring(render_svg(data))
    area, other = elements(root)["AA1"], elements(root)["AA2"]
    assert f"{coverage[0]} of {coverage[1]} district" in title(area)
    assert ("partial" in area.get("class").split()) is partial
    assert (area.get("fill-opacity") is not None) is partial and area.get("fill") == VIRIDIS[0]
    assert other.get("fill-opacity") is None and "districts measured" not in title(other)
    assert ("partly measured area" in all_text(root.find(f".//{SVG}g[@id='legend']"))) is partial


@pytest.mark.parametrize("text, expected", [("data", "data"), (" ALL ", "all"),
                                            ("-2,52.5,-0.5,53.5", (52.5, -2.0, 53.5, -0.5))])
def test_extent_option_values(text: str, expected) -> None:
    assert parse_extent(text) == expected


@pytest.mark.parametrize("text, fragment", [("gb", "not data, all or W,S,E,N"), ("1,2,3", "W,S,E,N"),
                                            ("-0.5,52,-2,53", "west -0.5 must be below east -2"),
                                            ("0,60,1,50", "south 60 must be below north 50"),
                                            ("nan,50,1,51", "finite"), ("0,89,1,91", "±90")])
def test_bad_extents_are_refused_in_one_line(text: str, fragment: str) -> None:
    with pytest.raises(ProjectionError, match=re.escape(fragment)) as raised:
        parse_extent(text)
    assert "\n" not in str(raised.value)

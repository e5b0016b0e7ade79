"""Boundary GeoJSON: the two shared public files (../shared/geo) and small hand-made cases for each repair rule."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import pytest

from homeshore.planning.boundaries import BoundaryError, load_boundaries, parse_boundaries, shape_centroid
from homeshore.planning.map_model import AreaShape
from tests.conftest import SHARED

GEO = SHARED / "geo"
DISTRICTS = GEO / "gb_postcode_districts.geojson"
LADS = GEO / "uk_local_authority_districts_2022.geojson"
INVALID_DISTRICTS = {"LE10", "LE15", "NN5", "NN14", "NN17"}  # geo/README.md: members touch


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def feature(geometry: dict | None, code: object = "NG5", key: str = "district") -> dict:
    return {"type": "Feature", "properties": {key: code}, "geometry": geometry}


def polygon(*rings: list) -> dict:
    return {"type": "Polygon", "coordinates": [list(ring) for ring in rings]}


def signed_area(ring) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:])) / 2


def repaired_alone(raw: dict, code_property: str) -> bool:
    return parse_boundaries(collection(raw), code_property).repaired == 1


# Shared public files

def test_the_postcode_district_file_loads_every_district() -> None:
    raw = json.loads(DISTRICTS.read_text())
    boundaries = load_boundaries(DISTRICTS, "district")
    assert {shape.code for shape in boundaries.shapes} == {f["properties"]["district"] for f in raw["features"]}
    assert len({shape.code for shape in boundaries.shapes}) == 2736
    assert boundaries.skipped == 0
    # 5 with touching members, 11 with a self-intersecting ring (found feature by feature below)
    assert boundaries.repaired == 16
    repaired = {f["properties"]["district"] for f in raw["features"] if repaired_alone(f, "district")}
    assert INVALID_DISTRICTS <= repaired and len(repaired) == 16


def test_every_loaded_ring_is_closed_and_wound_by_rfc_7946() -> None:
    for shape in load_boundaries(DISTRICTS, "district").shapes:
        for exterior, *holes in shape.polygons:
            assert exterior[0] == exterior[-1] and len(exterior) >= 4
            assert signed_area(exterior) > 0
            assert all(hole[0] == hole[-1] and signed_area(hole) < 0 for hole in holes)


def test_the_local_authority_file_loads_374_and_mends_two() -> None:
    boundaries = load_boundaries(LADS, "LAD22CD")
    assert len({shape.code for shape in boundaries.shapes}) == 374
    assert (boundaries.repaired, boundaries.skipped) == (5, 0)
    raw = json.loads(LADS.read_text())
    repaired = {f["properties"]["LAD22NM"] for f in raw["features"] if repaired_alone(f, "LAD22CD")}
    # the two geo/README.md names (a self-intersecting ring each), and three whose islands touch the mainland
    assert repaired == {"North Somerset", "East Hampshire", "Bristol, City of", "Portsmouth", "Waverley"}


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    mean_lat = math.radians((lat1 + lat2) / 2)
    return 6371.0088 * math.hypot(math.radians(lon2 - lon1) * math.cos(mean_lat), math.radians(lat2 - lat1))


def test_district_shape_centroids_lie_near_the_postcode_centroids() -> None:
    with (GEO / "gb_postcode_district_centroids.csv").open(newline="") as file:
        postcodes = {row["district"]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(file)}
    distances_km = [km_between(*shape_centroid(shape), *postcodes[shape.code])
                    for shape in load_boundaries(DISTRICTS, "district").shapes if shape.code in postcodes]
    assert len(distances_km) > 2600
    assert statistics.median(distances_km) < 5


# Errors

def test_a_missing_code_property_names_the_properties_seen() -> None:
    with pytest.raises(BoundaryError) as error:
        load_boundaries(LADS, "district")
    assert str(error.value).startswith(f"{LADS}: no feature has a 'district' property (properties seen: "
                                       "OBJECTID, LAD22CD, LAD22NM, BNG_E, BNG_N, LONG, LAT, GlobalID")


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "areas.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [\n{"type": ')
    with pytest.raises(BoundaryError, match=rf"^{path}: not JSON \(.* at line 2, column 10\)$"):
        load_boundaries(path, "district")
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(BoundaryError, match=rf"^{path}: not JSON \(not UTF-8 text\)$"):
        load_boundaries(path, "district")


@pytest.mark.parametrize("document, message", [
    ({"type": "Feature", "geometry": None, "properties": {}}, "not a GeoJSON FeatureCollection (type 'Feature')"),
    ([1, 2], "not a GeoJSON FeatureCollection (type 'list')"),
    (collection(), "the FeatureCollection has no features"),
    (collection(feature({"type": "Point", "coordinates": [-1.1, 52.9]}),
                feature({"type": "LineString", "coordinates": [[-1.1, 52.9], [-1.2, 53.0]]}, "NG6")),
     "no drawable polygon in any of its 2 features"),
])
def test_unusable_documents(document: object, message: str) -> None:
    with pytest.raises(BoundaryError) as error:
        parse_boundaries(document, "district", name="mine.geojson")
    assert str(error.value) == f"mine.geojson: {message}"


# Repair rules, one hand-made case each

SQUARE_CCW = [(0, 50), (1, 50), (1, 51), (0, 51), (0, 50)]
SQUARE_CW = list(reversed(SQUARE_CCW))


def only_shape(*features: dict) -> tuple[AreaShape, int, int]:
    boundaries = parse_boundaries(collection(*features), "district")
    assert len(boundaries.shapes) == 1
    return boundaries.shapes[0], boundaries.repaired, boundaries.skipped


def test_a_clean_polygon_is_kept_as_it_is() -> None:
    shape, repaired, skipped = only_shape(feature(polygon(SQUARE_CCW), " ng5 "))
    assert shape.code == "NG5"
    assert shape.polygons == ((tuple(SQUARE_CCW),),)
    assert (repaired, skipped) == (0, 0)


def test_clockwise_exterior_is_turned_without_counting_a_repair() -> None:
    shape, repaired, _ = only_shape(feature(polygon(SQUARE_CW)))
    assert signed_area(shape.polygons[0][0]) == pytest.approx(1.0)
    assert repaired == 0


def test_open_ring_is_closed_and_duplicates_removed() -> None:
    raw = [(0, 50), (1, 50), (1, 50), (1, 51), (0, 51)]  # open, one point repeated
    shape, repaired, _ = only_shape(feature(polygon(raw)))
    assert shape.polygons == ((tuple(SQUARE_CCW),),)
    assert repaired == 1


def test_holes_are_wound_clockwise() -> None:
    outer = [(0, 50), (4, 50), (4, 54), (0, 54), (0, 50)]
    hole_ccw = [(1, 51), (2, 51), (2, 52), (1, 52), (1, 51)]
    shape, repaired, _ = only_shape(feature(polygon(outer, hole_ccw)))
    exterior, hole = shape.polygons[0]
    assert signed_area(exterior) == 16 and signed_area(hole) == -1
    assert set(hole) == set(hole_ccw) and repaired == 0


@pytest.mark.parametrize("ring", [
    [(0, 50), (1, 50), (1, 50), (0, 50)],  # two distinct points once duplicates go
    [(0, 50), (1, 50), (2, 50), (0, 50)],  # no area
    [(0, 50), (1, 50), (1, float("nan")), (0, 51), (0, 50)],
    [(0, 50), (1, 50), (1, 91), (0, 51), (0, 50)],  # latitude out of range
    [(0, 50), (1, 50), (1, "51"), (0, 51), (0, 50)],
])
def test_unusable_rings_leave_the_feature_skipped(ring: list) -> None:
    shape, repaired, skipped = only_shape(feature(polygon(ring), "NG6"), feature(polygon(SQUARE_CCW)))
    assert shape.code == "NG5" and (repaired, skipped) == (0, 1)


def test_an_unusable_hole_is_dropped_and_counted() -> None:
    shape, repaired, _ = only_shape(feature(polygon(SQUARE_CCW, [(0.2, 50.2), (0.4, 50.2), (0.2, 50.2)])))
    assert shape.polygons == ((tuple(SQUARE_CCW),),) and repaired == 1


def test_features_without_geometry_or_code_are_skipped() -> None:
    boundaries = parse_boundaries(collection(
        feature(None), feature(polygon(SQUARE_CCW), None), feature(polygon(SQUARE_CCW), "  "),
        {"type": "Feature", "geometry": polygon(SQUARE_CCW)}, "not a feature", feature(polygon(SQUARE_CCW), "NG7"),
    ), "district")
    assert [shape.code for shape in boundaries.shapes] == ["NG7"]
    assert (boundaries.repaired, boundaries.skipped) == (0, 5)


def test_geometry_collection_is_flattened_to_its_polygons() -> None:
    other = [(2, 50), (3, 50), (3, 51), (2, 51), (2, 50)]
    geometry = {"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [0.5, 50.5]}, polygon(SQUARE_CCW),
        {"type": "LineString", "coordinates": [[0, 50], [3, 51]]},
        {"type": "MultiPolygon", "coordinates": [[other]]}]}
    shape, repaired, skipped = only_shape(feature(geometry))
    assert shape.polygons == ((tuple(SQUARE_CCW),), (tuple(other),))
    assert (repaired, skipped) == (1, 0)


def test_self_intersecting_ring_is_kept_and_counted() -> None:
    bowtie = [(0, 50), (1, 51), (1, 50), (0, 51), (0, 50)]
    shape, repaired, _ = only_shape(feature(polygon(bowtie)))
    assert set(shape.polygons[0][0]) == set(bowtie) and repaired == 1
    spike = [(0, 50), (1, 50), (1, 51), (1, 50.5), (1, 52), (0, 52), (0, 50)]  # folds back along x = 1
    assert only_shape(feature(polygon(spike)))[1] == 1


def test_members_that_meet_or_nest_are_counted_apart_ones_are_not() -> None:
    apart = [(2, 51), (3, 51), (3, 52), (2, 52), (2, 51)]  # its box overlaps nothing
    diagonal = [(1, 51), (1.4, 51), (1.4, 51.4), (1, 51)]  # in the triangle's box, beyond its hypotenuse
    touching = [(1, 51), (2, 51), (2, 52), (1, 52), (1, 51)]  # meets SQUARE_CCW at (1, 51) only
    overlapping = [(0.5, 50.5), (2, 50.5), (2, 52), (0.5, 52), (0.5, 50.5)]
    nested = [(0.2, 50.2), (0.4, 50.2), (0.4, 50.4), (0.2, 50.4), (0.2, 50.2)]
    triangle = [(0, 50), (1.4, 50), (0, 51.4), (0, 50)]
    multi = {"type": "MultiPolygon"}
    assert only_shape(feature(multi | {"coordinates": [[SQUARE_CCW], [apart]]}))[1] == 0
    assert only_shape(feature(multi | {"coordinates": [[triangle], [diagonal]]}))[1] == 0
    for other in (touching, overlapping, nested):
        assert only_shape(feature(multi | {"coordinates": [[SQUARE_CCW], [other]]}))[1] == 1


# Centroids, worked by hand

def test_centroid_of_a_rectangle_is_lat_then_lon() -> None:
    shape = AreaShape("X", (((( -2, 50), (2, 50), (2, 52), (-2, 52), (-2, 50)),),))
    assert shape_centroid(shape) == pytest.approx((51.0, 0.0))


def test_centroid_subtracts_holes_and_weights_polygons_by_area() -> None:
    # 4x4 square at the origin minus the 2x2 square in its corner: (16 * 2 - 4 * 1) / 12 = 7/3 on each axis.
    square = ((0, 0), (4, 0), (4, 4), (0, 4), (0, 0))
    corner_hole = ((0, 0), (0, 2), (2, 2), (2, 0), (0, 0))
    assert shape_centroid(AreaShape("X", ((square, corner_hole),))) == pytest.approx((7 / 3, 7 / 3))
    # unit square at (10.5, 0.5) with area 1 plus the 4x4 square with area 16: x = (16 * 2 + 10.5) / 17
    unit = ((10, 0), (11, 0), (11, 1), (10, 1), (10, 0))
    lat, lon = shape_centroid(AreaShape("X", ((square,), (unit,))))
    assert (lat, lon) == pytest.approx(((16 * 2 + 0.5) / 17, (16 * 2 + 10.5) / 17))

"""areas.csv, areas.geojson and the --json hubs from small hand-made records, parsed back and compared."""

from __future__ import annotations

import csv
import io
import json

from homeshore.planning.map_model import (COVERAGE_COLUMNS, CSV_COLUMNS, MEASURED, OFCOM_PRIOR, AreaRow, AreaShape, Boundaries, Hub,
                                          HubTeam, MapData)
from homeshore.planning.map_tables import areas_csv, areas_geojson, hubs_json

FIGURES = ("homes", "eligible", "eligible_pct", "download_median_mbps", "download_p10_mbps", "upload_median_mbps",
           "mos_median", "wifi_pct", "not_yet_known")

MEASURED_ROW = AreaRow(area="NG5", level="district", homes=20, eligible=15, eligible_pct=75.0,
                       download_median_mbps=12.5, download_p10_mbps=9.25, upload_median_mbps=0.1 + 0.2,
                       mos_median=4.3, wifi_pct=40.0, source=MEASURED, suppressed=False, not_yet_known=5)
# Suppressed, and (wrongly) still carrying figures: the outputs must not show them even so.
SUPPRESSED_ROW = AreaRow(area="NG7", level="district", homes=3, eligible=2, eligible_pct=66.7,
                         download_median_mbps=30.0, download_p10_mbps=20.0, upload_median_mbps=5.0, mos_median=4.4,
                         wifi_pct=33.3, source=MEASURED, suppressed=True, not_yet_known=1)
PRIOR_ROW = AreaRow(area="S1", level="district", homes=None, eligible=None, eligible_pct=34.8,
                    download_median_mbps=None, download_p10_mbps=None, upload_median_mbps=None, mos_median=None,
                    wifi_pct=None, source=OFCOM_PRIOR)
ROWS = (MEASURED_ROW, SUPPRESSED_ROW, PRIOR_ROW)

# NG5 is drawn from two features. The first polygon is given clockwise, its hole counterclockwise (both the
# wrong way for RFC 7946), with more decimals than published.
SQUARE_CW = ((-1.2000004, 53.0), (-1.2, 53.1), (-1.1, 53.1), (-1.1, 53.0), (-1.2000004, 53.0))
HOLE_CCW = ((-1.16, 53.04), (-1.14, 53.04), (-1.14, 53.06), (-1.16, 53.06), (-1.16, 53.04))
TRIANGLE_CCW = ((-1.05, 53.0), (-1.0, 53.0), (-1.0, 53.05), (-1.05, 53.0))
SPECK = ((-1.3, 53.2), (-1.300001, 53.2), (-1.300001, 53.200001), (-1.3, 53.2))  # under 1 m: vanishes
BOUNDARIES = Boundaries(shapes=(AreaShape("NG5", ((SQUARE_CW, HOLE_CCW),)),
                                AreaShape("NG9", ((SPECK,),)),
                                AreaShape("NG5", ((TRIANGLE_CCW,),))), code_property="district")
CENTROIDS = {"NG5": (53.0, -1.15), "NG7": (52.9512345, -1.1812345), "NG9": (53.2, -1.3)}
HUBS = (HubTeam(Hub("NG5 1AB", 53.01, -1.15, 25.0), eligible_homes=15, team_size=15, team_possible=True,
                areas=("NG5", "NG7")),
        HubTeam(Hub("53.5,-2", 53.5, -2.0, 10.5), eligible_homes=None, team_size=15, team_possible=False,
                areas=()))
NG9_ROW = AreaRow(area="NG9", level="district", homes=None, eligible=None, eligible_pct=None,
                  download_median_mbps=None, download_p10_mbps=None, upload_median_mbps=None, mos_median=None,
                  wifi_pct=None, suppressed=True)
DATA = MapData(level="district", rows=(*ROWS, NG9_ROW), hubs=HUBS, boundaries=BOUNDARIES, centroids=CENTROIDS,
               title="test", attribution=("Boundaries: test", "Ofcom prior"))


def parsed_geojson() -> dict:
    return json.loads(json.dumps(areas_geojson(DATA), allow_nan=False))


def features_by_area() -> dict[str, dict]:
    return {f["properties"]["area"]: f for f in parsed_geojson()["features"] if "area" in f["properties"]}


def test_areas_csv_reads_back_as_the_rows() -> None:
    text = areas_csv(ROWS)
    assert "\r" not in text and text.endswith("\n") and text.count("\n") == 4
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS + COVERAGE_COLUMNS
    assert list(reader) == [
        {"area": "NG5", "level": "district", "homes": "20", "eligible": "15", "eligible_pct": "75.0",
         "download_median_mbps": "12.5", "download_p10_mbps": "9.25", "upload_median_mbps": "0.3",
         "mos_median": "4.3", "wifi_pct": "40.0", "source": "measured", "districts_measured": "", "districts": ""},
        {"area": "NG7", "level": "district", "homes": "", "eligible": "", "eligible_pct": "",
         "download_median_mbps": "", "download_p10_mbps": "", "upload_median_mbps": "", "mos_median": "",
         "wifi_pct": "", "source": "measured", "districts_measured": "", "districts": ""},
        {"area": "S1", "level": "district", "homes": "", "eligible": "", "eligible_pct": "34.8",
         "download_median_mbps": "", "download_p10_mbps": "", "upload_median_mbps": "", "mos_median": "",
         "wifi_pct": "", "source": "ofcom_prior", "districts_measured": "", "districts": ""},
    ]


def test_areas_csv_of_no_rows_is_the_header() -> None:
    assert areas_csv(()) == ",".join(CSV_COLUMNS + COVERAGE_COLUMNS) + "\n"


def test_geojson_is_a_feature_collection_with_level_and_attribution() -> None:
    document = parsed_geojson()
    assert document["type"] == "FeatureCollection" and document["level"] == "district"
    assert document["attribution"] == ["Boundaries: test", "Ofcom prior"]
    kinds = [f["properties"].get("kind", f["properties"].get("area")) for f in document["features"]]
    assert kinds == ["NG5", "NG7", "S1", "NG9", "hub", "hub"]
    assert all(f["type"] == "Feature" for f in document["features"])


def test_a_multipolygon_gathers_every_shape_of_a_code_rounded_and_wound_per_rfc_7946() -> None:
    geometry = features_by_area()["NG5"]["geometry"]
    assert geometry["type"] == "MultiPolygon"
    # Worked by hand: the square reversed to counterclockwise (-1.2000004 rounds to -1.2), the hole reversed to
    # clockwise, the triangle kept as given.
    assert geometry["coordinates"] == [
        [[[-1.2, 53.0], [-1.1, 53.0], [-1.1, 53.1], [-1.2, 53.1], [-1.2, 53.0]],
         [[-1.16, 53.04], [-1.16, 53.06], [-1.14, 53.06], [-1.14, 53.04], [-1.16, 53.04]]],
        [[[-1.05, 53.0], [-1.0, 53.0], [-1.0, 53.05], [-1.05, 53.0]]],
    ]


def test_without_an_outline_a_centroid_point_else_null_geometry() -> None:
    features = features_by_area()
    # NG7 has no outline: its centroid (lat, lon) becomes [lon, lat], rounded to 5 decimals.
    assert features["NG7"]["geometry"] == {"type": "Point", "coordinates": [-1.18123, 52.95123]}
    assert features["S1"]["geometry"] is None
    # NG9's only outline is smaller than the rounding: it falls back to its centroid.
    assert features["NG9"]["geometry"] == {"type": "Point", "coordinates": [-1.3, 53.2]}


def test_every_coordinate_has_at_most_five_decimals() -> None:
    def numbers(value):
        if isinstance(value, list):
            for item in value:
                yield from numbers(item)
        else:
            yield value

    geometries = [f["geometry"] for f in parsed_geojson()["features"] if f["geometry"]]
    found = [x for g in geometries for x in numbers(g["coordinates"])]
    assert len(found) == 2 * (5 + 5 + 4) + 2 * 2 + 2 * 2
    assert all(len(repr(x).split(".")[-1]) <= 5 for x in found)


def test_suppressed_features_carry_no_figure_key_at_all() -> None:
    features = features_by_area()
    for code in ("NG7", "NG9"):
        assert features[code]["properties"] == {"area": code, "level": "district", "source": "measured",
                                                "suppressed": True}
    assert features["NG5"]["properties"] == {
        "area": "NG5", "level": "district", "homes": 20, "eligible": 15, "eligible_pct": 75.0,
        "download_median_mbps": 12.5, "download_p10_mbps": 9.25, "upload_median_mbps": 0.3, "mos_median": 4.3,
        "wifi_pct": 40.0, "source": "measured", "suppressed": False, "not_yet_known": 5}
    prior = features["S1"]["properties"]
    assert prior["source"] == "ofcom_prior" and prior["eligible_pct"] == 34.8 and prior["suppressed"] is False
    assert all(prior[key] is None for key in FIGURES if key != "eligible_pct")


def test_hub_features_and_hubs_json() -> None:
    expected = [
        {"kind": "hub", "label": "NG5 1AB", "reach_km": 25.0, "team_size": 15, "team_possible": True,
         "eligible_homes": 15, "areas": ["NG5", "NG7"]},
        {"kind": "hub", "label": "53.5,-2", "reach_km": 10.5, "team_size": 15, "team_possible": False,
         "eligible_homes": None, "areas": []},
    ]
    hubs = [f for f in parsed_geojson()["features"] if f["properties"].get("kind") == "hub"]
    assert [f["properties"] for f in hubs] == expected
    assert [f["geometry"] for f in hubs] == [{"type": "Point", "coordinates": [-1.15, 53.01]},
                                             {"type": "Point", "coordinates": [-2.0, 53.5]}]
    assert json.loads(json.dumps(hubs_json(HUBS))) == expected


def test_no_boundaries_and_no_hubs() -> None:
    data = MapData(level="area", rows=(MEASURED_ROW,), hubs=(), boundaries=None, centroids={}, title="",
                   attribution=())
    document = json.loads(json.dumps(areas_geojson(data)))
    assert document["attribution"] == [] and document["level"] == "area"
    assert [f["geometry"] for f in document["features"]] == [None]

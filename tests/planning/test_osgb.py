"""Grid references to WGS84, against Ordnance Survey's worked example, a Helmert transformation written out
independently here, and the shared district centroids (../shared/geo, derived by someone else)."""

from __future__ import annotations

import csv
import json
import math
import statistics

import pytest

from homeshore.planning.osgb import (IRISH_GRID, NATIONAL_GRID, bng_to_wgs84, grid_to_geodetic,
                                     irish_grid_to_wgs84)
from tests.conftest import SHARED

GEO = SHARED / "geo"


def dms(degrees: int, minutes: int, seconds: float) -> float:
    return degrees + minutes / 60 + seconds / 3600


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: within a millimetre of the great circle over the few hundred metres compared."""
    mean_lat = math.radians((lat1 + lat2) / 2)
    dx = math.radians(lon2 - lon1) * math.cos(mean_lat)
    return 6_371_008.8 * math.hypot(dx, math.radians(lat2 - lat1))


def test_inverse_projection_matches_the_os_guide_worked_example() -> None:
    # Ordnance Survey, "A guide to coordinate systems in Great Britain", Annex C, worked example of the grid to
    # latitude/longitude conversion: E 651409.903, N 313177.270 -> 52°39'27.2531"N, 1°43'4.5177"E (OSGB36).
    lat, lon = grid_to_geodetic(651409.903, 313177.270, NATIONAL_GRID)
    assert abs(lat - dms(52, 39, 27.2531)) * 3600 < 0.0002  # 0.0002" is 6 mm
    assert abs(lon - dms(1, 43, 4.5177)) * 3600 < 0.0002


@pytest.mark.parametrize("grid, origin", [(NATIONAL_GRID, (49.0, -2.0)), (IRISH_GRID, (53.5, -8.0))])
def test_the_true_origin_maps_to_its_defining_latitude_and_longitude(grid, origin) -> None:
    # The grid constants: the true origin has grid coordinates (E0, N0) by definition.
    lat, lon = grid_to_geodetic(grid.e0_m, grid.n0_m, grid)
    assert (lat, lon) == pytest.approx(origin, abs=1e-9)


def independent_osgb36_to_wgs84(lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """The guide's Helmert (section 6.6) as a matrix product, latitude back by Bowring's closed formula."""
    a, b = 6377563.396, 6356256.909
    e2 = (a * a - b * b) / (a * a)
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    nu = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    vector = [nu * math.cos(lat) * math.cos(lon), nu * math.cos(lat) * math.sin(lon), (1 - e2) * nu * math.sin(lat)]
    # Table 6 of the guide is WGS84 -> OSGB36: tx -446.448, ty 125.157, tz -542.060 m, s 20.4894 ppm,
    # rx -0.1502", ry -0.2470", rz -0.8421". The reverse uses the negated parameters.
    t = [446.448, -125.157, 542.060]
    s = -20.4894e-6
    rx, ry, rz = (math.radians(v / 3600) for v in (0.1502, 0.2470, 0.8421))
    matrix = [[1 + s, -rz, ry], [rz, 1 + s, -rx], [-ry, rx, 1 + s]]
    x, y, z = (t[i] + sum(matrix[i][k] * vector[k] for k in range(3)) for i in range(3))
    a2, b2 = 6378137.0, 6356752.314245
    e2_2, ep2 = (a2 * a2 - b2 * b2) / (a2 * a2), (a2 * a2 - b2 * b2) / (b2 * b2)
    p = math.hypot(x, y)
    theta = math.atan2(z * a2, p * b2)
    lat2 = math.atan2(z + ep2 * b2 * math.sin(theta) ** 3, p - e2_2 * a2 * math.cos(theta) ** 3)
    return math.degrees(lat2), math.degrees(math.atan2(y, x))


def test_bng_to_wgs84_of_the_worked_example() -> None:
    expected = independent_osgb36_to_wgs84(dms(52, 39, 27.2531), dms(1, 43, 4.5177))
    lat, lon = bng_to_wgs84(651409.903, 313177.270)
    assert metres_between(lat, lon, *expected) < 0.5
    # and the rounded figures quoted for this point after the datum shift (about 52.65798 N, 1.71605 E)
    assert metres_between(lat, lon, 52.65798, 1.71605) < 2.0
    # the datum shift itself is real: OSGB36 and WGS84 differ here by about a hundred metres
    assert metres_between(lat, lon, dms(52, 39, 27.2531), dms(1, 43, 4.5177)) > 50


def test_shared_district_centroids_within_50_m() -> None:
    with (GEO / "gb_postcode_district_centroids.csv").open(newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["grid"] == "BNG"]
    assert len(rows) > 2900
    errors_m = [metres_between(*bng_to_wgs84(float(row["mean_easting"]), float(row["mean_northing"])),
                               float(row["lat"]), float(row["lon"])) for row in rows]
    within = sum(error < 50 for error in errors_m)
    assert within >= 0.99 * len(rows)
    # The reference averages lat/lon instead of grid coordinates; the two agree to a few metres at most.
    assert statistics.median(errors_m) < 5


def inside(lon: float, lat: float, ring: list) -> bool:
    crossings = 0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            crossings += 1
    return crossings % 2 == 1


def test_irish_grid_lands_in_belfast() -> None:
    # BT1 1AA, Belfast city centre, is at Irish Grid E 334316, N 374675 in the ONS Postcode Directory 2026.1.1.
    # No published worked example is at hand for the Irish Grid: it must at least fall inside Belfast's
    # boundary (ONS, local authority districts 2022), away from its edge.
    lat, lon = irish_grid_to_wgs84(334316, 374675)
    document = json.loads((GEO / "uk_local_authority_districts_2022.geojson").read_text())
    belfast = next(f for f in document["features"] if f["properties"]["LAD22NM"] == "Belfast")
    assert any(inside(lon, lat, polygon[0]) for polygon in belfast["geometry"]["coordinates"])
    # ... and the National Grid formulas on the same numbers would put it in the Irish Sea, far away.
    assert metres_between(lat, lon, *bng_to_wgs84(334316, 374675)) > 100_000

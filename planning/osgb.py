"""Grid references to WGS84 latitude and longitude: the British National Grid (Great Britain) and the Irish Grid
(Northern Ireland, the grid the ONS Postcode Directory uses for BT postcodes).

Both follow Ordnance Survey, "A guide to coordinate systems in Great Britain" (v3.6, 2020): the inverse
Transverse Mercator projection of Annex C onto the grid's own ellipsoid, then a 7-parameter Helmert
transformation (section 6.6) to WGS84 through Cartesian coordinates (Annex B). The Helmert step is a
best-fit approximation, good to about 5 m in Great Britain (the OS says so itself; OSTN15 would give 0.1 m but
needs a 15-MB grid): far below the uncertainty of a postcode centroid. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_ARC_SECOND_RAD = math.pi / (180 * 3600)


@dataclass(frozen=True)
class Ellipsoid:
    a_m: float  # semi-major axis
    b_m: float  # semi-minor axis

    @property
    def e2(self) -> float:
        return 1.0 - (self.b_m / self.a_m) ** 2


@dataclass(frozen=True)
class Grid:
    """A Transverse Mercator grid (guide, Table A.1 constants)."""

    ellipsoid: Ellipsoid
    f0: float  # scale factor on the central meridian
    lat0_deg: float  # true origin
    lon0_deg: float
    e0_m: float  # false origin: grid coordinates of the true origin
    n0_m: float


@dataclass(frozen=True)
class Helmert:
    """A 7-parameter transformation in the guide's (position vector) convention, from the grid's datum to WGS84."""

    tx_m: float
    ty_m: float
    tz_m: float
    s_ppm: float
    rx_arcsec: float
    ry_arcsec: float
    rz_arcsec: float


AIRY_1830 = Ellipsoid(6377563.396, 6356256.909)
AIRY_1830_MODIFIED = Ellipsoid(6377340.189, 6356034.447)
GRS80 = Ellipsoid(6378137.000, 6356752.3141)  # WGS84 differs from GRS80 by 0.1 mm in b: irrelevant here

NATIONAL_GRID = Grid(AIRY_1830, 0.9996012717, 49.0, -2.0, 400000.0, -100000.0)
IRISH_GRID = Grid(AIRY_1830_MODIFIED, 1.000035, 53.5, -8.0, 200000.0, 250000.0)

# Guide, Table 6 gives WGS84 -> OSGB36; its inverse, to the accuracy of the transformation, has every sign
# flipped.
OSGB36_TO_WGS84 = Helmert(446.448, -125.157, 542.060, -20.4894, 0.1502, 0.2470, 0.8421)
# Ireland 1965 -> ETRS89/WGS84, the OSi/OSNI published transformation (the PROJ `+towgs84` of EPSG:29903),
# good to about 1-2 m.
IRELAND_1965_TO_WGS84 = Helmert(482.5, -130.6, 564.6, 8.15, -1.042, -0.214, -0.631)


def bng_to_wgs84(easting_m: float, northing_m: float) -> tuple[float, float]:
    """(lat, lon) in WGS84 degrees of a British National Grid (OSGB36) easting and northing in metres."""
    return _grid_to_wgs84(easting_m, northing_m, NATIONAL_GRID, OSGB36_TO_WGS84)


def irish_grid_to_wgs84(easting_m: float, northing_m: float) -> tuple[float, float]:
    """(lat, lon) in WGS84 degrees of an Irish Grid (TM65, Ireland 1965) easting and northing in metres."""
    return _grid_to_wgs84(easting_m, northing_m, IRISH_GRID, IRELAND_1965_TO_WGS84)


def grid_to_geodetic(easting_m: float, northing_m: float, grid: Grid) -> tuple[float, float]:
    """(lat, lon) in degrees on the grid's own ellipsoid and datum: the guide's Annex C inverse projection."""
    ell = grid.ellipsoid
    a, b, f0, e2 = ell.a_m, ell.b_m, grid.f0, ell.e2
    lat0, lon0 = math.radians(grid.lat0_deg), math.radians(grid.lon0_deg)
    n = (a - b) / (a + b)
    # C.6-C.7: iterate the footpoint latitude until the meridional arc matches the northing to 0.01 mm.
    lat = (northing_m - grid.n0_m) / (a * f0) + lat0
    m = _meridional_arc(lat, lat0, b, f0, n)
    while abs(northing_m - grid.n0_m - m) >= 0.00001:
        lat += (northing_m - grid.n0_m - m) / (a * f0)
        m = _meridional_arc(lat, lat0, b, f0, n)
    sin_lat, cos_lat, tan_lat = math.sin(lat), math.cos(lat), math.tan(lat)
    nu = a * f0 / math.sqrt(1 - e2 * sin_lat ** 2)
    rho = a * f0 * (1 - e2) * (1 - e2 * sin_lat ** 2) ** -1.5
    eta2 = nu / rho - 1
    sec_lat = 1 / cos_lat
    t2, t4 = tan_lat ** 2, tan_lat ** 4
    vii = tan_lat / (2 * rho * nu)
    viii = tan_lat / (24 * rho * nu ** 3) * (5 + 3 * t2 + eta2 - 9 * t2 * eta2)
    ix = tan_lat / (720 * rho * nu ** 5) * (61 + 90 * t2 + 45 * t4)
    x = sec_lat / nu
    xi = sec_lat / (6 * nu ** 3) * (nu / rho + 2 * t2)
    xii = sec_lat / (120 * nu ** 5) * (5 + 28 * t2 + 24 * t4)
    xiia = sec_lat / (5040 * nu ** 7) * (61 + 662 * t2 + 1320 * t4 + 720 * tan_lat ** 6)
    de = easting_m - grid.e0_m
    lat_out = lat - vii * de ** 2 + viii * de ** 4 - ix * de ** 6
    lon_out = lon0 + x * de - xi * de ** 3 + xii * de ** 5 - xiia * de ** 7
    return math.degrees(lat_out), math.degrees(lon_out)


def _meridional_arc(lat: float, lat0: float, b: float, f0: float, n: float) -> float:
    """M, the guide's C.3: the developed arc of the central meridian from lat0 to lat."""
    dlat, slat = lat - lat0, lat + lat0
    return b * f0 * (
        (1 + n + 5 / 4 * n ** 2 + 5 / 4 * n ** 3) * dlat
        - (3 * n + 3 * n ** 2 + 21 / 8 * n ** 3) * math.sin(dlat) * math.cos(slat)
        + (15 / 8 * n ** 2 + 15 / 8 * n ** 3) * math.sin(2 * dlat) * math.cos(2 * slat)
        - 35 / 24 * n ** 3 * math.sin(3 * dlat) * math.cos(3 * slat))


def _grid_to_wgs84(easting_m: float, northing_m: float, grid: Grid, helmert: Helmert) -> tuple[float, float]:
    lat, lon = grid_to_geodetic(easting_m, northing_m, grid)
    x, y, z = _to_cartesian(lat, lon, grid.ellipsoid)
    return _from_cartesian(*_helmert(x, y, z, helmert), GRS80)


def _to_cartesian(lat_deg: float, lon_deg: float, ell: Ellipsoid) -> tuple[float, float, float]:
    """Guide B.1-B.4, at height 0: the heights of the grid are near the geoid, and 50 m of height error moves
    the horizontal result by well under a metre."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    nu = ell.a_m / math.sqrt(1 - ell.e2 * math.sin(lat) ** 2)
    return (nu * math.cos(lat) * math.cos(lon), nu * math.cos(lat) * math.sin(lon),
            (1 - ell.e2) * nu * math.sin(lat))


def _helmert(x: float, y: float, z: float, h: Helmert) -> tuple[float, float, float]:
    """Guide 6.6, the small-angle form of the rotation."""
    scale = 1 + h.s_ppm * 1e-6
    rx, ry, rz = (h.rx_arcsec * _ARC_SECOND_RAD, h.ry_arcsec * _ARC_SECOND_RAD, h.rz_arcsec * _ARC_SECOND_RAD)
    return (h.tx_m + scale * x - rz * y + ry * z,
            h.ty_m + rz * x + scale * y - rx * z,
            h.tz_m - ry * x + rx * y + scale * z)


def _from_cartesian(x: float, y: float, z: float, ell: Ellipsoid) -> tuple[float, float]:
    """Guide B.5-B.6: latitude by iteration (converges to 1e-12 rad in a handful of steps at UK latitudes)."""
    p = math.hypot(x, y)
    lat = math.atan2(z, p * (1 - ell.e2))
    for _ in range(10):
        nu = ell.a_m / math.sqrt(1 - ell.e2 * math.sin(lat) ** 2)
        previous, lat = lat, math.atan2(z + ell.e2 * nu * math.sin(lat), p)
        if abs(lat - previous) < 1e-12:
            break
    return math.degrees(lat), math.degrees(math.atan2(y, x))

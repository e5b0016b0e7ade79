"""From (lat, lon) to SVG pixels: an equirectangular projection scaled by the cosine of the middle latitude.

At the scale of a country this is what a planner needs: shapes look right (one degree of longitude is shorter
than one of latitude by cos(latitude), exact at the middle latitude and within 10 % across Great Britain) and
nothing is gained from a conformal projection for a choropleth. Distances on the map are true at the middle
latitude, so a hub's reach ring (`km_to_px`) is a circle of the right size there and a little off in width far
north or south of it. Pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), as the team's haversine distances use
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0  # along a meridian: one degree of latitude, 111.195 km
MIN_SPAN_DEG = 0.01  # a box around a single point (one area, one hub): about 1 km, so the scale stays finite
MIN_COS = 0.01  # near a pole cos(latitude) tends to 0; the map is meant for Great Britain, this only avoids /0


class ProjectionError(ValueError):
    """Bounds or a box that cannot be fitted (not finite, min above max, a box smaller than its margins)."""


@dataclass(frozen=True)
class Projection:
    """x = left_px + (lon - west_lon) * cos_mid_lat * px_per_degree; y = top_px + (north_lat - lat) * px_per_degree.

    `px_per_degree` is pixels per degree of latitude; y grows downwards as SVG's does.
    """

    west_lon: float
    north_lat: float
    cos_mid_lat: float
    px_per_degree: float
    left_px: float
    top_px: float

    def point(self, lat: float, lon: float) -> tuple[float, float]:
        """SVG x, y of (lat, lon)."""
        return (self.left_px + (lon - self.west_lon) * self.cos_mid_lat * self.px_per_degree,
                self.top_px + (self.north_lat - lat) * self.px_per_degree)

    def km_to_px(self, km: float) -> float:
        """A great-circle distance as pixels (true along meridians, and along parallels at the middle latitude)."""
        return km / KM_PER_DEGREE * self.px_per_degree


def fit(bounds_lat_lon: tuple[float, float, float, float], width_px: float, height_px: float,
        margin_px: float = 10) -> Projection:
    """The projection showing bounds = (min_lat, min_lon, max_lat, max_lon) as large as it fits in the box
    width_px x height_px less `margin_px` on every side, centred along the axis with room to spare."""
    min_lat, min_lon, max_lat, max_lon = bounds_lat_lon
    if not all(math.isfinite(value) for value in (*bounds_lat_lon, width_px, height_px, margin_px)):
        raise ProjectionError(f"map bounds and box must be finite numbers, not {bounds_lat_lon}, "
                              f"{width_px} x {height_px}, margin {margin_px}")
    if min_lat > max_lat or min_lon > max_lon:
        raise ProjectionError(f"map bounds {bounds_lat_lon} are not (min_lat, min_lon, max_lat, max_lon)")
    if not (-90.0 <= min_lat and max_lat <= 90.0):
        raise ProjectionError(f"map bounds {bounds_lat_lon} have a latitude beyond ±90°")
    inner_width, inner_height = width_px - 2 * margin_px, height_px - 2 * margin_px
    if margin_px < 0 or inner_width <= 0 or inner_height <= 0:
        raise ProjectionError(f"a {width_px} x {height_px} px box leaves no room inside a margin of {margin_px} px")
    # A degenerate box (one point, or points on one parallel or meridian) is widened about its centre.
    if max_lat - min_lat < MIN_SPAN_DEG:
        middle = (min_lat + max_lat) / 2
        min_lat, max_lat = middle - MIN_SPAN_DEG / 2, middle + MIN_SPAN_DEG / 2
    if max_lon - min_lon < MIN_SPAN_DEG:
        middle = (min_lon + max_lon) / 2
        min_lon, max_lon = middle - MIN_SPAN_DEG / 2, middle + MIN_SPAN_DEG / 2
    cos_mid = max(MIN_COS, math.cos(math.radians((min_lat + max_lat) / 2)))
    span_x_deg, span_y_deg = (max_lon - min_lon) * cos_mid, max_lat - min_lat
    px_per_degree = min(inner_width / span_x_deg, inner_height / span_y_deg)
    left = margin_px + (inner_width - span_x_deg * px_per_degree) / 2
    top = margin_px + (inner_height - span_y_deg * px_per_degree) / 2
    return Projection(west_lon=min_lon, north_lat=max_lat, cos_mid_lat=cos_mid, px_per_degree=px_per_degree,
                      left_px=left, top_px=top)


def parse_extent(text: str) -> str | tuple[float, float, float, float]:
    """`--extent`: "data", "all" or "W,S,E,N" in degrees (west and east longitude, south and north latitude),
    the last as (min_lat, min_lon, max_lat, max_lon). Raises ProjectionError with a one-line reason."""
    value = text.strip().lower()
    if value in ("data", "all"):
        return value
    parts = value.split(",")
    try:
        west, south, east, north = (float(part) for part in parts)
    except ValueError:
        raise ProjectionError(f"{text!r} is not data, all or W,S,E,N in degrees (e.g. -2.0,52.5,-0.5,53.5)") \
            from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise ProjectionError(f"{text!r}: W,S,E,N must be finite numbers")
    if not (-180.0 <= west < east <= 180.0):
        raise ProjectionError(f"{text!r}: west {west:g} must be below east {east:g}, both within ±180")
    if not (-90.0 <= south < north <= 90.0):
        raise ProjectionError(f"{text!r}: south {south:g} must be below north {north:g}, both within ±90")
    return south, west, north, east

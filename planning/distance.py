"""Great-circle distance between two (lat, lon) points, as the team agreed: haversine on a sphere of the mean
Earth radius. Within a hub's reach (tens of km) the sphere is within 0.5 % of the WGS84 ellipsoid, well inside
the uncertainty of a postcode centroid."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius R1 = (2a + b) / 3 of WGS84


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Kilometres along the great circle between (lat1, lon1) and (lat2, lon2), in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    # min(): rounding can push `a` a hair past 1 for antipodal points, and asin would fail.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))

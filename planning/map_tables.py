"""The machine-readable map outputs: areas.csv, areas.geojson and the hubs of `homeshore map --json`.

Pure: published records (planning/map_model.py) in, text and JSON-ready dicts out. The records are already
published (suppressed, rounded), so nothing here can add a figure the privacy rules removed; on top of that a
suppressed row is written with its identity only (area, level, source, suppressed), not a key for any figure,
so a script that reads `properties.homes` cannot mistake a hidden count for a missing one.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Mapping, Sequence

from homeshore.planning.map_model import COVERAGE_COLUMNS, CSV_COLUMNS, AreaRow, Boundaries, HubTeam, MapData, Polygon, Ring

COORDINATE_DECIMALS = 5  # about 1 m: far finer than the outlines (simplified at 0.0005°) and the centroids
FLOAT_DECIMALS = 6  # figures are rounded to 1-2 decimals upstream; this only removes binary noise (0.1 + 0.2)
SUPPRESSED_KEYS = ("area", "level", "source")  # all a suppressed row says, with suppressed=true


def areas_csv(rows: Sequence[AreaRow], coverage: Mapping[str, tuple[int, int]] | None = None) -> str:
    """areas.csv (DESIGN.md "homeshore map"): CSV_COLUMNS then COVERAGE_COLUMNS, one line per row; None and
    suppressed figures empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = CSV_COLUMNS + COVERAGE_COLUMNS
    writer.writerow(columns)
    for row in rows:
        values = _row_properties(row, coverage or {})
        writer.writerow([_cell(values.get(column)) for column in columns])
    return out.getvalue()


def areas_geojson(data: MapData) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection: one Feature per area row, then one Point Feature per hub.

    An area's geometry is the MultiPolygon of every boundary shape with its code, else a Point at its centroid,
    else null. Exterior rings are counterclockwise and holes clockwise (RFC 7946 3.1.6); positions are rounded
    to COORDINATE_DECIMALS, and a ring that rounding reduces below four positions is left out.
    """
    polygons = _polygons_by_code(data.boundaries)
    features = []
    for row in data.rows:
        geometry = _multipolygon(polygons.get(row.area, ()))
        if geometry is None and row.area in data.centroids:
            lat, lon = data.centroids[row.area]
            geometry = {"type": "Point", "coordinates": _position((lon, lat))}
        features.append({"type": "Feature", "geometry": geometry, "properties": _row_properties(row, data.coverage)})
    for team in data.hubs:
        features.append({"type": "Feature", "geometry": {"type": "Point",
                                                          "coordinates": _position((team.hub.lon, team.hub.lat))},
                         "properties": hub_properties(team)})
    return {"type": "FeatureCollection", "level": data.level, "attribution": list(data.attribution),
            "features": features}


def hubs_json(teams: Sequence[HubTeam]) -> list[dict[str, Any]]:
    """The hubs for `homeshore map --json`: the same properties as the hub features of areas.geojson."""
    return [hub_properties(team) for team in teams]


def hub_properties(team: HubTeam) -> dict[str, Any]:
    return {"kind": "hub", "label": team.hub.label, "reach_km": _finite(team.hub.reach_km),
            "team_size": team.team_size, "team_possible": team.team_possible,
            "eligible_homes": team.eligible_homes, "areas": list(team.areas)}


def _row_properties(row: AreaRow, coverage: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    if row.suppressed:
        return {**{key: getattr(row, key) for key in SUPPRESSED_KEYS}, "suppressed": True}
    properties = {column: _finite(getattr(row, column)) for column in CSV_COLUMNS}
    if row.area in coverage:
        properties.update(zip(COVERAGE_COLUMNS, coverage[row.area]))
    return {**properties, "suppressed": False, "not_yet_known": row.not_yet_known}


def _finite(value: Any) -> Any:
    """A float without binary noise; a non-finite one (never expected) as None, since JSON has no NaN."""
    if isinstance(value, float):
        return round(value, FLOAT_DECIMALS) if math.isfinite(value) else None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # no column is boolean today; never let True become "1"
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # already rounded by _finite: 12.5, 9.25
    return str(value)


def _polygons_by_code(boundaries: Boundaries | None) -> dict[str, list[Polygon]]:
    """Every polygon of every shape, by code: several features may share a code and are drawn as one."""
    by_code: dict[str, list[Polygon]] = {}
    for shape in boundaries.shapes if boundaries is not None else ():
        by_code.setdefault(shape.code, []).extend(shape.polygons)
    return by_code


def _multipolygon(polygons: Sequence[Polygon]) -> dict[str, Any] | None:
    coordinates = []
    for polygon in polygons:
        rings = [_ring(ring, exterior=index == 0) for index, ring in enumerate(polygon)]
        if rings and rings[0] is not None:  # a polygon whose outline vanished has nothing to hold its holes
            coordinates.append([ring for ring in rings if ring is not None])
    return {"type": "MultiPolygon", "coordinates": coordinates} if coordinates else None


def _ring(ring: Ring, exterior: bool) -> list[list[float]] | None:
    """The ring rounded, without the repeated positions rounding can make, wound per RFC 7946; None if fewer
    than four positions (three distinct points and the closing one) remain."""
    positions: list[list[float]] = []
    for point in ring:
        position = _position(point)
        if not positions or position != positions[-1]:
            positions.append(position)
    if positions and positions[0] != positions[-1]:
        positions.append(positions[0])
    if len(positions) < 4:
        return None
    if (_signed_area(positions) > 0) != exterior:  # counterclockwise (positive area) outside, clockwise holes
        positions.reverse()
    return positions


def _signed_area(positions: list[list[float]]) -> float:
    """Twice the shoelace area in degrees², positive for a counterclockwise ring (lon east, lat north)."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(positions, positions[1:]))


def _position(point: tuple[float, float]) -> list[float]:
    return [round(point[0], COORDINATE_DECIMALS), round(point[1], COORDINATE_DECIMALS)]

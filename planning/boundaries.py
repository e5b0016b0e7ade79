"""Area outlines from a GeoJSON FeatureCollection the user gives (RFC 7946): any polygons with a code property.

Public boundary files are rarely clean (simplification leaves self-intersections, exports leave open rings and
GeometryCollections), and one bad outline must not cost the planner the whole map. So each feature is mended
where that is safe and skipped where it is not:

- Polygon and MultiPolygon are taken as they are; a GeometryCollection is flattened to its polygons (points and
  lines, which have no area to colour, are dropped).
- A ring is closed if open, and consecutive duplicate points are removed; a ring left with fewer than 4 points
  (a triangle plus the closing point), or with all its points on one line, is dropped. A position that is not
  two finite numbers with longitude within ±180 and latitude within ±90 makes its ring unusable, so it is
  dropped. A polygon whose exterior ring is dropped is dropped with its holes.
- Exterior rings are turned counter-clockwise and holes clockwise (RFC 7946 section 3.1.6). This alone is not
  counted as a repair: the 2008 GeoJSON specification set no winding order, RFC 7946 tells parsers not to
  reject either, and counting it would report every feature of an ESRI export (all 374 of the ONS local
  authority file) as repaired, drowning the ones that were really mended.
- A self-intersecting ring is kept: the SVG renderer fills with the evenodd rule, which draws a figure-of-eight
  as its two lobes. It counts as repaired, so the planner hears of it. So do members of one feature whose
  exteriors meet or nest: OGC Simple Features allows members to touch at points, but in simplified outlines a
  touch is usually a collapsed strip of land (the five districts geo/README.md calls invalid are exactly
  those whose members touch), and a renderer should draw each polygon as its own path so that members which
  do overlap are painted, not cut out. Holes outside their exterior are not looked for.

A feature without geometry, without the code property, or with nothing drawable left is skipped. `repaired`
counts features changed by any rule above, `skipped` features left out. Codes are stripped and upper-cased, as
planning/postcode.py writes them. Parsing is pure; `load_boundaries` reads the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from homeshore.planning.map_model import AreaShape, Boundaries, Point, Polygon, Ring

_PROPERTIES_SHOWN = 10  # in the "properties seen" of an error message


class BoundaryError(ValueError):
    """A boundary file that cannot be used at all; str() is one line naming the file and the problem."""


def load_boundaries(path: Path, code_property: str) -> Boundaries:
    """Parse the GeoJSON file at `path`; OSError (missing, unreadable file) is left to the caller."""
    raw = Path(path).read_bytes()
    try:
        document = json.loads(raw.decode("utf-8-sig"))  # RFC 8259: UTF-8; a byte order mark is tolerated
    except UnicodeDecodeError:
        raise BoundaryError(f"{path}: not JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise BoundaryError(f"{path}: not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    return parse_boundaries(document, code_property, name=str(path))


def parse_boundaries(document: object, code_property: str, name: str = "boundaries") -> Boundaries:
    """The outlines of a parsed GeoJSON document, keyed by `code_property`. BoundaryError when the document is
    not a FeatureCollection, no feature has the property, or no feature has anything drawable."""
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        found = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise BoundaryError(f"{name}: not a GeoJSON FeatureCollection (type {found!r})")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise BoundaryError(f"{name}: the FeatureCollection has no features")
    shapes: list[AreaShape] = []
    seen: dict[str, None] = {}  # property names in first-seen order, for the error message
    with_code = repaired = skipped = 0
    for feature in features:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        properties = properties if isinstance(properties, dict) else {}
        seen.update(dict.fromkeys(properties))
        code = _code(properties.get(code_property))
        if code is None:
            skipped += 1
            continue
        with_code += 1
        polygons, changed = _polygons(feature.get("geometry"))
        if not polygons:
            skipped += 1
            continue
        shapes.append(AreaShape(code=code, polygons=tuple(polygons)))
        repaired += changed
    if with_code == 0:
        names = list(seen)
        shown = ", ".join(names[:_PROPERTIES_SHOWN]) + (", ..." if len(names) > _PROPERTIES_SHOWN else "")
        raise BoundaryError(f"{name}: no feature has a {code_property!r} property "
                            f"(properties seen: {shown or 'none'})")
    if not shapes:
        raise BoundaryError(f"{name}: no drawable polygon in any of its {len(features)} features")
    return Boundaries(shapes=tuple(shapes), code_property=code_property, repaired=repaired, skipped=skipped)


def shape_centroid(shape: AreaShape) -> tuple[float, float]:
    """(lat, lon) of the area centroid of all the shape's polygons, holes subtracted.

    Planar, on (lon, lat): scaling longitude by cos(latitude), as an equirectangular projection would, scales
    every area and first moment in x by the same factor, so it cancels out of the centroid. Over a district (a
    few km) the curvature it ignores is metres. A shape with no area falls back to the mean of its vertices."""
    area2 = moment_x = moment_y = 0.0
    vertices: list[Point] = []
    for polygon in shape.polygons:
        for ring in polygon:
            # Orientation makes holes negative: their area and moments subtract from the exterior's.
            for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
                cross = x1 * y2 - x2 * y1
                area2 += cross
                moment_x += (x1 + x2) * cross
                moment_y += (y1 + y2) * cross
            vertices.extend(ring[:-1])
    if abs(area2) < 1e-18:
        return (sum(lat for _, lat in vertices) / len(vertices), sum(lon for lon, _ in vertices) / len(vertices))
    return moment_y / (3 * area2), moment_x / (3 * area2)


def _code(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    code = str(value).strip().upper()
    return code or None


def _polygons(geometry: object) -> tuple[list[Polygon], bool]:
    """The drawable polygons of a geometry and whether any rule changed it."""
    if not isinstance(geometry, dict):
        return [], False
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        raw = [coordinates]
    elif kind == "MultiPolygon":
        raw = coordinates if isinstance(coordinates, list) else []
    elif kind == "GeometryCollection":
        members = geometry.get("geometries")
        polygons: list[Polygon] = []
        for member in members if isinstance(members, list) else ():
            found, _ = _polygons(member)
            polygons.extend(found)
        return polygons, True  # flattened, whatever it held
    else:  # points and lines have no area; unknown types nothing to draw
        return [], False
    polygons = []
    changed = False
    for rings in raw:
        polygon, polygon_changed = _polygon(rings)
        changed |= polygon_changed
        if polygon is not None:
            polygons.append(polygon)
    return polygons, changed or _members_overlap(polygons)


def _polygon(rings: object) -> tuple[Polygon | None, bool]:
    if not isinstance(rings, list) or not rings:
        return None, True
    exterior, changed = _ring(rings[0], hole=False)
    if exterior is None:
        return None, True
    cleaned = [exterior]
    for raw in rings[1:]:
        hole, hole_changed = _ring(raw, hole=True)
        changed |= hole_changed
        if hole is not None:
            cleaned.append(hole)
    return tuple(cleaned), changed


def _ring(raw: object, hole: bool) -> tuple[Ring | None, bool]:
    """The repaired ring, or None when it is unusable, and whether a rule changed it."""
    if not isinstance(raw, list):
        return None, True
    points: list[Point] = []
    changed = False
    for position in raw:
        point = _point(position)
        if point is None:
            return None, True
        if points and point == points[-1]:
            changed = True
            continue
        points.append(point)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()  # work on the open ring; closed again below
    elif points:
        changed = True  # was open
    if len(points) < 3:
        return None, True
    if all(_cross(points[0], points[1], point) == 0.0 for point in points[2:]):
        return None, True  # all on one line: nothing to fill
    area2 = _signed_area2(points)
    if area2 != 0.0 and (area2 > 0) == hole:  # counter-clockwise is positive; a figure-of-eight can be neither
        points.reverse()  # not counted as a repair: GeoJSON before RFC 7946 had no winding order (see above)
    points.append(points[0])
    if _self_intersects(points):
        changed = True
    return tuple(points), changed


def _point(position: object) -> Point | None:
    if not isinstance(position, (list, tuple)) or len(position) < 2:
        return None
    lon, lat = position[0], position[1]
    for value in (lon, lat):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        return None
    return (float(lon), float(lat))


def _signed_area2(points: list[Point]) -> float:
    """Twice the signed area of an open ring (shoelace): positive when counter-clockwise."""
    total = 0.0
    previous = points[-1]
    for point in points:
        total += previous[0] * point[1] - point[0] * previous[1]
        previous = point
    return total


def _self_intersects(ring: list[Point]) -> bool:
    """Whether two edges of a closed ring cross or touch other than at their shared vertex, or two consecutive
    edges fold back over each other (a spike). A sweep over x: each edge is checked only against the edges whose
    x-range overlaps it, which for an outline is a handful rather than all of them."""
    edges = len(ring) - 1
    x_max = [max(ring[i][0], ring[i + 1][0]) for i in range(edges)]
    order = sorted(range(edges), key=lambda i: min(ring[i][0], ring[i + 1][0]))
    active: list[int] = []
    for i in order:
        a, b = ring[i], ring[i + 1]
        x_min = min(a[0], b[0])
        active = [j for j in active if x_max[j] >= x_min]
        y_low, y_high = min(a[1], b[1]), max(a[1], b[1])
        for j in active:
            c, d = ring[j], ring[j + 1]
            if max(c[1], d[1]) < y_low or min(c[1], d[1]) > y_high:
                continue
            gap = abs(i - j)
            if gap == 1 or gap == edges - 1:
                # Adjacent edges share a vertex; they are wrong only if they overlap along a line.
                shared = a if a in (c, d) else b
                u = b if shared == a else a
                v = d if shared == c else c
                if _cross(shared, u, v) == 0.0 and ((u[0] - shared[0]) * (v[0] - shared[0])
                                                    + (u[1] - shared[1]) * (v[1] - shared[1])) > 0:
                    return True
            elif _segments_meet(a, b, c, d):
                return True
        active.append(i)
    return False


def _members_overlap(polygons: list[Polygon]) -> bool:
    """Whether the exteriors of two polygons meet (cross, touch) or one has a vertex inside the other."""
    boxes = [_box(polygon[0]) for polygon in polygons]
    for i in range(len(polygons)):
        for j in range(i + 1, len(polygons)):
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[i], boxes[j]
            if ax1 < bx0 or bx1 < ax0 or ay1 < by0 or by1 < ay0:
                continue
            a, b = polygons[i][0], polygons[j][0]
            if (_rings_meet(a, b) or any(_inside(point, b) for point in a if _in_box(point, boxes[j]))
                    or any(_inside(point, a) for point in b if _in_box(point, boxes[i]))):
                return True
    return False


def _box(ring: Ring) -> tuple[float, float, float, float]:
    xs, ys = [x for x, _ in ring], [y for _, y in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _rings_meet(first: Ring, second: Ring) -> bool:
    """Whether an edge of one ring shares a point with an edge of the other: the sweep of _self_intersects."""
    # Only edges that reach into the overlap of the two rings' boxes can meet.
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = _box(first), _box(second)
    window = (max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1))
    edges = [(p, q, tag) for tag, ring in enumerate((first, second)) for p, q in zip(ring, ring[1:])
             if _edge_reaches(p, q, window)]
    edges.sort(key=lambda edge: min(edge[0][0], edge[1][0]))
    active: list[tuple[Point, Point, int]] = []
    for a, b, ring in edges:
        x_min = min(a[0], b[0])
        active = [edge for edge in active if max(edge[0][0], edge[1][0]) >= x_min]
        if any(other != ring and _segments_meet(a, b, c, d) for c, d, other in active):
            return True
        active.append((a, b, ring))
    return False


def _edge_reaches(p: Point, q: Point, box: tuple[float, float, float, float]) -> bool:
    return (min(p[0], q[0]) <= box[2] and max(p[0], q[0]) >= box[0]
            and min(p[1], q[1]) <= box[3] and max(p[1], q[1]) >= box[1])


def _in_box(point: Point, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _inside(point: Point, ring: Ring) -> bool:
    """Whether `point` is strictly inside `ring` (ray casting; a point on the boundary is not inside)."""
    if any(_cross(p, q, point) == 0.0 and _within(p, q, point) for p, q in zip(ring, ring[1:])):
        return False
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _cross(o: Point, p: Point, q: Point) -> float:
    return (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0])


def _segments_meet(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segments ab and cd share at least one point (orientation test, collinear cases included)."""
    d1, d2, d3, d4 = _cross(a, b, c), _cross(a, b, d), _cross(c, d, a), _cross(c, d, b)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return ((d1 == 0 and _within(a, b, c)) or (d2 == 0 and _within(a, b, d))
            or (d3 == 0 and _within(c, d, a)) or (d4 == 0 and _within(c, d, b)))


def _within(p: Point, q: Point, r: Point) -> bool:
    """Whether r, collinear with pq, lies on the segment pq."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

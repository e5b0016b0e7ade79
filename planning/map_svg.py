"""map.svg: the planner's map as one SVG document (pure: MapData in, text out).

What is drawn, from the published records only (planning/map_model.py), so nothing here can show a figure the
privacy rules removed; on top of that, a suppressed row's fields are never read beyond its code:
- measured areas filled by their `eligible_pct` class (CLASSES: viridis, 5 classes; viridis stays ordered in
  lightness for the common colour-vision deficiencies and in greyscale print);
- areas with fewer than MIN_HOMES homes hatched, "not enough homes", with no figure in any text or attribute;
- Ofcom prior areas dotted in their class colour with a dashed outline, "estimate (Ofcom), not measured";
- boundary areas without a row light grey; without boundaries, circles at the areas' centroids whose area is
  proportional to homes tested (never a point per home);
- training hubs with their reach ring, a legend and the attribution lines.
Each area is one <path> (all shapes sharing its code, fill-rule evenodd since self-intersecting rings are kept)
with a <title>: the native tooltip, which map.html also shows in a side panel.

Size: Great Britain's 2,736 districts are ~200,000 positions. Coordinates are written to 0.1 px and a position
closer than MIN_STEP_PX to the last one kept is dropped (invisible at any zoom a planner uses), which keeps the
document near 2 MB and the rendering near 0.2 s; a ring left with fewer than 3 positions is dropped, and an area
left with nothing (a city-centre district at country scale) is drawn as a small marker so it stays visible.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, replace
from typing import Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

from homeshore.planning.map_model import MEASURED, OFCOM_PRIOR, AreaRow, HubTeam, MapData, Polygon
from homeshore.planning.map_projection import KM_PER_DEGREE, Projection, fit
from homeshore.planning.privacy import MIN_HOMES


@dataclass(frozen=True)
class ColourClass:
    """eligible_pct in [low_pct, high_pct) (the last class includes 100)."""

    low_pct: float
    high_pct: float
    colour: str

    @property
    def label(self) -> str:
        return f"{self.low_pct:g}–{self.high_pct:g}%"


# matplotlib's viridis at 0, 0.25, 0.5, 0.75 and 1: dark (few eligible) to light (most eligible).
CLASSES: tuple[ColourClass, ...] = (
    ColourClass(0.0, 20.0, "#440154"),
    ColourClass(20.0, 40.0, "#3b528b"),
    ColourClass(40.0, 60.0, "#21918c"),
    ColourClass(60.0, 80.0, "#5ec962"),
    ColourClass(80.0, 100.0, "#fde725"),
)
NO_DATA_COLOUR = "#dddddd"  # not in viridis, so "no homes tested" never reads as a class
HATCH_COLOUR = "#6e6e6e"
OUTLINE_COLOUR = "#ffffff"
OFCOM_OUTLINE_COLOUR = "#222222"
HUB_COLOUR = "#000000"
TEXT_COLOUR = "#1a1a1a"
FONT_FAMILY = "Arial, Helvetica, 'Liberation Sans', sans-serif"  # installed fonts only: nothing is fetched

OFCOM_LABEL = "estimate (Ofcom), not measured"
SUPPRESSED_LABEL = f"not enough homes (fewer than {MIN_HOMES})"
NO_DATA_LABEL = "no homes tested"
LEVEL_NAMES = {"district": "postcode district", "area": "postcode area", "sector": "postcode sector"}

MARGIN_PX = 10
TITLE_BAND_PX = 56
LEGEND_WIDTH_PX = 260
ATTRIBUTION_FONT_PX = 10
ATTRIBUTION_LINE_PX = 13
MIN_STEP_PX = 0.5  # positions closer than this to the last one kept are dropped
SYMBOL_MAX_RADIUS_PX = 22.0  # the area with the most homes; others scale by sqrt(homes) (circle area ∝ homes)
FIXED_RADIUS_PX = 4.0  # suppressed and Ofcom symbols, markers for areas too small to draw
GB_BOUNDS = (49.8, -8.7, 60.9, 1.8)  # (min_lat, min_lon, max_lat, max_lon), when nothing can be placed
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def class_index(eligible_pct: float | None) -> int | None:
    """The CLASSES index of a share (below 0 counts as the first class, above 100 as the last); None if absent."""
    if eligible_pct is None or not math.isfinite(eligible_pct):
        return None
    index = 0
    for i, colour_class in enumerate(CLASSES):
        if eligible_pct >= colour_class.low_pct:
            index = i
    return index


def render_svg(data: MapData, width_px: int = 900, height_px: int = 1100) -> str:
    """A complete <svg> document (no XML declaration, so it can be embedded in HTML as it is). Raises
    ProjectionError for a box too small to hold the map beside its legend."""
    attribution = _wrapped(data.attribution, width_px)
    footer_px = ATTRIBUTION_LINE_PX * len(attribution) + MARGIN_PX
    box = (MARGIN_PX, TITLE_BAND_PX, width_px - LEGEND_WIDTH_PX - MARGIN_PX, height_px - TITLE_BAND_PX - footer_px)
    projection = map_projection(data, box)
    symbols = data.boundaries is None
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height_px}" '
           f'viewBox="0 0 {width_px} {height_px}" font-family={_attr(FONT_FAMILY)} fill="{TEXT_COLOUR}" '
           f'role="img" aria-labelledby="map-title">',
           f'<title id="map-title">{_text(_title(data))}</title>',
           _definitions(box),
           f'<rect width="{width_px}" height="{height_px}" fill="#ffffff"/>',
           '<g id="map" clip-path="url(#map-clip)">']
    out.extend(_symbols(data, projection) if symbols else _areas(data, projection))
    out.extend(_hubs(data.hubs, projection))
    out.append("</g>")
    out.extend(_heading(data))
    out.extend(_legend(width_px - LEGEND_WIDTH_PX + MARGIN_PX, TITLE_BAND_PX, symbols, bool(data.hubs)))
    top = height_px - footer_px + ATTRIBUTION_LINE_PX - 3
    out.append(f'<g id="attribution" font-size="{ATTRIBUTION_FONT_PX}" fill="#555555">')
    out.extend(f'<text x="{MARGIN_PX}" y="{top + i * ATTRIBUTION_LINE_PX}">{_text(line)}</text>'
               for i, line in enumerate(attribution))
    out.append("</g></svg>")
    return "\n".join(out)


def map_projection(data: MapData, box: tuple[float, float, float, float]) -> Projection:
    """The projection fitting what the map places (boundaries, or row centroids, and hubs with their reach)
    into box = (left, top, width, height) in px."""
    left, top, width, height = box
    projection = fit(_bounds(data), width, height, MARGIN_PX)
    return replace(projection, left_px=projection.left_px + left, top_px=projection.top_px + top)


def hover_text(row: AreaRow) -> str:
    """An area's tooltip: its code and the figures it may show (none for a suppressed row)."""
    if row.suppressed:
        return f"{row.area}: {SUPPRESSED_LABEL}; no figures are shown"
    if row.source == OFCOM_PRIOR:
        share = "no figure" if row.eligible_pct is None else f"{_pct(row.eligible_pct)} of premises"
        return f"{row.area}: {OFCOM_LABEL}\nEstimated share reaching the download minimum: {share}"
    lines = [row.area,
             f"{_count(row.homes)} homes tested, {_count(row.eligible)} eligible ({_pct(row.eligible_pct)})"]
    if row.not_yet_known:
        lines.append(f"{_count(row.not_yet_known)} not yet known (too few tests)")
    lines += [f"Download: median {_mbps(row.download_median_mbps)}, 10th percentile {_mbps(row.download_p10_mbps)}",
              f"Upload: median {_mbps(row.upload_median_mbps)}",
              f"Call quality: median MOS {_number(row.mos_median)}",
              f"On Wi-Fi: {_pct(row.wifi_pct)} of homes",
              "Counts rounded to the nearest 5"]
    return "\n".join(lines)


def hub_text(team: HubTeam) -> str:
    homes = (f"fewer than {MIN_HOMES} eligible homes" if team.eligible_homes is None
             else f"{team.eligible_homes} eligible homes")
    return (f"Training hub {team.hub.label}, reach {_number(team.hub.reach_km)} km\n"
            f"{homes} within reach\nteam of {team.team_size} {team.team_verdict}")


# --- drawing -----------------------------------------------------------------------------------------------


def _areas(data: MapData, projection: Projection) -> list[str]:
    assert data.boundaries is not None
    rows = _rows_by_code(data.rows)
    polygons: dict[str, list[Polygon]] = {}
    for shape in data.boundaries.shapes:
        polygons.setdefault(shape.code, []).extend(shape.polygons)
    unshaped, shaped = [], []
    for code, members in polygons.items():
        row = rows.get(code)
        path = _path_data(members, projection)
        if not path:  # too small to draw at this scale: a marker where it lies, if it has anything to show
            if row is not None:
                lat_lon = data.centroids.get(code) or (members[0][0][0][1], members[0][0][0][0])
                unshaped.append(_circle(row, projection.point(*lat_lon), FIXED_RADIUS_PX))
            continue
        shaped.append(f'<path data-area={_attr(code)} {_style(row)} d="{path}">'
                      f'<title>{_text(hover_text(row) if row else f"{code}: {NO_DATA_LABEL}")}</title></path>')
    # Rows the boundary file has no shape for still appear, as markers at their centroids.
    for code, row in rows.items():
        if code not in polygons and code in data.centroids:
            unshaped.append(_circle(row, projection.point(*data.centroids[code]), FIXED_RADIUS_PX))
    return [f'<g id="areas" stroke="{OUTLINE_COLOUR}" stroke-width="0.3" stroke-linejoin="round" '
            f'fill-rule="evenodd">', *shaped, *unshaped, "</g>"]


def _symbols(data: MapData, projection: Projection) -> list[str]:
    """Proportional circles: radius ∝ sqrt(homes), so the circle's area is proportional to homes tested."""
    rows = [row for row in _rows_by_code(data.rows).values() if row.area in data.centroids]
    measured = [row.homes for row in rows if _is_measured(row) and row.homes]
    most = max(measured, default=1)
    placed = []
    for row in rows:
        if _is_measured(row) and row.homes:
            radius = SYMBOL_MAX_RADIUS_PX * math.sqrt(row.homes / most)
        else:
            radius = FIXED_RADIUS_PX if row.suppressed else 1.5 * FIXED_RADIUS_PX
        placed.append((radius, row))
    placed.sort(key=lambda item: (-item[0], item[1].area))  # large circles first, so none hides a smaller one
    circles = [_circle(row, projection.point(*data.centroids[row.area]), radius) for radius, row in placed]
    return [f'<g id="areas" stroke="{OUTLINE_COLOUR}" stroke-width="0.8" fill-rule="evenodd">', *circles, "</g>"]


def _circle(row: AreaRow, centre: tuple[float, float], radius: float) -> str:
    x, y = centre
    return (f'<circle data-area={_attr(row.area)} {_style(row)} cx="{x:.1f}" cy="{y:.1f}" r="{radius:.2f}">'
            f'<title>{_text(hover_text(row))}</title></circle>')


def _style(row: AreaRow | None) -> str:
    """Fill and class attributes of an area: hatched, dotted (Ofcom), a class colour or no data."""
    if row is None:
        return f'class="area no-data" fill="{NO_DATA_COLOUR}"'
    if row.suppressed:
        return f'class="area suppressed" fill="url(#hatch)" stroke="{HATCH_COLOUR}"'
    index = class_index(row.eligible_pct)
    if row.source == OFCOM_PRIOR:
        fill = NO_DATA_COLOUR if index is None else f"url(#ofcom-{index})"
        return (f'class="area ofcom-prior" fill="{fill}" stroke="{OFCOM_OUTLINE_COLOUR}" stroke-width="0.8" '
                f'stroke-dasharray="2.5 1.5"')
    if index is None:
        return f'class="area measured" fill="{NO_DATA_COLOUR}"'
    return f'class="area measured class-{index}" fill="{CLASSES[index].colour}"'


def _hubs(teams: Sequence[HubTeam], projection: Projection) -> list[str]:
    out = []
    for team in teams:
        x, y = projection.point(team.hub.lat, team.hub.lon)
        out.append(f'<g class="hub"><title>{_text(hub_text(team))}</title>'
                   f'<circle class="reach" cx="{x:.1f}" cy="{y:.1f}" r="{projection.km_to_px(team.hub.reach_km):.2f}" '
                   f'fill="none" stroke="{HUB_COLOUR}" stroke-width="1.5" stroke-dasharray="6 3"/>'
                   f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" '
                   f'transform="rotate(45 {x:.1f} {y:.1f})" fill="#ffffff" stroke="{HUB_COLOUR}" stroke-width="2"/>'
                   f'<text x="{x + 9:.1f}" y="{y - 7:.1f}" font-size="12" font-weight="bold" stroke="#ffffff" '
                   f'stroke-width="3" paint-order="stroke">{_text(team.hub.label)}</text></g>')
    return out


def _heading(data: MapData) -> list[str]:
    level = LEVEL_NAMES.get(data.level, data.level)
    return [f'<text x="{MARGIN_PX}" y="26" font-size="20" font-weight="bold">{_text(_title(data))}</text>',
            f'<text x="{MARGIN_PX}" y="45" font-size="12" fill="#444444">Share of tested homes eligible for '
            f'homeworking, by {_text(level)}</text>']


def _legend(x: float, y: float, symbols: bool, hubs: bool) -> list[str]:
    out = [f'<g id="legend" font-size="13" transform="translate({x} {y})">',
           '<text x="0" y="13" font-size="14" font-weight="bold">Homes eligible</text>',
           '<text x="0" y="29" font-size="11" fill="#444444">measured, % of homes tested</text>']
    row_y = 38
    for colour_class in reversed(CLASSES):
        out.append(_swatch(row_y, f'fill="{colour_class.colour}"', colour_class.label))
        row_y += 24
    row_y += 8
    out.append(_swatch(row_y, 'fill="url(#hatch)"', "not enough homes", f"fewer than {MIN_HOMES}: no figures shown"))
    row_y += 36
    out.append(_swatch(row_y, f'fill="url(#ofcom-{len(CLASSES) // 2})" stroke-dasharray="2.5 1.5"',
                       OFCOM_LABEL, "dots in the class colour"))
    row_y += 36
    if not symbols:
        out.append(_swatch(row_y, f'fill="{NO_DATA_COLOUR}"', NO_DATA_LABEL))
    else:
        out.append(f'<circle cx="11" cy="{row_y + 8}" r="8" fill="{CLASSES[2].colour}"/>'
                   f'<text x="30" y="{row_y + 13}">circle area ∝ homes tested</text>')
    row_y += 24
    if hubs:
        out.append(f'<rect x="6" y="{row_y + 3}" width="10" height="10" transform="rotate(45 11 {row_y + 8})" '
                   f'fill="#ffffff" stroke="{HUB_COLOUR}" stroke-width="2"/>'
                   f'<text x="30" y="{row_y + 13}">training hub</text>'
                   f'<text x="30" y="{row_y + 27}" font-size="11" fill="#444444">dashed ring: its reach</text>')
    out.append("</g>")
    return out


def _swatch(y: float, fill: str, label: str, note: str = "") -> str:
    text = (f'<rect x="0" y="{y}" width="22" height="16" {fill} stroke="#666666" stroke-width="0.5"/>'
            f'<text x="30" y="{y + 13}">{_text(label)}</text>')
    if note:
        text += f'<text x="30" y="{y + 27}" font-size="11" fill="#444444">{_text(note)}</text>'
    return text


def _definitions(box: tuple[float, float, float, float]) -> str:
    left, top, width, height = box
    patterns = [f'<clipPath id="map-clip"><rect x="{left}" y="{top}" width="{width}" height="{height}"/></clipPath>',
                '<pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
                'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
                f'<rect width="2" height="6" fill="{HATCH_COLOUR}"/></pattern>']
    for index, colour_class in enumerate(CLASSES):
        patterns.append(f'<pattern id="ofcom-{index}" patternUnits="userSpaceOnUse" width="5" height="5">'
                        '<rect width="5" height="5" fill="#ffffff"/>'
                        f'<circle cx="2.5" cy="2.5" r="1.6" fill="{colour_class.colour}"/></pattern>')
    return "<defs>" + "".join(patterns) + "</defs>"


# --- geometry ----------------------------------------------------------------------------------------------


def _path_data(polygons: Iterable[Polygon], projection: Projection) -> str:
    """SVG path data of every ring, in tenths of a pixel. Inlined arithmetic: this loop sees every position."""
    x_scale = projection.cos_mid_lat * projection.px_per_degree
    y_scale = projection.px_per_degree
    west, north, left, top = projection.west_lon, projection.north_lat, projection.left_px, projection.top_px
    step = MIN_STEP_PX * 10  # in tenths
    parts = []
    for polygon in polygons:
        for ring in polygon:
            kept: list[tuple[int, int]] = []
            last_x = last_y = None
            for lon, lat in ring:
                x = round((left + (lon - west) * x_scale) * 10)
                y = round((top + (north - lat) * y_scale) * 10)
                if last_x is None or abs(x - last_x) >= step or abs(y - last_y) >= step:
                    kept.append((x, y))
                    last_x, last_y = x, y
            if len(kept) > 1 and kept[-1] == kept[0]:
                kept.pop()  # "Z" closes the ring
            if len(kept) < 3:
                continue
            points = " ".join(f"{x / 10:.1f},{y / 10:.1f}" for x, y in kept)
            parts.append(f"M{points}Z")
    return "".join(parts)


def _bounds(data: MapData) -> tuple[float, float, float, float]:
    lats: list[float] = []
    lons: list[float] = []
    if data.boundaries is not None:
        for shape in data.boundaries.shapes:
            for polygon in shape.polygons:
                for lon, lat in polygon[0] if polygon else ():  # holes lie inside their exterior
                    lats.append(lat)
                    lons.append(lon)
    else:
        for row in data.rows:
            if row.area in data.centroids:
                lat, lon = data.centroids[row.area]
                lats.append(lat)
                lons.append(lon)
    for team in data.hubs:
        reach_lat = team.hub.reach_km / KM_PER_DEGREE
        reach_lon = reach_lat / max(0.01, math.cos(math.radians(team.hub.lat)))
        lats += [team.hub.lat - reach_lat, team.hub.lat + reach_lat]
        lons += [team.hub.lon - reach_lon, team.hub.lon + reach_lon]
    if not lats:
        return GB_BOUNDS
    return min(lats), min(lons), max(lats), max(lons)


# --- text --------------------------------------------------------------------------------------------------


def _rows_by_code(rows: Iterable[AreaRow]) -> dict[str, AreaRow]:
    by_code: dict[str, AreaRow] = {}
    for row in rows:
        by_code.setdefault(row.area, row)
    return by_code


def _is_measured(row: AreaRow) -> bool:
    return row.source == MEASURED and not row.suppressed


def _title(data: MapData) -> str:
    return data.title or "Where can we recruit a team?"


def _wrapped(lines: Iterable[str], width_px: int) -> list[str]:
    # ~0.55 em per character in a sans-serif font: a conservative wrap width.
    columns = max(20, int((width_px - 2 * MARGIN_PX) / (ATTRIBUTION_FONT_PX * 0.55)))
    return [part for line in lines for part in textwrap.wrap(line, columns) or [""]]


def _text(value: str) -> str:
    """Escaped character data, without the control characters XML 1.0 cannot carry (a code from a user's file)."""
    return escape(_XML_INVALID.sub("\ufffd", value))


def _attr(value: str) -> str:
    """A quoted, escaped attribute value."""
    return quoteattr(_XML_INVALID.sub("\ufffd", value))


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{_number(value)}%"


def _mbps(value: float | None) -> str:
    return "not measured" if value is None else f"{_number(value)} Mbit/s"


def _number(value: float | None) -> str:
    """Figures are rounded upstream (1-2 decimals); this only drops binary noise and trailing zeros."""
    if value is None:
        return "not measured"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"

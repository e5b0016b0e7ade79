"""map.svg: the planner's map as one SVG document (pure: MapData in, text out).

What is drawn, from the published records only (planning/map_model.py), so nothing here can show a figure the
privacy rules removed; on top of that, a suppressed row's fields are never read beyond its code:
- measured areas filled by their `eligible_pct` class (CLASSES: viridis, 5 classes; viridis stays ordered in
  lightness for the common colour-vision deficiencies and in greyscale print);
- areas with fewer than MIN_HOMES homes hatched, "not enough homes", with no figure in any text or attribute;
- Ofcom prior areas dotted in their class colour with a dashed outline, "estimate (Ofcom), not measured";
- boundary areas without a row light grey; without boundaries, circles at the areas' centroids whose area is
  proportional to homes tested (never a point per home);
- training hubs as an outlined ring and cross (the area under them stays visible) with their reach ring, a
  legend and the attribution lines;
- at the postcode-area level, an area measured in fewer than half of its districts is drawn lighter, and its
  tooltip says how many districts were measured.
Extent (`MapData.extent`): by default the bounding box of the measured areas and the hubs' reach rings plus a
margin, so ten districts fill the map rather than a few pixels of the country, with an inset of the whole
country marking that box; "all" shows every boundary; a box of degrees shows that box.
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

from homeshore.planning.map_model import EXTENT_ALL, EXTENT_DATA, MEASURED, OFCOM_PRIOR, AreaRow, HubTeam, MapData, \
    Polygon
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
HUB_RING_PX = 6
FIXED_RADIUS_PX = 4.0  # suppressed and Ofcom symbols, markers for areas too small to draw
GB_BOUNDS = (49.8, -8.7, 60.9, 1.8)  # (min_lat, min_lon, max_lat, max_lon), when nothing can be placed
DATA_MARGIN_SHARE = 0.08  # the data extent grows by this share of its span on every side...
DATA_MARGIN_MIN_KM = 2.0  # ...and by at least this, so a single district has its neighbours around it
INSET_HEIGHT_PX = 300
INSET_WHEN_SHOWN_BELOW = 0.5  # share of the country's box the map shows, below which it has an inset
MIN_HEIGHT_PX = 400
LEGEND_MIN_HEIGHT_PX = 760  # the legend column: legend and inset
MAX_HEIGHT_PX = 1100
INSET_FILL = "#c8c8c8"
EXTENT_COLOUR = "#d62728"  # the box the main map shows, in the inset
INSET_MIN_STEP_PX = 1.0
PARTIAL_SHARE = 0.5  # an area with fewer than this share of its districts measured is drawn lighter
PARTIAL_OPACITY = 0.45
PARTIAL_LABEL = "under half its districts measured"
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


def render_svg(data: MapData, width_px: int = 900, height_px: int | None = None, standalone: bool = True) -> str:
    """A complete <svg> document (no XML declaration, so it can be embedded in HTML as it is). Not `standalone`
    (in map.html, which has its own heading and draws the legend apart, see render_legend): the map alone, on
    the whole width. Without `height_px`, the height that fits the map's extent at this width (within
    MIN_HEIGHT_PX..MAX_HEIGHT_PX), so a wide extent is not letterboxed in a tall page. Raises ProjectionError
    for a box too small to hold the map."""
    attribution = _wrapped(data.attribution, width_px)
    footer_px = ATTRIBUTION_LINE_PX * len(attribution) + MARGIN_PX
    legend_px = LEGEND_WIDTH_PX if standalone else MARGIN_PX
    top_px = TITLE_BAND_PX if standalone else MARGIN_PX
    if height_px is None:
        height_px = fitted_height(data, width_px - legend_px - MARGIN_PX, top_px + footer_px,
                                  LEGEND_MIN_HEIGHT_PX if standalone else MIN_HEIGHT_PX)
    box = (MARGIN_PX, top_px, width_px - legend_px - MARGIN_PX, height_px - top_px - footer_px)
    projection = map_projection(data, box)
    symbols = data.boundaries is None
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height_px}" '
           f'viewBox="0 0 {width_px} {height_px}" font-family={_attr(FONT_FAMILY)} fill="{TEXT_COLOUR}" '
           f'role="img" aria-labelledby="map-title">',
           f'<title id="map-title">{_text(_title(data))}</title>',
           _definitions(box),
           f'<rect width="{width_px}" height="{height_px}" fill="#ffffff"/>',
           '<g id="map" clip-path="url(#map-clip)">']
    out.extend(_symbols(data, projection) if symbols else _areas(data, projection, box))
    out.extend(_hubs(data.hubs, projection))
    out.append("</g>")
    if standalone:
        out.extend(_heading(data))
        out.extend(_legend_column(data, width_px - LEGEND_WIDTH_PX + MARGIN_PX, TITLE_BAND_PX,
                                  box[1] + box[3] - TITLE_BAND_PX))
    top = height_px - footer_px + ATTRIBUTION_LINE_PX - 3
    out.append(f'<g id="attribution" font-size="{ATTRIBUTION_FONT_PX}" fill="#555555">')
    out.extend(f'<text x="{MARGIN_PX}" y="{top + i * ATTRIBUTION_LINE_PX}">{_text(line)}</text>'
               for i, line in enumerate(attribution))
    out.append("</g></svg>")
    return "\n".join(out)


def fitted_height(data: MapData, map_width_px: float, other_px: float, min_px: int) -> int:
    """The document height whose map box, `map_width_px` wide, holds the extent with no room to spare."""
    min_lat, min_lon, max_lat, max_lon = map_bounds(data)
    cos_mid = max(0.01, math.cos(math.radians((min_lat + max_lat) / 2)))
    span_x, span_y = max(1e-6, (max_lon - min_lon) * cos_mid), max(1e-6, max_lat - min_lat)
    inner = map_width_px - 2 * MARGIN_PX
    return int(min(MAX_HEIGHT_PX, max(min_px, other_px + inner * span_y / span_x + 2 * MARGIN_PX)))


def render_legend(data: MapData) -> str:
    """The legend column (legend and, for a zoomed map, the country inset) as an <svg> of its own: map.html
    places it beside the map on a wide screen and below it on a narrow one. For inline use in the same page as
    render_svg's map, whose patterns (hatching, Ofcom dots) it uses rather than defining them twice."""
    lines, height = _legend(0, 0, data.boundaries is None, bool(data.hubs), _has_partial(data))
    if _shows_inset(data):
        lines += _inset(data, 0, height + 20, LEGEND_WIDTH_PX - 2 * MARGIN_PX, INSET_HEIGHT_PX)
        height += 20 + INSET_HEIGHT_PX
    width = LEGEND_WIDTH_PX - MARGIN_PX
    return "\n".join([f'<svg id="legend-svg" width="{width}" height="{height + 4:.0f}" '
                      f'viewBox="0 0 {width} {height + 4:.0f}" font-family={_attr(FONT_FAMILY)} '
                      f'fill="{TEXT_COLOUR}" role="img" aria-label="Legend">', *lines, "</svg>"])


def map_projection(data: MapData, box: tuple[float, float, float, float]) -> Projection:
    """The projection fitting the map's extent (map_bounds) into box = (left, top, width, height) in px."""
    left, top, width, height = box
    projection = fit(map_bounds(data), width, height, MARGIN_PX)
    return replace(projection, left_px=projection.left_px + left, top_px=projection.top_px + top)


def map_bounds(data: MapData) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) the map shows: the box given, the whole country (every boundary,
    else every row placed; with the hubs' reach), or by default the measured areas (suppressed ones included:
    homes were tested there) and the hubs' reach rings, plus a margin. Ofcom estimates do not count as data."""
    if isinstance(data.extent, tuple):
        return data.extent
    if data.extent == EXTENT_DATA:
        measured = {row.area for row in data.rows if row.source == MEASURED}
        lats, lons = _placed(data, measured)
        if lats:
            _add_hubs(data.hubs, lats, lons)
            min_lat, min_lon, max_lat, max_lon = min(lats), min(lons), max(lats), max(lons)
            pad_lat = max(DATA_MARGIN_MIN_KM / KM_PER_DEGREE, (max_lat - min_lat) * DATA_MARGIN_SHARE)
            cos_mid = max(0.01, math.cos(math.radians((min_lat + max_lat) / 2)))
            pad_lon = max(DATA_MARGIN_MIN_KM / KM_PER_DEGREE / cos_mid, (max_lon - min_lon) * DATA_MARGIN_SHARE)
            return (max(-90.0, min_lat - pad_lat), min_lon - pad_lon, min(90.0, max_lat + pad_lat),
                    max_lon + pad_lon)
    return _bounds(data)


def hover_text(row: AreaRow, coverage: tuple[int, int] | None = None) -> str:
    """An area's tooltip: its code and the figures it may show (none for a suppressed row); at the area level,
    `coverage` = (districts measured, districts in the area)."""
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
    if coverage is not None:
        lines.insert(1, coverage_text(coverage))
    return "\n".join(lines)


def coverage_text(coverage: tuple[int, int]) -> str:
    measured, total = coverage
    return f"{measured} of {total} district{'' if total == 1 else 's'} measured"


def is_partial(coverage: tuple[int, int] | None) -> bool:
    """Fewer than PARTIAL_SHARE of the area's districts measured: its colour stands for a part of it."""
    return coverage is not None and coverage[0] < PARTIAL_SHARE * coverage[1]


def hub_text(team: HubTeam) -> str:
    homes = (f"fewer than {MIN_HOMES} eligible homes" if team.eligible_homes is None
             else f"{team.eligible_homes} eligible homes")
    return (f"Training hub {team.hub.label}, reach {_number(team.hub.reach_km)} km\n"
            f"{homes} within reach\nteam of {team.team_size} {team.team_verdict}")


# --- drawing -----------------------------------------------------------------------------------------------


def _areas(data: MapData, projection: Projection, box: tuple[float, float, float, float]) -> list[str]:
    """Every boundary area with a ring inside the map's box (rings wholly outside it are left out of the
    document, not only clipped: a zoomed map of GB would otherwise carry the whole country)."""
    assert data.boundaries is not None
    rows = _rows_by_code(data.rows)
    polygons: dict[str, list[Polygon]] = {}
    for shape in data.boundaries.shapes:
        polygons.setdefault(shape.code, []).extend(shape.polygons)
    unshaped, shaped = [], []
    for code, members in polygons.items():
        row = rows.get(code)
        path, outside = _path_data(members, projection, clip=box)
        if not path:  # too small to draw at this scale: a marker where it lies, if it has anything to show
            if row is not None and not outside:
                lat_lon = data.centroids.get(code) or (members[0][0][0][1], members[0][0][0][0])
                unshaped.append(_circle(row, projection.point(*lat_lon), FIXED_RADIUS_PX,
                                        data.coverage.get(code)))
            continue
        coverage = data.coverage.get(code)
        text = hover_text(row, coverage) if row else f"{code}: {NO_DATA_LABEL}"
        shaped.append(f'<path data-area={_attr(code)} {_style(row, coverage)} d="{path}">'
                      f'<title>{_text(text)}</title></path>')
    # Rows the boundary file has no shape for still appear, as markers at their centroids.
    for code, row in rows.items():
        if code not in polygons and code in data.centroids:
            unshaped.append(_circle(row, projection.point(*data.centroids[code]), FIXED_RADIUS_PX,
                                    data.coverage.get(code)))
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
    circles = [_circle(row, projection.point(*data.centroids[row.area]), radius, data.coverage.get(row.area))
               for radius, row in placed]
    return [f'<g id="areas" stroke="{OUTLINE_COLOUR}" stroke-width="0.8" fill-rule="evenodd">', *circles, "</g>"]


def _circle(row: AreaRow, centre: tuple[float, float], radius: float,
            coverage: tuple[int, int] | None = None) -> str:
    x, y = centre
    return (f'<circle data-area={_attr(row.area)} {_style(row, coverage)} cx="{x:.1f}" cy="{y:.1f}" '
            f'r="{radius:.2f}"><title>{_text(hover_text(row, coverage))}</title></circle>')


def _style(row: AreaRow | None, coverage: tuple[int, int] | None = None) -> str:
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
    if is_partial(coverage):
        return (f'class="area measured partial class-{index}" fill="{CLASSES[index].colour}" '
                f'fill-opacity="{PARTIAL_OPACITY}"')
    return f'class="area measured class-{index}" fill="{CLASSES[index].colour}"'


def _hubs(teams: Sequence[HubTeam], projection: Projection) -> list[str]:
    out = []
    for team in teams:
        x, y = projection.point(team.hub.lat, team.hub.lon)
        out.append(f'<g class="hub"><title>{_text(hub_text(team))}</title>'
                   f'<circle class="reach" cx="{x:.1f}" cy="{y:.1f}" r="{projection.km_to_px(team.hub.reach_km):.2f}" '
                   f'fill="none" stroke="{HUB_COLOUR}" stroke-width="1.5" stroke-dasharray="6 3"/>'
                   f'{_hub_marker(x, y)}<text x="{x + 9:.1f}" y="{y - 7:.1f}" font-size="12" font-weight="bold" stroke="#ffffff" '
                   f'stroke-width="3" paint-order="stroke">{_text(team.hub.label)}</text></g>')
    return out


def _hub_marker(x: float, y: float) -> str:
    """An open ring with four ticks outside it (a crosshair open in the middle), white-edged so it reads on any
    class colour; nothing is filled and nothing crosses the ring, so the area the hub sits in shows through (a
    filled marker hid the hub's own district)."""
    ring = f'cx="{x:.1f}" cy="{y:.1f}" r="{HUB_RING_PX}" fill="none"'
    inner, outer = HUB_RING_PX, HUB_RING_PX + 5  # outside the ring: its inside is the area alone
    ticks = "".join(f"M{x + dx * inner:.1f},{y + dy * inner:.1f}L{x + dx * outer:.1f},{y + dy * outer:.1f}"
                    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)))
    cross = f'd="{ticks}" fill="none"'
    return (f'<g class="hub-marker"><circle {ring} stroke="#ffffff" stroke-width="4"/>'
            f'<path {cross} stroke="#ffffff" stroke-width="3.5"/>'
            f'<circle {ring} stroke="{HUB_COLOUR}" stroke-width="2"/>'
            f'<path {cross} stroke="{HUB_COLOUR}" stroke-width="1.5"/></g>')


def _heading(data: MapData) -> list[str]:
    level = LEVEL_NAMES.get(data.level, data.level)
    return [f'<text x="{MARGIN_PX}" y="26" font-size="20" font-weight="bold">{_text(_title(data))}</text>',
            f'<text x="{MARGIN_PX}" y="45" font-size="12" fill="#444444">Share of tested homes eligible for '
            f'homeworking, by {_text(level)}</text>']


def _legend_column(data: MapData, x: float, y: float, height: float) -> list[str]:
    """The legend, and below it the country inset when the map shows less than the country and there is room."""
    lines, used = _legend(x, y, data.boundaries is None, bool(data.hubs), _has_partial(data))
    inset_height = min(INSET_HEIGHT_PX, height - used - 20)
    if _shows_inset(data) and inset_height >= 80:
        lines += _inset(data, x, y + used + 20, LEGEND_WIDTH_PX - 2 * MARGIN_PX, inset_height)
    return lines


def _legend(x: float, y: float, symbols: bool, hubs: bool, partial: bool = False) -> tuple[list[str], float]:
    """The legend's elements at (x, y) and its height in px."""
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
    if partial:
        out.append(_swatch(row_y, f'fill="{CLASSES[2].colour}" fill-opacity="{PARTIAL_OPACITY}"',
                           "partly measured area", PARTIAL_LABEL))
        row_y += 36
    if hubs:
        out.append(f'{_hub_marker(11, row_y + 8)}<text x="30" y="{row_y + 13}">training hub</text>'
                   f'<text x="30" y="{row_y + 27}" font-size="11" fill="#444444">dashed ring: its reach</text>')
        row_y += 36
    out.append("</g>")
    return out, row_y


def _inset(data: MapData, x: float, y: float, width: float, height: float) -> list[str]:
    """The whole country, small and grey, with a red box where the main map is (`map_bounds`)."""
    projection = fit(_bounds(data, hubs=False), width, height - 20, 4)
    projection = replace(projection, left_px=projection.left_px + x, top_px=projection.top_px + y + 20)
    out = [f'<g id="inset" font-size="11"><text x="{x}" y="{y + 12}" fill="#444444">Where this map is</text>',
           f'<rect x="{x}" y="{y + 20}" width="{width}" height="{height - 20}" fill="#ffffff" stroke="#999999" '
           'stroke-width="0.5"/>']
    if data.boundaries is not None:
        polygons = [polygon[:1] for shape in data.boundaries.shapes for polygon in shape.polygons if polygon]
        path, _ = _path_data(polygons, projection, min_step_px=INSET_MIN_STEP_PX, specks=True)
        out.append(f'<path d="{path}" fill="{INSET_FILL}"/>')
    else:
        out.extend(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="1.5" fill="{INSET_FILL}"/>'
                   for px, py in (projection.point(*data.centroids[row.area]) for row in data.rows
                                  if row.area in data.centroids))
    min_lat, min_lon, max_lat, max_lon = map_bounds(data)
    left, top = projection.point(max_lat, min_lon)
    right, bottom = projection.point(min_lat, max_lon)
    # at least 6 px across, so a city-sized box is still seen
    grow_x, grow_y = max(0.0, (6 - (right - left)) / 2), max(0.0, (6 - (bottom - top)) / 2)
    out.append(f'<rect class="extent" x="{left - grow_x:.1f}" y="{top - grow_y:.1f}" '
               f'width="{right - left + 2 * grow_x:.1f}" height="{bottom - top + 2 * grow_y:.1f}" fill="none" '
               f'stroke="{EXTENT_COLOUR}" stroke-width="2"/></g>')
    return out


def _shows_inset(data: MapData) -> bool:
    """An inset only where the map shows less than half the country (a box around data spread over the whole
    country needs no locating)."""
    if data.extent == EXTENT_ALL:
        return False
    shown, country = map_bounds(data), _bounds(data, hubs=False)

    def size(box: tuple[float, float, float, float]) -> float:
        return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])

    overlap = (max(shown[0], country[0]), max(shown[1], country[1]), min(shown[2], country[2]),
               min(shown[3], country[3]))
    return size(overlap) < INSET_WHEN_SHOWN_BELOW * size(country)


def _has_partial(data: MapData) -> bool:
    return any(is_partial(coverage) for coverage in data.coverage.values())


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


def _path_data(polygons: Iterable[Polygon], projection: Projection, *, min_step_px: float = MIN_STEP_PX,
               clip: tuple[float, float, float, float] | None = None, specks: bool = False) -> tuple[str, bool]:
    """(SVG path data of every ring, in tenths of a pixel; whether every ring lay outside `clip` = (left, top,
    width, height)). A ring outside `clip` is left out; one that collapses below 3 positions is left out too,
    or drawn as a 1-px square with `specks`. Inlined arithmetic: this loop sees every position."""
    x_scale = projection.cos_mid_lat * projection.px_per_degree
    y_scale = projection.px_per_degree
    west, north, left, top = projection.west_lon, projection.north_lat, projection.left_px, projection.top_px
    step = min_step_px * 10  # in tenths
    if clip is not None:
        clip_left, clip_top = clip[0] * 10, clip[1] * 10
        clip_right, clip_bottom = clip_left + clip[2] * 10, clip_top + clip[3] * 10
    parts = []
    outside = clip is not None
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
            if clip is not None and kept:
                xs, ys = [x for x, _ in kept], [y for _, y in kept]
                if max(xs) < clip_left or min(xs) > clip_right or max(ys) < clip_top or min(ys) > clip_bottom:
                    continue
                outside = False
            if len(kept) > 1 and kept[-1] == kept[0]:
                kept.pop()  # "Z" closes the ring
            if len(kept) < 3:
                if specks and kept:
                    parts.append(f"M{kept[0][0] / 10:.1f},{kept[0][1] / 10:.1f}h1v1h-1Z")
                continue
            points = " ".join(f"{x / 10:.1f},{y / 10:.1f}" for x, y in kept)
            parts.append(f"M{points}Z")
    return "".join(parts), outside


def _bounds(data: MapData, hubs: bool = True) -> tuple[float, float, float, float]:
    """The whole country: every boundary (else every row placed), with the hubs' reach when `hubs`."""
    lats, lons = _placed(data, None)
    if hubs:
        _add_hubs(data.hubs, lats, lons)
    if not lats:
        return GB_BOUNDS
    return min(lats), min(lons), max(lats), max(lons)


def _placed(data: MapData, codes: set[str] | None) -> tuple[list[float], list[float]]:
    """Latitudes and longitudes of the outlines (exteriors: holes lie inside them) of `codes` (None: every
    area), and of the centroids of those rows without an outline."""
    lats: list[float] = []
    lons: list[float] = []
    shaped = set()
    if data.boundaries is not None:
        for shape in data.boundaries.shapes:
            if codes is None or shape.code in codes:
                shaped.add(shape.code)
                for polygon in shape.polygons:
                    for lon, lat in polygon[0] if polygon else ():
                        lats.append(lat)
                        lons.append(lon)
    if data.boundaries is None or codes is not None:
        for row in data.rows:
            if (codes is None or row.area in codes) and row.area not in shaped and row.area in data.centroids:
                lat, lon = data.centroids[row.area]
                lats.append(lat)
                lons.append(lon)
    return lats, lons


def _add_hubs(teams: Sequence[HubTeam], lats: list[float], lons: list[float]) -> None:
    for team in teams:
        reach_lat = team.hub.reach_km / KM_PER_DEGREE
        reach_lon = reach_lat / max(0.01, math.cos(math.radians(team.hub.lat)))
        lats += [team.hub.lat - reach_lat, team.hub.lat + reach_lat]
        lons += [team.hub.lon - reach_lon, team.hub.lon + reach_lon]


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

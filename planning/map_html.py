"""map.html: the planner's map as one self-contained page (pure: MapData in, text out).

The page is opened from a shared drive or an e-mail, often offline, so everything is inline: the SVG of
planning/map_svg.py, the CSS and a small script, and a Content-Security-Policy forbids every fetch, in case a
value ever slipped through escaping; the script is allowed by its hash only. Beside the map: a panel that shows
the hovered area's tooltip text (the same <title> text the SVG carries, so the page shows nothing the SVG does
not), the hub teams and the best areas by share eligible. Suppressed areas are not listed, and their rows'
figures are never read.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Sequence

from homeshore.planning.map_model import MEASURED, AreaRow, HubTeam, MapData
from homeshore.planning.map_svg import CLASSES, LEVEL_NAMES, class_index, render_legend, render_svg
from homeshore.planning.privacy import COUNT_ROUNDING, MIN_HOMES

# Shows the hovered element's <title> in the side panel; textContent, never HTML, so no text is interpreted.
SCRIPT = """
(function () {
  var map = document.querySelector("#map-frame svg"), panel = document.getElementById("hover");
  if (!map || !panel) { return; }
  var idle = panel.textContent;
  map.addEventListener("mouseover", function (event) {
    for (var node = event.target; node && node !== map; node = node.parentNode) {
      var title = node.querySelector(":scope > title");
      if (title) { panel.textContent = title.textContent; return; }
    }
    panel.textContent = idle;
  });
  map.addEventListener("mouseleave", function () { panel.textContent = idle; });
})();
""".strip()
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
# Nothing may be fetched: no script but the one above, no font, image, frame or style sheet from anywhere.
CONTENT_SECURITY_POLICY = (f"default-src 'none'; script-src 'sha256-{SCRIPT_HASH}'; style-src 'unsafe-inline'; "
                           "img-src data:; base-uri 'none'; form-action 'none'")

MAP_WIDTH_PX = 700  # the map's own width; the page scales it to the screen
CSS = """
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, "Segoe UI", Roboto, Arial, sans-serif; font-size: 14px;
       line-height: 1.4; color: #1a1a1a; background: #ffffff; }
header { padding: 10px 20px 6px; }
h1 { font-size: 22px; margin: 0; }
header p { margin: 2px 0 0; color: #555555; }
main { display: flex; gap: 20px; padding: 0 20px 20px; align-items: flex-start; }
#map-frame { flex: 0 1 auto; min-width: 0; }
#map-frame svg { display: block; max-height: calc(100vh - 80px); width: auto; height: auto; max-width: 100%; }
aside { flex: 1 1 320px; min-width: 300px; overflow-x: auto; }
#legend-svg { display: block; max-width: 100%; height: auto; }
th { white-space: nowrap; }
#hover { white-space: pre-line; border: 1px solid #cccccc; border-radius: 4px; padding: 8px 10px;
         min-height: 7.5em; background: #fafafa; }
h2 { font-size: 16px; margin: 16px 0 6px; border-bottom: 2px solid #dddddd; padding-bottom: 3px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #e3e3e3; }
td:first-child { white-space: nowrap; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border: 1px solid #666666;
          -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.note { color: #555555; font-size: 12px; margin: 4px 0 0; }
footer { padding: 0 20px 16px; color: #666666; font-size: 11px; }
/* Portrait and phone screens: the map full width, then the legend, the panel and the tables below it. */
@media (max-width: 900px), (orientation: portrait) {
  header { padding: 8px 10px 4px; }
  main { display: block; padding: 0 10px 16px; }
  #map-frame svg { width: 100%; height: auto; max-height: none; }
  aside { min-width: 0; margin-top: 12px; overflow-x: visible; }
  /* each table row a card: the cells one under another, each after its column's name */
  aside table, aside tbody, aside tr, aside td { display: block; width: 100%; }
  aside thead { display: none; }
  aside tr { border-bottom: 1px solid #cccccc; padding: 4px 0; }
  aside td, aside td.n { border: none; padding: 1px 6px; text-align: left; white-space: normal; }
  aside td:first-child { font-weight: bold; }
  aside td[data-label]::before { content: attr(data-label) ": "; color: #555555; }
  footer { padding: 0 10px 16px; }
}
@media print { #map-frame svg { height: auto; width: 100%; max-height: none; } main { display: block; } }
""".strip()


def render_html(data: MapData, table_rows: int = 20) -> str:
    """One complete HTML document embedding the SVG inline; `table_rows` best measured areas are listed."""
    title = data.title or "Where can we recruit a team?"
    level = LEVEL_NAMES.get(data.level, data.level)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p>Share of tested homes eligible for homeworking, by {_e(level)}. "
        "Point at an area for its figures.</p></header>",
        '<main><div id="map-frame">', render_svg(data, MAP_WIDTH_PX, standalone=False), "</div>",
        "<aside>", render_legend(data),
        '<h2>Area</h2><div id="hover" aria-live="polite">Point at an area or a hub on the map.</div>',
        *_hub_table(data.hubs),
        *_area_table(data, table_rows, level),
        "</aside></main>",
        "<footer>", *(f"<div>{_e(line)}</div>" for line in data.attribution), "</footer>",
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)


def best_rows(rows: Sequence[AreaRow], count: int) -> list[AreaRow]:
    """Measured, unsuppressed rows by eligible_pct (highest first; then more homes, then code), at most `count`."""
    shown = [row for row in rows if row.source == MEASURED and not row.suppressed]
    shown.sort(key=lambda row: (row.eligible_pct is None, -(row.eligible_pct or 0.0), -(row.homes or 0), row.area))
    return shown[:max(0, count)]


def _hub_table(teams: Sequence[HubTeam]) -> list[str]:
    if not teams:
        return []
    out = ["<h2>Training hubs</h2><table><thead><tr><th>Hub</th><th>Reach</th><th>Eligible homes within reach</th>"
           "<th>Team</th></tr></thead><tbody>"]
    for team in teams:
        homes = f"fewer than {MIN_HOMES}" if team.eligible_homes is None else str(team.eligible_homes)
        out.append("<tr>" + _td("", _e(team.hub.label), numeric=False) + _td("Reach", f"{team.hub.reach_km:g} km")
                   + _td("Eligible homes within reach", homes)
                   + _td("", f"team of {team.team_size} {team.team_verdict}", numeric=False) + "</tr>")
    out.append("</tbody></table>")
    return out


def _area_table(data: MapData, count: int, level: str) -> list[str]:
    best = best_rows(data.rows, count)
    out = [f"<h2>Best areas by share eligible (top {len(best)})</h2>"]
    if not best:
        return out + [f"<p class=\"note\">No {_e(level)} has {MIN_HOMES} or more tested homes yet.</p>"]
    districts = "<th>Districts measured</th>" if data.coverage else ""
    out.append(f"<table><thead><tr><th>Area</th>{districts}<th>Homes</th><th>Eligible</th><th>%</th>"
               "<th>Down Mbit/s<br>median / p10</th><th>Up Mbit/s<br>median</th><th>MOS<br>median</th>"
               "<th>Wi-Fi</th></tr></thead><tbody>")
    for row in best:
        index = class_index(row.eligible_pct)
        swatch = "" if index is None else f'<span class="swatch" style="background:{CLASSES[index].colour}"></span>'
        coverage = data.coverage.get(row.area)
        cell = "" if not data.coverage else \
            _td("Districts measured", "–" if coverage is None else f"{coverage[0]} of {coverage[1]}")
        out.append("<tr>" + _td("", swatch + _e(row.area), numeric=False) + cell + _td("Homes", _n(row.homes))
                   + _td("Eligible", _n(row.eligible)) + _td("%", _n(row.eligible_pct))
                   + _td("Down Mbit/s median / p10", f"{_n(row.download_median_mbps)} / {_n(row.download_p10_mbps)}")
                   + _td("Up Mbit/s median", _n(row.upload_median_mbps)) + _td("MOS median", _n(row.mos_median))
                   + _td("Wi-Fi", f"{_n(row.wifi_pct)}{'' if row.wifi_pct is None else '%'}") + "</tr>")
    out.append(f"</tbody></table><p class=\"note\">Counts rounded to the nearest {COUNT_ROUNDING}; areas with "
               f"fewer than {MIN_HOMES} homes are hatched on the map and not listed; Ofcom estimates are not "
               "measurements and are not listed.</p>")
    return out


def _td(label: str, content: str, numeric: bool = True) -> str:
    """A cell with its column's name in data-label, which narrow screens show before the value (CSS) when the
    table is stacked one row per card."""
    attributes = (' class="n"' if numeric else "") + (f' data-label="{_e(label)}"' if label else "")
    return f"<td{attributes}>{content}</td>"


def _n(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _e(text: str) -> str:
    return html.escape(text, quote=True)

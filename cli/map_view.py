"""What `homeshore map` prints: the best areas, the hubs' teams and the files written (rich). Only published
rows are shown, so a suppressed area's figures cannot reach the terminal either."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from homeshore.planning.map_html import best_rows
from homeshore.planning.map_model import MEASURED, MapData


def _cell(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:g}{unit}"


def render_summary(data: MapData, written: dict[str, Path], notes: list[str], table_rows: int) -> None:
    console = Console()
    shown = [row for row in data.rows if row.source == MEASURED and not row.suppressed]
    best = best_rows(data.rows, table_rows)  # map.html's ranking, so the two lists agree
    table = Table(title=f"Best {data.level}s for recruiting (of {len(shown)} with 5 or more homes)")
    headings = ["area", "homes", "eligible", "eligible %", "download median", "download p10", "upload median",
                "MOS median", "on Wi-Fi"]
    if data.coverage:
        headings.insert(1, "districts measured")
    for heading in headings:
        table.add_column(heading, justify="left" if heading == "area" else "right")
    for row in best:
        cells = [row.area, _cell(row.homes), _cell(row.eligible), _cell(row.eligible_pct, " %"),
                 _cell(row.download_median_mbps, " Mbit/s"), _cell(row.download_p10_mbps, " Mbit/s"),
                 _cell(row.upload_median_mbps, " Mbit/s"), _cell(row.mos_median), _cell(row.wifi_pct, " %")]
        if data.coverage:
            coverage = data.coverage.get(row.area)
            cells.insert(1, "—" if coverage is None else f"{coverage[0]} of {coverage[1]}")
        table.add_row(*cells)
    console.print(table)
    suppressed = sum(row.suppressed for row in data.rows)
    prior = sum(row.source != MEASURED for row in data.rows)
    console.print(f"{suppressed} {data.level}s with fewer than 5 homes are shown without figures; "
                  f"{prior} have only the Ofcom estimate (not measured). Counts are rounded to 5; shares are "
                  "of the rounded counts.")
    if data.hubs:
        hubs = Table(title="Training hubs")
        for heading in ("hub", "reach", "eligible homes within reach", "team possible"):
            hubs.add_column(heading)
        for team in data.hubs:
            count = "fewer than 5" if team.eligible_homes is None else str(team.eligible_homes)
            hubs.add_row(team.hub.label, f"{team.hub.reach_km:g} km", count,
                         f"{team.team_verdict} (team of {team.team_size})")
        console.print(hubs)
    console.print("written: " + ", ".join(str(path) for path in written.values()))

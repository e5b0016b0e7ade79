"""What `homeshore diagnose` prints (pure: a Diagnosis in, rich renderables or a JSON document out): the plain
words first, then the call window by window. No call key, address or number is shown: the windows carry none but
the call's salted hash, which is left out."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.table import Table

from homeshore.planning.diagnosis import Diagnosis, clock, summary_lines

_NS = 1_000_000_000


def _cell(value: float | None, places: int) -> str:
    return "–" if value is None else f"{value:.{places}f}"


def windows_table(diagnosis: Diagnosis, zone: tzinfo | None, zone_name: str) -> Table:
    """Window start, direction, MOS, jitter, loss and cause; every cell on one line (fits 80 columns)."""
    table = Table(title=f"Call windows ({zone_name})", title_justify="left")
    table.add_column("window", no_wrap=True)
    table.add_column("direction", no_wrap=True)
    for heading in ("MOS", "jitter ms", "loss %"):
        table.add_column(heading, justify="right", no_wrap=True)
    table.add_column("cause", no_wrap=True)
    for window in diagnosis.windows:
        table.add_row(clock(window.time_ns, zone), window.direction, _cell(window.mos, 2),
                      _cell(window.jitter_ms, 1), _cell(window.loss_pct, 1), window.cause or "")
    return table


def _iso(time_ns: int, zone: tzinfo | None) -> str:
    return datetime.fromtimestamp(time_ns // _NS, zone).astimezone(zone).isoformat()


def document(agent: str, at_ns: int, diagnosis: Diagnosis | None, zone: tzinfo | None,
             notes: list[str]) -> dict:
    """`--json`: the same diagnosis for scripts; times ISO-8601 with the offset of the zone shown."""
    call = None
    if diagnosis is not None:
        call = {
            "start": _iso(diagnosis.start_ns, zone), "end": _iso(diagnosis.end_ns, zone),
            "summary": summary_lines(diagnosis, zone),
            "periods": [{"cause": p.cause, "start": _iso(p.start_ns, zone), "end": _iso(p.end_ns, zone),
                         "windows": p.windows, "evidence": dict(p.evidence)} for p in diagnosis.periods],
            "windows": [{"start": _iso(w.time_ns, zone), "direction": w.direction, "mos": w.mos,
                         "jitter_ms": w.jitter_ms, "loss_pct": w.loss_pct, "cause": w.cause,
                         "evidence": dict(w.evidence)} for w in diagnosis.windows],
        }
    return {"agent": agent, "at": _iso(at_ns, zone), "call": call, "notes": notes}

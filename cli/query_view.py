"""`homeshore collector query`'s table (pure): a result's series as rich tables, for people.

The query asks InfluxDB for epoch nanoseconds (collector/query.py), which `--json` keeps for scripts; people get
the `time` column as RFC 3339 UTC, spelled as InfluxDB itself spells it when `epoch=` is not set (Go's
RFC3339Nano: fraction to the nanosecond, trailing zeros dropped). The time column never wraps or shrinks to
"ti…" on a narrow terminal: the other columns fold instead.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rich.table import Table

from homeshore.collector.query import Series

_NS_PER_S = 1_000_000_000


def rfc3339_ns(epoch_ns: int) -> str:
    """`1733450653123400000` -> `2024-12-06T02:04:13.1234Z` (exact integer arithmetic, no float rounding)."""
    seconds, nanoseconds = divmod(epoch_ns, _NS_PER_S)
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanoseconds:09d}".rstrip("0")
    return text + (f".{fraction}" if fraction else "") + "Z"


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column == "time" and isinstance(value, int) and not isinstance(value, bool):
        return rfc3339_ns(value)
    return str(value)


def series_table(series: Series) -> Table:
    title = series.name + (" " + ",".join(f"{k}={v}" for k, v in series.tags.items()) if series.tags else "")
    table = Table(title=title)
    rows = [[_cell(column, value) for column, value in zip(series.columns, row)] for row in series.values]
    for index, column in enumerate(series.columns):
        if column == "time":
            width = max([len(column), *(len(row[index]) for row in rows)])
            table.add_column(column, no_wrap=True, min_width=width)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table

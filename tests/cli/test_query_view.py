"""cli/query_view.py: the time column stays whole however narrow the terminal (the other columns fold), and
epoch nanoseconds become RFC 3339 exactly (checked against InfluxDB's own spelling in test_collector_init.py)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from homeshore.cli.query_view import rfc3339_ns, series_table
from homeshore.collector.query import Series


@pytest.mark.parametrize("epoch_ns, text", [
    (0, "1970-01-01T00:00:00Z"),
    (1, "1970-01-01T00:00:00.000000001Z"),
    (1733450653_123400000, "2024-12-06T02:04:13.1234Z"),
    (1733450653_999999999, "2024-12-06T02:04:13.999999999Z"),  # no float rounding up to the next second
])
def test_rfc3339_ns(epoch_ns: int, text: str) -> None:
    assert rfc3339_ns(epoch_ns) == text


@pytest.mark.parametrize("width", [100, 80, 50])
def test_the_time_column_is_never_cut(width: int) -> None:
    columns = ("time", *(f"field_with_a_long_name_{i}" for i in range(8)))
    series = Series("host", {"agent": "a1"}, columns, [(1733450653_123400001, *range(8)), (1733450654_000000000, *[None] * 8)])
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(series_table(series))
    out = console.file.getvalue()
    assert "2024-12-06T02:04:13.123400001Z" in out and "2024-12-06T02:04:14Z" in out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= width
    if width < 80:
        return  # 8 columns beside a whole time column: too narrow for the figures, the time still whole
    (row,) = [line for line in out.splitlines() if "02:04:13" in line]
    assert [cell.strip() for cell in row.strip("│ ").split("│")][1:] == [str(i) for i in range(8)]

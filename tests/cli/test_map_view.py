"""The terminal's "best areas" of `homeshore map`: the same ranking as map.html's table, and at the area level
how many of each area's districts were measured."""

from __future__ import annotations

import dataclasses
import re

import pytest

from homeshore.cli.map_view import render_summary
from homeshore.planning.map_html import render_html
from homeshore.planning.map_model import MapData
from tests.planning.test_map_html import Page
from tests.planning.test_map_svg import measured

# Ties on the share are broken by more homes first (AB2 before AB1), which a sort by code alone gets wrong.
ROWS = tuple(measured(f"AB{i}", pct, homes=homes)
             for i, (pct, homes) in enumerate([(12.5, 10), (90.0, 20), (90.0, 40), (55.5, 15), (70.0, 5)]))


def printed_areas(output: str, codes: set[str]) -> list[str]:
    return [match for line in output.splitlines() for match in re.findall(r"│\s*(\S+)\s*│", line)[:1]
            if match in codes]


@pytest.mark.parametrize("count", [3, 20])
def test_terminal_and_map_html_rank_best_areas_alike(count: int, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    data = MapData("district", ROWS, (), None, {}, "", ())
    render_summary(data, {}, [], count)
    terminal = printed_areas(capsys.readouterr().out, {row.area for row in ROWS})
    html = [row[0] for row in Page(render_html(data, table_rows=count)).tables[-1]]
    assert terminal == html == ["AB2", "AB1", "AB4", "AB3", "AB0"][:count]


def test_terminal_says_how_many_districts_of_an_area_were_measured(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per row: rich wraps cells to the terminal's width
    data = MapData("area", (dataclasses.replace(measured("AB", 50.0), level="area"),), (), None, {}, "", (),
                   coverage={"AB": (1, 12)})
    render_summary(data, {}, [], 5)
    output = capsys.readouterr().out
    assert re.search(r"│\s*AB\s*│\s*1 of 12\s*│", output), output
    html = Page(render_html(data)).tables[-1]
    assert html[0][:2] == ["AB", "1 of 12"]

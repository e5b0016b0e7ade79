"""The verdict panel of `homeshore check`, rendered from its JSON document (pure: data in, rich renderable out)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from homeshore.cli.check_text import (HEADINGS, INCOMPLETE, criterion_figures, criterion_label, megabytes,
                                      plain_words, policy_words, quantity)

STYLES = {"PASS": "bold green", "WARN": "bold yellow", "FAIL": "bold red"}


def criteria_table(criteria: list[dict[str, Any]]) -> Table:
    """One row per criterion: status, measured value, limit ("at least" or "at most"). The advice follows the
    table (advice_lines): in a column it would fold into a narrow strip on an 80-column terminal."""
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("criterion", no_wrap=True)
    table.add_column("measured", justify="right", no_wrap=True)
    table.add_column("limit", justify="right", no_wrap=True)
    for item in criteria:
        status = item.get("status", "WARN")
        measured, limit = criterion_figures(item)
        table.add_row(Text(status, style=STYLES.get(status, "")), criterion_label(item.get("name")), measured, limit)
    return table


def advice_lines(criteria: list[dict[str, Any]]) -> list[Text]:
    """For each criterion that did not pass, what it means in plain words, then the advice with its figures and
    terms, dimmed (a pass's advice only restates the table's row)."""
    return [Text.assemble((f"{criterion_label(item.get('name'))}: ", STYLES.get(item.get("status"), "")),
                          plain_words(item), " ", (item.get("advice") or "", "dim"))
            for item in criteria if item.get("status") != "PASS" and item.get("advice")]


def verdict_panel(document: dict[str, Any]) -> Panel:
    verdict = document.get("verdict", "FAIL")
    heading = HEADINGS[verdict]
    if document.get("could_not_measure") and verdict != "FAIL":
        heading = INCOMPLETE
    criteria = document.get("criteria", [])
    parts: list[Any] = [Text(f"{verdict}  {heading}", style=STYLES.get(verdict, "")), Text(""),
                        criteria_table(criteria), Text(""), *advice_lines(criteria)]
    grade = document.get("bufferbloat_grade")
    if grade:
        parts.append(Text(f"Bufferbloat grade {grade} (RTT increase under load over idle).", style="dim"))
    for reason in document.get("not_reached", []):
        parts.append(Text(f"Not measured: {reason}", style="yellow"))
    parts.append(Text(f"Judged by the {policy_words(document.get('policy'))}.", style="dim"))
    parts.append(Text(f"Measured against {_measured_against(document)}.", style="dim"))
    subject = ", ".join(part for part in (document.get("candidate"), document.get("area")) if part)
    title = "homeshore check" + (f": {subject}" if subject else "")
    return Panel(Group(*parts), title=title, border_style=STYLES.get(verdict, ""))


def _measured_against(document: dict[str, Any]) -> str:
    """The server, its method, and the check's time and bytes: a line in the panel's body, which wraps (a
    subtitle on the border is cut to the terminal's width, the server's URL first)."""
    measurements = document.get("measurements") or {}
    pieces = [f"server {document.get('server')} ({document.get('method')})"]
    pieces += [text for text in (quantity(measurements.get("duration_s"), "s", absent=None),
                                 megabytes(measurements.get("bytes_used"))) if text]
    return ", ".join(pieces)

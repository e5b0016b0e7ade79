"""How a check's verdict and figures read, the same in the terminal panel (check_view.py) and the HTML report
(check_report.py), so a figure a recruiter reads aloud from one is the figure printed in the other (pure).

Figures are rounded for reading only (the JSON document keeps them as measured): Mbit/s, ms, % and seconds to
one decimal, MOS to two, dBm to whole numbers; a unit follows a figure after a space, except % and MOS.
"""

from __future__ import annotations

from typing import Any

from homeshore.planning.verdict import CRITERION_LABELS

HEADINGS = {"PASS": "This home can take calls.",
            "WARN": "This home can take calls, with the warnings below.",
            "FAIL": "This home cannot take calls yet: see what failed below."}
INCOMPLETE = "The check could not measure everything: repeat it (see below)."
NOT_MEASURED = "not measured"
PLACES = {"Mbit/s": 1, "ms": 1, "%": 1, "MOS": 2, "dBm": 0}  # any other unit: 1
CONNECTION_LABELS = {"wired": "wired (Ethernet)", "wifi": "Wi-Fi", "cellular": "mobile (cellular)",
                     "unknown": "unknown"}  # one per planning.measurements.CONNECTIONS


def criterion_label(name: Any) -> str:
    return CRITERION_LABELS.get(name, name) if isinstance(name, str) else "unnamed"


def quantity(value: Any, unit: Any, absent: str | None = NOT_MEASURED) -> Any:
    """A figure to its unit's places with its unit; `absent` for None, a value that is not a number as text."""
    if not is_number(value):
        return absent if value is None or isinstance(value, bool) else str(value)
    text = f"{value:.{PLACES.get(unit, 1)}f}"
    if unit in ("%", "MOS") or not unit:
        return text + ("%" if unit == "%" else "")
    return f"{text} {unit}"


def megabytes(byte_count: Any) -> str | None:
    return f"{byte_count / 1e6:.1f} MB" if is_number(byte_count) else None


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

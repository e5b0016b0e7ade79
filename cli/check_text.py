"""How a check's verdict and figures read, the same in the terminal panel (check_view.py) and the HTML report
(check_report.py), so a figure a recruiter reads aloud from one is the figure printed in the other (pure).

Figures are rounded for reading only (the JSON document keeps them as measured): Mbit/s, ms, % and seconds to
one decimal, MOS to two, dBm to whole numbers; a unit follows a figure after a space, except % and MOS. A
criterion's figure and limit take more places when the limit has them (a 0.05 ms limit reads "0.05 ms", not
"0.1 ms"), and more again, up to the policy's FIGURE_DECIMALS, until a figure that was judged different from its
limit reads different: a report never says "FAIL, 0.0 ms, at most 0.0 ms".

Plain words come first: what a criterion's status means for calls ("calls would break up"), for a recruiter to
read aloud; the figures and the advice with its terms (goodput, line rate, bufferbloat) follow, for whoever
fixes the line.
"""

from __future__ import annotations

from typing import Any

from homeshore.planning.policy import FIGURE_DECIMALS
from homeshore.planning.verdict import CRITERION_LABELS

HEADINGS = {"PASS": "This home can take calls.",
            "WARN": "This home can take calls, with the warnings below.",
            "FAIL": "This home cannot take calls yet: see what failed below."}
INCOMPLETE = "The check could not measure everything: repeat it (see below)."
NOT_MEASURED = "not measured"
PLACES = {"Mbit/s": 1, "ms": 1, "%": 1, "MOS": 2, "dBm": 0}  # any other unit: 1
MINIMUM_CRITERIA = frozenset({"download", "upload", "mos"})  # the figure must reach the limit; others stay under it
# What each criterion's status means for calls, in words a candidate understands (no figures, no terms).
PLAIN_WORDS = {
    ("download", "PASS"): "Fast enough to download what call work needs.",
    ("download", "WARN"): "Just fast enough to download what call work needs, with little to spare.",
    ("download", "FAIL"): "Too slow: call software and work tools would stall.",
    ("upload", "PASS"): "Fast enough to send your voice and screen.",
    ("upload", "WARN"): "Just fast enough to send your voice, with little to spare.",
    ("upload", "FAIL"): "Too slow to send: callers would hear you break up.",
    ("idle_rtt", "PASS"): "Quick to answer: no awkward pauses.",
    ("idle_rtt", "WARN"): "A little slow to answer: callers may notice short pauses.",
    ("idle_rtt", "FAIL"): "Slow to answer: callers would talk over each other.",
    ("loaded_rtt", "PASS"): "Stays quick when the line is busy.",
    ("loaded_rtt", "WARN"): "Slows down when the line is busy: calls may lag while someone downloads.",
    ("loaded_rtt", "FAIL"): "Calls would lag and break up whenever the line is busy.",
    ("jitter", "PASS"): "Steady: voices would sound smooth.",
    ("jitter", "WARN"): "A little unsteady: voices may sound uneven at times.",
    ("jitter", "FAIL"): "Unsteady: voices would sound choppy.",
    ("loss", "PASS"): "Nothing lost: calls would come through whole.",
    ("loss", "WARN"): "A little is lost: calls may break up now and then.",
    ("loss", "FAIL"): "Calls would break up: words would drop out.",
    ("mos", "PASS"): "A test call sounded clear.",
    ("mos", "WARN"): "A test call sounded acceptable, not clear.",
    ("mos", "FAIL"): "A test call sounded poor.",
}
NOT_MEASURED_WORDS = "Not measured: repeat the check."
CONNECTION_LABELS = {"wired": "wired (Ethernet)", "wifi": "Wi-Fi", "cellular": "mobile (cellular)",
                     "unknown": "unknown"}  # one per planning.measurements.CONNECTIONS


def criterion_label(name: Any) -> str:
    return CRITERION_LABELS.get(name, name) if isinstance(name, str) else "unnamed"


def plain_words(item: dict[str, Any]) -> str:
    """What a criterion of the document means for calls, in plain words."""
    if not is_number(item.get("value")):
        return NOT_MEASURED_WORDS
    return PLAIN_WORDS.get((item.get("name"), item.get("status")), "")


def criterion_figures(item: dict[str, Any]) -> tuple[str, str]:
    """(measured, limit) of a criterion of the document as a reader sees them: "21.5 ms", "at most 100.0 ms"."""
    value, threshold, unit = item.get("value"), item.get("threshold"), item.get("unit")
    places = figure_places(value, threshold, unit)
    limit = quantity(threshold, unit, absent="", places=places)
    if limit:
        limit = ("at least " if item.get("name") in MINIMUM_CRITERIA else "at most ") + limit
    return quantity(value, unit, places=places), limit


def figure_places(value: Any, threshold: Any, unit: Any) -> int:
    """Decimal places for a criterion's figure and limit: the unit's, or the limit's own when it has more, or
    more until a figure judged different from its limit reads different (up to FIGURE_DECIMALS)."""
    places = PLACES.get(unit, 1)
    if not is_number(threshold):
        return places
    while places < FIGURE_DECIMALS and round(threshold, places) != round(threshold, FIGURE_DECIMALS):
        places += 1
    if is_number(value):
        while places < FIGURE_DECIMALS and value != threshold and round(value, places) == round(threshold, places):
            places += 1
    return places


def quantity(value: Any, unit: Any, absent: str | None = NOT_MEASURED, places: int | None = None) -> Any:
    """A figure to its unit's places (or `places`) with its unit; `absent` for None, a value that is not a
    number as text."""
    if not is_number(value):
        return absent if value is None or isinstance(value, bool) else str(value)
    text = f"{value:.{PLACES.get(unit, 1) if places is None else places}f}"
    if unit in ("%", "MOS") or not unit:
        return text + ("%" if unit == "%" else "")
    return f"{text} {unit}"


def megabytes(byte_count: Any) -> str | None:
    return f"{byte_count / 1e6:.1f} MB" if is_number(byte_count) else None


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def policy_words(policy: Any) -> str:
    """Which policy judged the check: "default policy", or "policy strict.toml (sha256 1a2b3c4d5e6f)"."""
    if not isinstance(policy, dict) or not policy.get("file"):
        return "default policy"
    digest = policy.get("sha256")
    return f"policy {policy['file']}" + (f" (sha256 {str(digest)[:12]})" if digest else "")

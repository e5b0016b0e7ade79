"""Eligibility of a home over an assessment window: its tests, not one lucky run, must meet the readiness policy.

Pure computation, one home at a time. The rules, in order (DESIGN.md "Readiness policy", issue 7):

- The window: tests with `until - window_days < time <= until` (`window_tests`).
- Speed tests: the home's tests with a usable download figure. Synthetic calls without one count only for MOS.
- NOT_YET_KNOWN when the home has fewer than `min_tests` speed tests, or fewer than `min_peak_tests` of them start
  in the evening peak: local hour (in `timezone`, so 18:30 UTC is peak in July, 19:30 BST, and not in January)
  within [peak_start_hour, peak_end_hour), wrapping past midnight when start > end (22 -> 2: 22:00 to 01:59).
  Its reasons say which ("2 speed tests, 3 needed"); nothing is judged and the judged figures are None.
- Otherwise each criterion is judged on all the home's usable figures in the window, with the Policy's thresholds
  (inclusive; the WARN band plays no part): download and upload at their line rate (Policy.line_rate_mbps) of
  the `low_percentile`th percentile, at least the minimum; MOS at the `low_percentile`th, at least mos_min; idle
  RTT, RTT under load, jitter and loss at the `high_percentile`th, at most their maximum. The RTT-under-load
  limit is that of planning/rules.py for the home's median idle RTT: min(idle + increase allowance, loaded max).
  Figures are rounded to FIGURE_DECIMALS before comparison, as planning/readiness.py does, so a reason quotes
  the number that was judged. A criterion with no usable figure in the window is not judged (download always has
  one once the home has speed tests). Unusable figures (not finite, negative, loss above 100 %, MOS outside 1-5:
  planning/readiness.usable) are ignored, as if not measured.
- ELIGIBLE when every judged criterion passes, else NOT_ELIGIBLE with one reason per failed criterion.

The home's area is that of its most recent test (a home that moved is mapped where it is now). Its medians
(download, upload: goodput as measured; MOS) are computed for every home, known or not: the area statistics use
them. `on_wifi`: more than half of its tests with a known connection ("wired", "wifi", "cellular") were on Wi-Fi.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from homeshore.planning.figures import figure, quantity
from homeshore.planning.map_model import LEVELS, Eligibility, HomeAssessment, HomeTest, area_code
from homeshore.planning.measurements import KNOWN_CONNECTIONS
from homeshore.planning.policy import FIGURE_DECIMALS, Policy
from homeshore.planning.readiness import usable
from homeshore.planning.rules import Rule, rules as policy_rules
from homeshore.planning.stats import median, percentile
from homeshore.planning.verdict import Status

SPEED_CRITERIA = frozenset({"download", "upload"})  # judged on line rate, not the goodput measured


class PlanningError(ValueError):
    """An assessment setting or input that cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class AssessmentRules:
    """How a home is judged over time. Hours are local time in `timezone`, the peak is [start, end)."""

    window_days: float = 28.0
    min_tests: int = 3  # speed tests in the window (a HomeTest with a usable download_mbps)
    min_peak_tests: int = 1  # of which at least this many in the evening peak; 0: no peak requirement
    peak_start_hour: int = 19
    peak_end_hour: int = 23
    timezone: str = "Europe/London"  # zoneinfo name
    low_percentile: float = 10.0  # download, upload, MOS (higher is better) are judged at this percentile
    high_percentile: float = 90.0  # idle RTT, RTT under load, jitter, loss (lower is better) at this one

    def __post_init__(self) -> None:
        if not (_is_number(self.window_days) and math.isfinite(self.window_days) and self.window_days > 0):
            raise PlanningError(f"window_days must be a number of days above 0, not {self.window_days!r}")
        _check_whole("min_tests", self.min_tests, 1, 100_000)
        _check_whole("min_peak_tests", self.min_peak_tests, 0, 100_000)
        _check_whole("peak_start_hour", self.peak_start_hour, 0, 23)
        _check_whole("peak_end_hour", self.peak_end_hour, 0, 24)
        if self.peak_start_hour == self.peak_end_hour:
            raise PlanningError(f"peak_start_hour and peak_end_hour must differ (both {self.peak_start_hour}): "
                                f"the evening peak would be empty")
        for name in ("low_percentile", "high_percentile"):
            value = getattr(self, name)
            if not (_is_number(value) and 0.0 <= value <= 100.0):
                raise PlanningError(f"{name} must be a number within 0..100, not {value!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise PlanningError(f"timezone {self.timezone!r} is not a known time zone "
                                f"(an IANA name such as Europe/London)") from None

    def in_peak(self, time: datetime) -> bool:
        hour = time.astimezone(ZoneInfo(self.timezone)).hour
        start, end = self.peak_start_hour, self.peak_end_hour
        return start <= hour < end if start < end else hour >= start or hour < end


def window_tests(tests: Iterable[HomeTest], until: datetime, rules: AssessmentRules) -> list[HomeTest]:
    """The tests in the window ending at `until` (timezone-aware): until - window_days < time <= until."""
    if until.tzinfo is None or until.utcoffset() is None:
        raise PlanningError(f"the end of the assessment window ({until.isoformat()}) needs a time zone")
    since = until - timedelta(days=rules.window_days)
    return [test for test in tests if since < test.time <= until]


def assess_home(tests: Sequence[HomeTest], level: str, policy: Policy, rules: AssessmentRules) -> HomeAssessment:
    """One home (one agent's tests, already in the window, any order, at least one) judged as the module says.

    PlanningError when there are no tests or the most recent one has no area at `level` (a sector when only the
    district is known)."""
    if not tests:
        raise PlanningError("a home needs at least one test to be assessed")
    latest = max(tests, key=lambda test: test.time)
    area = area_code(latest, level)
    if area is None:
        raise PlanningError(f"home {latest.agent}: its most recent test has no postcode {level}")
    figures = _Figures.of(tests)
    peak_tests = sum(1 for test in tests if usable(test.download_mbps) is not None and rules.in_peak(test.time))
    speed_tests = len(figures.download)
    shortfall = _shortfall(speed_tests, peak_tests, rules)
    judged_download = judged_loaded = None
    if shortfall:
        status, reasons = Eligibility.NOT_YET_KNOWN, shortfall
    else:
        judged = _judge(figures, policy, rules)
        judged_download, judged_loaded = judged.get("download"), judged.get("loaded_rtt")
        reasons = judged.reasons
        status = Eligibility.NOT_ELIGIBLE if reasons else Eligibility.ELIGIBLE
    return HomeAssessment(
        agent=latest.agent, area=area, district=latest.district, sector=latest.sector, status=status,
        tests=speed_tests, peak_tests=peak_tests,
        download_judged_mbps=judged_download, loaded_rtt_judged_ms=judged_loaded,
        download_median_mbps=_median_or_none(figures.download), upload_median_mbps=_median_or_none(figures.upload),
        mos_median=_median_or_none(figures.mos), on_wifi=_on_wifi(tests), reasons=reasons,
    )


def assess_homes(tests: Iterable[HomeTest], level: str, policy: Policy, rules: AssessmentRules,
                 until: datetime) -> list[HomeAssessment]:
    """Every home with a test in the window, sorted by agent; homes with no area at `level` are left out."""
    if level not in LEVELS:
        raise PlanningError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    by_agent: dict[str, list[HomeTest]] = defaultdict(list)
    for test in window_tests(tests, until, rules):
        by_agent[test.agent].append(test)
    assessments = []
    for agent in sorted(by_agent):
        home = by_agent[agent]
        if area_code(max(home, key=lambda test: test.time), level) is not None:
            assessments.append(assess_home(home, level, policy, rules))
    return assessments


@dataclass(frozen=True)
class _Figures:
    """A home's usable figures per criterion, in test order."""

    download: list[float]
    upload: list[float]
    idle_rtt: list[float]
    loaded_rtt: list[float]
    jitter: list[float]
    loss: list[float]
    mos: list[float]

    @classmethod
    def of(cls, tests: Sequence[HomeTest]) -> _Figures:
        def column(attribute: str, scale: str = "") -> list[float]:
            values = (usable(getattr(test, attribute), scale) for test in tests)
            return [value for value in values if value is not None]

        return cls(download=column("download_mbps"), upload=column("upload_mbps"), idle_rtt=column("idle_rtt_ms"),
                   loaded_rtt=column("loaded_rtt_ms"), jitter=column("jitter_ms"), loss=column("loss_pct", "loss"),
                   mos=column("mos", "mos"))


@dataclass(frozen=True)
class _Judged:
    values: dict[str, float]  # criterion -> the figure judged (line rate for speeds), for criteria with figures
    reasons: tuple[str, ...]  # one per failed criterion

    def get(self, name: str) -> float | None:
        return self.values.get(name)


def _judge(figures: _Figures, policy: Policy, rules: AssessmentRules) -> _Judged:
    idle = median(figures.idle_rtt) if figures.idle_rtt else None
    values: dict[str, float] = {}
    reasons = []
    for rule in policy_rules(policy, idle):
        samples: list[float] = getattr(figures, rule.name)
        if not samples:
            continue  # not measured in the window: not judged
        pct = rules.low_percentile if rule.minimum else rules.high_percentile
        value = percentile(samples, pct)
        if rule.name in SPEED_CRITERIA:
            value = policy.line_rate_mbps(value)  # rounded to FIGURE_DECIMALS too
        else:
            value = round(value, FIGURE_DECIMALS)
        values[rule.name] = value
        if rule.status(value) is Status.FAIL:  # a WARN passes here: eligibility has no WARN band
            reasons.append(_reason(rule, pct, value))
    return _Judged(values, tuple(reasons))


def _reason(rule: Rule, pct: float, value: float) -> str:
    """ "Download 10th percentile 6.2 Mbit/s < 8 Mbit/s"; a derived limit says how it was reached."""
    comparison = "<" if rule.minimum else ">"
    basis = f" ({rule.basis})" if rule.basis else ""
    return (f"{rule.label} {_ordinal(pct)} percentile {quantity(value, rule.unit)} {comparison} "
            f"{quantity(rule.threshold, rule.unit)}{basis}")


def _shortfall(speed_tests: int, peak_tests: int, rules: AssessmentRules) -> tuple[str, ...]:
    reasons = []
    if speed_tests < rules.min_tests:
        reasons.append(f"{speed_tests} speed test{'s' * (speed_tests != 1)}, {rules.min_tests} needed")
    if peak_tests < rules.min_peak_tests:
        reasons.append(f"{peak_tests} in the evening peak ({rules.peak_start_hour:02d}:00-"
                       f"{rules.peak_end_hour:02d}:00), {rules.min_peak_tests} needed")
    return tuple(reasons)


def _on_wifi(tests: Sequence[HomeTest]) -> bool | None:
    known = [test.conn for test in tests if test.conn in KNOWN_CONNECTIONS]
    if not known:
        return None
    return 2 * known.count("wifi") > len(known)


def _median_or_none(values: list[float]) -> float | None:
    return median(values) if values else None


def _ordinal(pct: float) -> str:
    """10 -> "10th", 1 -> "1st", 12.5 -> "12.5th"."""
    if pct != int(pct):
        return f"{figure(pct)}th"
    whole = int(pct)
    suffix = "th" if 10 <= whole % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(whole % 10, "th")
    return f"{whole}{suffix}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_whole(name: str, value: object, low: int, high: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
        raise PlanningError(f"{name} must be a whole number within {low}..{high}, not {value!r}")

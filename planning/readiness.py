"""evaluate(): a readiness check's measurements against the policy, one Criterion per DESIGN.md criterion.

Pure computation. A figure that is None, not finite, negative or off its scale (loss above 100 %, MOS outside
1-5) counts as not measured. Speeds are judged on line rate (Policy.line_rate_mbps of the goodput); RTT under
load on the worse of the download and upload phases. Figures are rounded to FIGURE_DECIMALS before comparison,
so the advice shows the very number that was judged.
"""

from __future__ import annotations

import math

from homeshore.planning.advice import Context, advise, not_measured
from homeshore.planning.bufferbloat import bufferbloat_grade, rtt_increase_ms
from homeshore.planning.measurements import ReadinessMeasurements
from homeshore.planning.policy import FIGURE_DECIMALS, Policy
from homeshore.planning.rules import Rule, rules
from homeshore.planning.verdict import Criterion, Status, Verdict

DEFAULT_POLICY = Policy()
SCALES = {"loss": (0.0, 100.0), "mos": (1.0, 5.0)}  # usable range where it is narrower than 0 to infinity


def evaluate(measurements: ReadinessMeasurements, policy: Policy = DEFAULT_POLICY) -> Verdict:
    m = measurements
    idle = usable(m.idle_rtt_ms)
    phase, loaded = _worst_loaded(m)
    grade = increase = None
    if idle is not None and usable(loaded) is not None:
        grade, increase = bufferbloat_grade(idle, loaded), rtt_increase_ms(idle, loaded)
    context = Context(m, policy, phase, increase, grade)
    figures = {
        "download": _line_rate(m.download_goodput_mbps, policy), "upload": _line_rate(m.upload_goodput_mbps, policy),
        "idle_rtt": m.idle_rtt_ms, "loaded_rtt": loaded, "jitter": m.jitter_ms, "loss": m.loss_pct, "mos": m.mos,
    }
    goodputs = {"download": m.download_goodput_mbps, "upload": m.upload_goodput_mbps}
    criteria = tuple(_criterion(rule, figures[rule.name], goodputs.get(rule.name), context)
                     for rule in rules(policy, idle))
    return Verdict(criteria, grade)


def usable(value: float | None, name: str = "") -> float | None:
    """`value` if it is a real measurement on its criterion's scale, else None."""
    low, high = SCALES.get(name, (0.0, math.inf))
    if value is None or not math.isfinite(value) or not low <= value <= high:
        return None
    return value


def _criterion(rule: Rule, raw: float | None, goodput: float | None, context: Context) -> Criterion:
    value = usable(raw, rule.name)
    common = dict(name=rule.name, threshold=rule.threshold, warn_threshold=rule.warn_threshold, unit=rule.unit)
    if value is None:
        return Criterion(status=Status.WARN, value=None, advice=not_measured(rule, raw, context), **common)
    value = round(value, FIGURE_DECIMALS)
    status = rule.status(value)
    return Criterion(status=status, value=value, advice=advise(rule, status, value, context),
                     goodput_mbps=goodput, **common)


def _line_rate(goodput_mbps: float | None, policy: Policy) -> float | None:
    """The line rate of a usable goodput; an unusable one passes through, for the advice to quote."""
    return policy.line_rate_mbps(goodput_mbps) if usable(goodput_mbps) is not None else goodput_mbps


def _worst_loaded(m: ReadinessMeasurements) -> tuple[str | None, float | None]:
    """(phase, RTT) of the phase with the higher usable RTT under load; (None, what there was) when neither is."""
    phases = [("download", m.loaded_rtt_download_ms), ("upload", m.loaded_rtt_upload_ms)]
    measured = [(rtt, phase) for phase, rtt in phases if usable(rtt) is not None]
    if measured:
        rtt, phase = max(measured)
        return phase, rtt
    return None, next((rtt for _, rtt in phases if rtt is not None), None)

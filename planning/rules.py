"""Each criterion's bounds under a policy: where FAIL starts, where the WARN band starts, which way is better."""

from __future__ import annotations

from dataclasses import dataclass

from homeshore.planning.figures import quantity
from homeshore.planning.policy import FIGURE_DECIMALS, Policy
from homeshore.planning.verdict import Status


@dataclass(frozen=True)
class Rule:
    name: str  # one of verdict.CRITERIA
    label: str  # how advice names the figure
    unit: str
    threshold: float  # inclusive: a figure equal to it does not fail
    warn_threshold: float  # inclusive: a figure equal to it does not warn
    minimum: bool  # True: the figure must reach the threshold (speeds, MOS); False: stay under it
    basis: str = ""  # how a derived threshold was reached, for the advice

    def status(self, value: float) -> Status:
        if self.minimum:
            fails, warns = value < self.threshold, value < self.warn_threshold
        else:
            fails, warns = value > self.threshold, value > self.warn_threshold
        return Status.FAIL if fails else Status.WARN if warns else Status.PASS


def rules(policy: Policy, idle_rtt_ms: float | None) -> tuple[Rule, ...]:
    """The seven rules in DESIGN.md's order; RTT under load is bounded by idle RTT + allowance when idle is known."""
    keep = 1.0 - policy.warn_margin_pct / 100.0  # share of a maximum below which nothing warns
    grow = 1.0 + policy.warn_margin_pct / 100.0  # multiple of a minimum from which nothing warns

    def at_least(name: str, label: str, unit: str, threshold: float, warn: float) -> Rule:
        return Rule(name, label, unit, _exact(threshold), _exact(warn), minimum=True)

    def at_most(name: str, label: str, unit: str, threshold: float, basis: str = "") -> Rule:
        return Rule(name, label, unit, _exact(threshold), _exact(threshold * keep), minimum=False, basis=basis)

    loaded = at_most("loaded_rtt", "RTT under load", "ms", policy.loaded_rtt_max_ms)
    if idle_rtt_ms is not None and idle_rtt_ms + policy.loaded_rtt_increase_max_ms < policy.loaded_rtt_max_ms:
        # Both bounds get the WARN margin: idle + 75 ms, or 150 ms, whichever is lower (default policy).
        loaded = Rule("loaded_rtt", loaded.label, "ms", _exact(idle_rtt_ms + policy.loaded_rtt_increase_max_ms),
                      _exact(min(idle_rtt_ms + policy.loaded_rtt_increase_max_ms * keep, loaded.warn_threshold)),
                      minimum=False, basis=f"idle {quantity(idle_rtt_ms, 'ms')} + "
                                           f"{quantity(policy.loaded_rtt_increase_max_ms, 'ms')}")
    return (
        at_least("download", "Download", "Mbit/s", policy.download_min_mbps, policy.download_min_mbps * grow),
        at_least("upload", "Upload", "Mbit/s", policy.upload_min_mbps, policy.upload_min_mbps * grow),
        at_most("idle_rtt", "Idle RTT", "ms", policy.idle_rtt_max_ms),
        loaded,
        at_most("jitter", "Jitter", "ms", policy.jitter_max_ms),
        at_most("loss", "Packet loss", "%", policy.loss_max_pct),
        at_least("mos", "Call-quality score (MOS)", "MOS", policy.mos_min, policy.mos_min + policy.mos_warn_margin),
    )


def _exact(value: float) -> float:
    return round(value, FIGURE_DECIMALS)

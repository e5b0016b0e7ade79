"""Advice in plain English a recruiter can act on: the figure against its threshold, then the cause the host
context points to (Wi-Fi, a mobile link, other traffic, a busy computer, the router's queue), or, when nothing
does, the usual remedy. Every sentence set states the measured value (or that there is none) and the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeshore.planning.figures import figure, quantity
from homeshore.planning.measurements import ReadinessMeasurements
from homeshore.planning.policy import Policy
from homeshore.planning.rules import Rule
from homeshore.planning.verdict import Status

CPU_BUSY_PCT = 90.0  # above this the test's own packets wait for the CPU: jitter and loss are the computer's

REMEDIES = {  # a FAIL's advice when the host context names no cause
    "download": "Ask the ISP for a faster package, or have the line checked if it is slower than sold.",
    "upload": "Ask the ISP for a package with more upload, or have the line checked if it is slower than sold.",
    "idle_rtt": "The line is slow to answer even when quiet: ask the ISP; satellite and mobile links often are.",
    "loaded_rtt": "Latency rises when the line is busy: enable SQM (smart queue management) on the router, or "
                  "ask the ISP.",
    "jitter": "The line's delay is unsteady: ask the ISP to check the line.",
    "loss": "Packets are being lost: check the router's cables and restart it; if it persists, ask the ISP.",
    "mos": "A test call would sound poor: fix the latency, jitter or loss problems, then repeat the check.",
}
LITTLE_HEADROOM = "Acceptable, with little headroom: repeat the check at the evening peak."
SMALL_QUEUE_GRADES = ("A+", "A")  # an RTT increase under 30 ms: the queue is not what makes RTT high
CALL_SENSITIVE = ("idle_rtt", "jitter", "loss", "mos")  # the figures a busy computer can spoil


@dataclass(frozen=True)
class Context:
    """What evaluate() knows beyond one figure, for the advice to cite."""

    measurements: ReadinessMeasurements
    policy: Policy
    loaded_phase: str | None = None  # "download" or "upload": the phase whose RTT under load was worst
    rtt_increase_ms: float | None = None
    bufferbloat_grade: str | None = None


def advise(rule: Rule, status: Status, value: float, context: Context) -> str:
    """The advice for a measured figure: the comparison, then (unless it passes) what to do."""
    shown = f"{rule.label} {_shown(rule, value, context)}"
    bound = _bound(rule)
    if status is Status.FAIL:
        comparison = f"{shown} is {'below' if rule.minimum else 'above'} {bound}."
    else:
        comparison = f"{shown} {'meets' if rule.minimum else 'is within'} {bound}"
        if status is Status.PASS:
            return comparison + "."
        side = "below" if rule.minimum else "above"
        comparison += f", with little margin (warning {side} {quantity(rule.warn_threshold, rule.unit)})."
    causes = _causes(rule.name, value, context)
    fallback = REMEDIES[rule.name] if status is Status.FAIL else LITTLE_HEADROOM
    return " ".join([comparison, *(causes or [fallback])])


def not_measured(rule: Rule, raw: float | None, context: Context | None = None) -> str:
    """The advice for a figure that is missing (None) or unusable (NaN, negative, off its scale). Where the network
    let no UDP out, the call's figures are missing for that reason, which a repeat would not change."""
    what = "was not measured" if raw is None else f"could not be used (the probe gave {raw!r})"
    blocked = raw is None and context is not None and context.measurements.udp_blocked
    why = "no packet of the test call got through (see packet loss)" if blocked else "repeat the check"
    return f"{rule.label} {what}, so {_bound(rule)} could not be checked: {why}."


def _bound(rule: Rule) -> str:
    basis = f" ({rule.basis})" if rule.basis else ""
    return f"the {quantity(rule.threshold, rule.unit)} {'minimum' if rule.minimum else 'limit'}{basis}"


def _shown(rule: Rule, value: float, context: Context) -> str:
    """The value as the recruiter should read it: speeds with the goodput they come from, RTT with its phase."""
    text = quantity(value, rule.unit)
    goodput = {"download": context.measurements.download_goodput_mbps,
               "upload": context.measurements.upload_goodput_mbps}.get(rule.name)
    if goodput is not None:
        overhead = figure(context.policy.protocol_overhead_pct)
        return f"{text} line rate ({quantity(goodput, 'Mbit/s')} goodput + {overhead}% protocol overhead)"
    if rule.name == "loaded_rtt" and context.loaded_phase:
        return f"{text} (while {context.loaded_phase}ing)"
    return text


UDP_BLOCKED = ("No packet of the test call got through: this network lets no UDP out (a firewall, a VPN, or an "
               "office or guest network), so calls would not get through from here. Use another network, or ask "
               "whoever runs this one to allow UDP.")


def _causes(name: str, value: float, context: Context) -> list[str]:
    if name == "loss" and context.measurements.udp_blocked:
        return [UDP_BLOCKED]  # the one cause: a cable or a router restart would change nothing
    found = (_link(name, context.measurements), _traffic(name, value, context), _cpu(name, context.measurements),
             _queue(name, context))
    return [cause for cause in found if cause]


def _link(name: str, m: ReadinessMeasurements) -> str | None:
    if m.connection == "wifi":
        added = m.wifi_jitter_added_ms
        if name in ("jitter", "mos") and added is not None and added > 0:
            return f"Connect by cable: Wi-Fi added {quantity(added, 'ms')} of jitter."
        return "Connect by cable: this test ran over Wi-Fi, which adds delay, jitter and loss and can cap speed."
    if m.connection == "cellular":
        return "Use a fixed broadband line: a mobile connection's speed and delay vary too much for call work."
    return None


def _traffic(name: str, value: float, context: Context) -> str | None:
    """Other traffic on the interface during the test: the household, or a program saturating the upload."""
    m, quiet = context.measurements, context.policy.quiet_traffic_max_mbps
    busy = {verb: mbps for verb, mbps in (("downloading", m.other_download_mbps), ("uploading", m.other_upload_mbps))
            if mbps is not None and mbps > quiet and (name, verb) not in (("download", "uploading"),
                                                                          ("upload", "downloading"))}
    if name == "loaded_rtt" and "uploading" in busy:
        return (f"Your upload is saturated by another program ({quantity(busy['uploading'], 'Mbit/s')} besides the "
                f"test): loaded RTT {quantity(value, 'ms')}. Pause cloud backups and large uploads during calls.")
    if not busy:
        return None
    what = " and ".join(f"{verb} ({quantity(mbps, 'Mbit/s')})" for verb, mbps in busy.items())
    return f"A measurement taken while something else was {what}: repeat it when the household is quiet."


def _cpu(name: str, m: ReadinessMeasurements) -> str | None:
    if name in CALL_SENSITIVE and m.cpu_pct is not None and m.cpu_pct >= CPU_BUSY_PCT:
        return f"The computer was busy (CPU {quantity(m.cpu_pct, '%')}) during the test: close other programs " \
               "and repeat it."
    return None


def _queue(name: str, context: Context) -> str | None:
    if name != "loaded_rtt" or context.rtt_increase_ms is None:
        return None
    if context.bufferbloat_grade in SMALL_QUEUE_GRADES:
        idle = quantity(context.measurements.idle_rtt_ms or 0.0, "ms")
        return f"Most of it is the line's idle RTT ({idle}), not the router's queue: ask the ISP."
    return (f"Your router's queue adds {quantity(context.rtt_increase_ms, 'ms')} under load (bufferbloat grade "
            f"{context.bufferbloat_grade}): enable SQM (smart queue management) on the router, or ask the ISP.")

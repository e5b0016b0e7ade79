"""Why a call window was poor: one cause from a bounded set, with its evidence, from the window's figures and
the host context of the same seconds (issue 18). Pure: numbers in, a `CauseFinding` out; thresholds from
`CausePolicy` (planning/cause_policy.py, the `[cause]` table of the policy file).

The rules, first that holds (the most local and most actionable cause first, since a local fault also shows
further out: a saturated uplink fills the home router's queue, so the gateway's round trip rises too):
1. no cause: the window is not poor (MOS, loss and jitter of both directions within the policy);
2. cpu: the machine's CPU at or above `cpu_busy_pct`;
3. upload_saturated / download_saturated: traffic on the interface over the link's capacity (the last speed
   test) at or above `*_use_max`, upload first (what the far end hears breaks first);
4. wifi_signal: on Wi-Fi, signal below `wifi_signal_min_dbm` or discarded retries above
   `wifi_retries_max_per_s`;
5. home_network: the home segment (this machine to the default gateway) loses, varies or delays beyond its
   thresholds;
6. vpn: the call goes through a VPN tunnel while the home segment is clean;
7. far_end: the far end reports loss or jitter on what we send (its RTCP receiver reports) while what we
   receive is clean: their side, or our uplink beyond the home, which we cannot tell apart without their view;
8. beyond_home: what we receive is poor while the home segment was measured and clean: the ISP or beyond;
9. unknown: poor, with no context that explains it (for instance no gateway figures to clear the home).

A figure that is not known (None) never trips a rule; the evidence lists the figures the rule used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from homeshore.collector.schema import CAUSES, CauseName  # noqa: F401 - the `cause` tag's values, re-exported
from homeshore.planning.cause_policy import CausePolicy


@dataclass(frozen=True)
class WindowFigures:
    """One call window (10 s) as the call tracker measured it.

    mos: the window's MOS (the lower of both directions where both are scored).
    inbound_*: what we receive, measured on our capture. far_end_*: what the far end receives from us, as its
    RTCP receiver reports say (RFC 3550 §6.4.2: fraction lost, interarrival jitter)."""

    mos: float | None = None
    inbound_loss_pct: float | None = None
    inbound_jitter_ms: float | None = None
    far_end_loss_pct: float | None = None
    far_end_jitter_ms: float | None = None


@dataclass(frozen=True)
class HostFigures:
    """The host over the same seconds. *_use: traffic on the interface (all of it, the call's own included)
    over the capacity the last speed test measured, 0..1 and above; vpn_kind: probe/host_vpn's tunnel kind or
    None when the route is not a tunnel."""

    cpu_pct: float | None = None
    upload_use: float | None = None
    download_use: float | None = None
    wifi_signal_dbm: float | None = None
    wifi_retries_per_s: float | None = None
    gateway_rtt_ms: float | None = None
    gateway_jitter_ms: float | None = None
    gateway_loss_pct: float | None = None
    vpn_kind: str | None = None


@dataclass(frozen=True)
class CauseFinding:
    """The cause of a poor window and the figures that name it (schema field names, units in the names)."""

    cause: CauseName
    evidence: dict[str, float | str] = field(default_factory=dict)


def _over(value: float | None, limit: float) -> bool:
    return value is not None and value > limit


def _at_least(value: float | None, limit: float) -> bool:
    return value is not None and value >= limit


def _known(**figures: float | str | None) -> dict[str, float | str]:
    return {name: value for name, value in figures.items() if value is not None}


def is_poor(window: WindowFigures, policy: CausePolicy) -> bool:
    """Whether a window needs a cause: MOS below `mos_poor_below`, or loss or jitter of either direction over
    the policy's limits."""
    return (window.mos is not None and window.mos < policy.mos_poor_below
            or _over(window.inbound_loss_pct, policy.loss_poor_pct)
            or _over(window.far_end_loss_pct, policy.loss_poor_pct)
            or _over(window.inbound_jitter_ms, policy.jitter_poor_ms)
            or _over(window.far_end_jitter_ms, policy.jitter_poor_ms))


def _home_segment_poor(host: HostFigures, policy: CausePolicy) -> bool:
    return (_over(host.gateway_loss_pct, policy.gateway_loss_max_pct)
            or _over(host.gateway_jitter_ms, policy.gateway_jitter_max_ms)
            or _over(host.gateway_rtt_ms, policy.gateway_rtt_max_ms))


def _home_segment_clean(host: HostFigures, policy: CausePolicy) -> bool:
    measured = host.gateway_loss_pct is not None and host.gateway_jitter_ms is not None
    return measured and not _home_segment_poor(host, policy)


def cause_of(window: WindowFigures, host: HostFigures, policy: CausePolicy = CausePolicy()) -> CauseFinding | None:
    """The cause of a poor window (module docstring: the rules and their order); None for a window that is not
    poor."""
    if not is_poor(window, policy):
        return None
    gateway = _known(gateway_rtt_ms=host.gateway_rtt_ms, gateway_jitter_ms=host.gateway_jitter_ms,
                     gateway_loss_pct=host.gateway_loss_pct)
    if _at_least(host.cpu_pct, policy.cpu_busy_pct):
        return CauseFinding("cpu", _known(cpu_pct=host.cpu_pct))
    if _at_least(host.upload_use, policy.upload_use_max):
        return CauseFinding("upload_saturated", _known(upload_use=host.upload_use, **gateway))
    if _at_least(host.download_use, policy.download_use_max):
        return CauseFinding("download_saturated", _known(download_use=host.download_use, **gateway))
    weak = host.wifi_signal_dbm is not None and host.wifi_signal_dbm < policy.wifi_signal_min_dbm
    if weak or _over(host.wifi_retries_per_s, policy.wifi_retries_max_per_s):
        return CauseFinding("wifi_signal", _known(wifi_signal_dbm=host.wifi_signal_dbm,
                                                  wifi_retries_per_s=host.wifi_retries_per_s, **gateway))
    if _home_segment_poor(host, policy):
        return CauseFinding("home_network", gateway)
    if host.vpn_kind is not None:
        return CauseFinding("vpn", _known(vpn_kind=host.vpn_kind, **gateway))
    inbound_poor = (_over(window.inbound_loss_pct, policy.loss_poor_pct)
                    or _over(window.inbound_jitter_ms, policy.jitter_poor_ms))
    far_end_poor = (_over(window.far_end_loss_pct, policy.loss_poor_pct)
                    or _over(window.far_end_jitter_ms, policy.jitter_poor_ms))
    if far_end_poor and not inbound_poor:
        return CauseFinding("far_end", _known(far_end_loss_pct=window.far_end_loss_pct,
                                              far_end_jitter_ms=window.far_end_jitter_ms, **gateway))
    if inbound_poor and _home_segment_clean(host, policy):
        return CauseFinding("beyond_home", _known(inbound_loss_pct=window.inbound_loss_pct,
                                                  inbound_jitter_ms=window.inbound_jitter_ms, **gateway))
    return CauseFinding("unknown", gateway)

"""The WebRTC call's figures (server/call_figures.py: per leg, or blocked) as the readiness check judges a call:
the policy's jitter, loss and MOS are the worse direction's, as `homeshore check` takes the worse leg of its
synthetic call (probe/synthetic_score.py: the leg with the lower MOS, the larger jitter). Pure.

A call that could not come up at all (no UDP path: `blocked`) is the finding that calls would not get through
from this network: no packet crossed, so its loss is 100 % and the verdict fails on it, with the reason beside.
"""

from __future__ import annotations

from typing import Any

from homeshore.probe.synthetic_score import LegScore
from homeshore.server.browser_check_document import CallFigures as CallSummary
from homeshore.server.call_figures import CallFigures


def call_summary(call: CallFigures) -> CallSummary:
    if call.blocked:
        return CallSummary(seconds=call.seconds, packets_sent=call.packets_per_leg, packets_received=0, loss_pct=100.0,
                           burst_loss_pct=None, rtt_ms=None, jitter_ms=None, r_factor=None, mos=None, blocked=True,
                           note=call.reason)
    legs = [leg for leg in (call.upstream, call.downstream) if leg is not None]
    worse = min(legs, key=lambda leg: leg.mos)  # upstream on a tie
    jitters = [leg.jitter_ms for leg in legs if leg.jitter_ms is not None]
    return CallSummary(
        seconds=call.seconds, packets_sent=call.packets_per_leg, packets_received=min(leg.packets for leg in legs),
        loss_pct=max(leg.loss.loss_pct for leg in legs), burst_loss_pct=worse.burst_loss_pct, rtt_ms=call.rtt_ms,
        jitter_ms=max(jitters) if jitters else None, r_factor=worse.r_factor, mos=worse.mos,
        mos_kind=worse.mos_kind, note=call.reason, legs=tuple(_leg(leg) for leg in legs))


def _leg(leg: LegScore) -> dict[str, Any]:
    return {"direction": leg.direction, "packets": leg.packets, "loss_pct": round(leg.loss.loss_pct, 2),
            "burst_loss_pct": round(leg.burst_loss_pct, 2),
            "jitter_ms": None if leg.jitter_ms is None else round(leg.jitter_ms, 2),
            "r_factor": round(leg.r_factor, 1), "mos": round(leg.mos, 2)}

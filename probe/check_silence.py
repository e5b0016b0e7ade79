"""Did the measurement server stop answering mid-check? (pure: phase outcomes in, the answer out)

A reflector or speed server that goes silent (paused, crashed, unplugged) makes every later probe and transfer
fail: judged as the home's, that would read as heavy loss and a FAIL ("check the router's cables") for a fault
that is not the candidate's. Loss the path causes looks different: it is scattered, and the server keeps
answering around it. So a check is "could not measure" when, from some instant on,
- the UDP replies stopped for good: the phase holding that instant has no reply during its last
  SILENT_FOR_S seconds or more (no reply at all counts too), and no later probe got one, and
- the HTTP transfers failed: every transfer from that phase on, and at least one.
SILENT_FOR_S is 50 probes in a row at 20 ms: random loss of even 30 % leaves such a run with a chance of 1e-26,
while a router's queue that delays replies beyond the drain time (bufferbloat) leaves the transfer working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from homeshore.probe.latency import LatencyResult

SILENT_FOR_S = 1.0
PHASE_NAMES = {"call": "the synthetic call", "download": "the download", "upload": "the upload"}


@dataclass(frozen=True)
class PhaseOutcome:
    """One phase of a check as the silence rule reads it.

    probe: the UDP probe's result (the synthetic call's round trip for "call"); None when no probe ran or none
    could finish. unanswered: a probe ran and nothing came back at all. transfer_failed: the HTTP transfer of a
    speed phase failed; None for the call, which has none."""

    name: str  # "call", "download" or "upload"
    probe: LatencyResult | None = None
    unanswered: bool = False
    transfer_failed: bool | None = None


@dataclass(frozen=True)
class Silence:
    """Where the server went silent: the phase, and how far into it the last reply's probe was sent."""

    phase: str
    after_s: float | None  # None: nothing came back in that phase at all

    def message(self) -> str:
        where = PHASE_NAMES.get(self.phase, self.phase)
        when = f"{self.after_s:.1f} s into {where}" if self.after_s is not None else f"before {where}"
        return (f"could not measure: the server stopped answering {when} and every later measurement failed; "
                "this says nothing about the home: repeat the check once the server is back")


def server_silence(phases: Sequence[PhaseOutcome]) -> Silence | None:
    """The instant the server stopped answering for good, or None when it kept answering (see the module)."""
    for index, phase in enumerate(phases):
        if _went_silent(phase) and _silent_from(phases[index:]):
            return Silence(phase.name, _last_reply_s(phase.probe))
    return None


def _last_reply_s(probe: LatencyResult | None) -> float | None:
    """When the last probe that got a reply was sent, from the first probe; None when none got one."""
    if probe is None or probe.received + probe.late == 0:
        return None
    return max(0.0, probe.duration_s - probe.interval_s - probe.silent_tail_s)


def _went_silent(phase: PhaseOutcome) -> bool:
    if phase.unanswered:
        return True
    return phase.probe is not None and phase.probe.silent_tail_s >= SILENT_FOR_S


def _silent_from(phases: Sequence[PhaseOutcome]) -> bool:
    """From the first of `phases` on: no probe answered after it, and every transfer failed (one at least)."""
    later_probes_answered = any(phase.probe is not None and not phase.unanswered for phase in phases[1:])
    transfers = [phase.transfer_failed for phase in phases if phase.transfer_failed is not None]
    return not later_probes_answered and bool(transfers) and all(transfers)

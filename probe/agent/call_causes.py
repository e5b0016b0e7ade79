"""A cause for each poor call window (issue 18): the call tracker's window samples and the host context of the
same seconds into planning/cause.py's rules. Pure: samples and a lookup in, findings out.

A window's figures join both directions of the call over the same 10 s: what we receive from the capture, what
the far end receives from its RTCP receiver reports (the outbound sample whose source is "rtcp"). Both
directions' samples of a window get the same cause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from homeshore.planning.cause import CauseFinding, HostFigures, WindowFigures, cause_of
from homeshore.planning.cause_policy import CausePolicy
from homeshore.quality.analyzer import WINDOW_S
from homeshore.quality.calls import END, FROM_CAPTURE, FROM_RTCP, INBOUND, OUTBOUND, CallSample


def window_figures(samples: Sequence[CallSample]) -> WindowFigures:
    """The figures of one call window from its samples (one per direction, in any order)."""
    inbound = next((s for s in samples if s.direction == INBOUND and s.source == FROM_CAPTURE), None)
    far_end = next((s for s in samples if s.direction == OUTBOUND and s.source == FROM_RTCP), None)
    scores = [s.mos for s in (inbound, far_end) if s is not None and s.mos is not None]
    return WindowFigures(
        mos=min(scores) if scores else None,
        inbound_loss_pct=inbound.loss_pct if inbound else None,
        inbound_jitter_ms=inbound.jitter_ms if inbound else None,
        far_end_loss_pct=far_end.loss_pct if far_end else None,
        far_end_jitter_ms=far_end.jitter_ms if far_end else None,
    )


def causes_for(samples: Sequence[CallSample], host_over: Callable[[float, float], HostFigures],
               policy: CausePolicy, window_s: float = WINDOW_S) -> list[CauseFinding | None]:
    """One finding per sample, in order: None for end samples and windows that are not poor."""
    windows: dict[tuple[str, float], list[CallSample]] = {}
    for sample in samples:
        if sample.phase != END:
            windows.setdefault((sample.call, sample.time_s), []).append(sample)
    found = {key: cause_of(window_figures(group), host_over(key[1], key[1] + window_s), policy)
             for key, group in windows.items()}
    return [None if s.phase == END else found[(s.call, s.time_s)] for s in samples]

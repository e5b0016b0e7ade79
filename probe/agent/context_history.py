"""The host context of the last minutes, kept so that a call window, which closes 10 s after it starts, can be
explained by what the host did in the same seconds. Pure: readings in, `HostFigures` (planning/cause.py) out.

Over a window: CPU, Wi-Fi signal, retries, gateway round trip and jitter are the mean of the readings that
overlap it; gateway loss is all echoes lost over all sent; the VPN kind is the last one seen. Figures are rounded
to 3 places, as every stored figure (quality/results.rounded): they become a window's evidence fields.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from homeshore.planning.cause import HostFigures
from homeshore.probe.gateway_probe import HomeSegment
from homeshore.quality.results import rounded

KEEP_S = 120.0  # a window closes at most ~11 s after it starts; two minutes leaves room for a slow tick


@dataclass(frozen=True)
class ContextReading:
    """The host over one sampling interval ending at `time_s` (Unix s)."""

    time_s: float
    duration_s: float
    cpu_pct: float | None = None
    gateway: HomeSegment | None = None
    wifi_signal_dbm: float | None = None
    wifi_retries_per_s: float | None = None
    vpn_kind: str | None = None
    upload_use: float | None = None
    download_use: float | None = None


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return rounded(statistics.fmean(known)) if known else None


def _max(values: Iterable[float | None]) -> float | None:
    return max((v for v in values if v is not None), default=None)


def figures_of(readings: list[ContextReading]) -> HostFigures:
    """What `readings` say together (module docstring); every figure None when none of them has it."""
    segments = [r.gateway for r in readings if r.gateway is not None and r.gateway.sent]
    sent = sum(s.sent for s in segments)
    vpn = [r.vpn_kind for r in readings if r.vpn_kind is not None]
    return HostFigures(
        cpu_pct=_mean(r.cpu_pct for r in readings),
        upload_use=_max(r.upload_use for r in readings),
        download_use=_max(r.download_use for r in readings),
        wifi_signal_dbm=_mean(r.wifi_signal_dbm for r in readings),
        wifi_retries_per_s=_mean(r.wifi_retries_per_s for r in readings),
        gateway_rtt_ms=_mean(s.rtt_mean_ms for s in segments),
        gateway_jitter_ms=_mean(s.jitter_ms for s in segments),
        gateway_loss_pct=rounded(100 * sum(s.sent - s.received for s in segments) / sent) if sent else None,
        vpn_kind=vpn[-1] if vpn else None,
    )


class ContextHistory:
    """Readings of the last `keep_s` seconds, in the order added (one writer: the host source; one reader: the
    capture source; deque appends and copies are atomic under the GIL)."""

    def __init__(self, keep_s: float = KEEP_S) -> None:
        self.keep_s = keep_s
        self._readings: deque[ContextReading] = deque()

    def add(self, reading: ContextReading) -> None:
        self._readings.append(reading)
        while self._readings and self._readings[0].time_s < reading.time_s - self.keep_s:
            self._readings.popleft()

    def figures_over(self, start_s: float, end_s: float) -> HostFigures:
        """The host over [start_s, end_s): the readings whose interval overlaps it."""
        overlapping = [r for r in list(self._readings) if r.time_s > start_s and r.time_s - r.duration_s < end_s]
        return figures_of(overlapping)

"""Bytes on an interface and CPU load over a test phase, so a result can say what else was going on.

A speed test run while the household streams a film measures the film as well. The meter counts every byte
the interface moved during the phase; the caller knows its own bytes, and the rest is other traffic
(`TrafficReading.other_traffic`): "measured while something else was downloading at 12 Mbit/s".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import psutil

BITS_PER_BYTE = 8


def nic_counters() -> Mapping[str, Any]:
    """psutil's per-interface counters, unwrapped (nowrap=True): Windows and some drivers keep 32-bit counters,
    which wrap every 4 GiB, i.e. every 5.7 minutes at 100 Mbit/s; psutil adds the wraps back so that a delta
    across one stays right. A counter that fell because the interface was recreated still gives None
    (`counter_delta`)."""
    return psutil.net_io_counters(pernic=True, nowrap=True)


def counter_delta(before: int | None, after: int | None) -> int | None:
    """after - before; None when either is missing or the counter went back (the interface was recreated,
    e.g. a VPN reconnecting, and its count restarted at zero)."""
    if before is None or after is None or after < before:
        return None
    return after - before


def cpu_busy_pct(before: NamedTuple, after: NamedTuple) -> float | None:
    """Percentage of all CPUs' time that was busy between two psutil.cpu_times() snapshots.

    psutil.cpu_percent(interval=None) does this against the previous call, kept in psutil's module state and
    shared by every caller in the process: its first call is meaningless (it compares with the import), and
    the agent's own 10 s host sampler calling it during a test would cut the test's phase short. Snapshots
    taken by the meter belong to the phase alone. Same arithmetic as psutil: guest time is already in user
    and nice on Linux, and iowait is idle time."""
    delta = {field: getattr(after, field) - getattr(before, field) for field in before._fields}
    total = sum(delta.values()) - delta.get("guest", 0) - delta.get("guest_nice", 0)
    busy = total - delta.get("idle", 0) - delta.get("iowait", 0)
    if total <= 0:
        return None
    return round(min(100.0, max(0.0, 100 * busy / total)), 1)


def mbps(byte_count: float | None, duration_s: float) -> float | None:
    """Mbit/s (10^6 bits per second, as link rates are given) of byte_count over duration_s."""
    if byte_count is None or duration_s <= 0:
        return None
    return byte_count * BITS_PER_BYTE / duration_s / 1e6


@dataclass(frozen=True)
class OtherTraffic:
    """Traffic on the interface during the phase beyond the caller's own, in Mbit/s (never below 0)."""

    rx_mbps: float | None
    tx_mbps: float | None


@dataclass(frozen=True)
class TrafficReading:
    """What an interface carried over one phase, and the CPU load meanwhile.

    rx_bytes, tx_bytes: as the interface counts them, with Ethernet, IP and TCP/UDP headers; None when the
    interface vanished or was recreated during the phase. cpu_pct: all CPUs, 0..100."""

    interface: str
    duration_s: float
    rx_bytes: int | None
    tx_bytes: int | None
    cpu_pct: float | None

    @property
    def rx_mbps(self) -> float | None:
        return mbps(self.rx_bytes, self.duration_s)

    @property
    def tx_mbps(self) -> float | None:
        return mbps(self.tx_bytes, self.duration_s)

    def other_traffic(self, own_rx_bytes: int, own_tx_bytes: int, *, own_overhead_pct: float = 0.0) -> OtherTraffic:
        """The rest after the caller's own bytes. A caller counting payload (a speed test's goodput) passes
        own_overhead_pct for the headers the interface also counts: about 4.6 % for TCP over Ethernet at
        MTU 1500 (1,514 bytes on the wire for 1,448 of payload)."""
        scale = 1 + own_overhead_pct / 100

        def rest(total: int | None, own: int) -> float | None:
            return None if total is None else mbps(max(0.0, total - own * scale), self.duration_s)

        return OtherTraffic(rest(self.rx_bytes, own_rx_bytes), rest(self.tx_bytes, own_tx_bytes))


class _Snapshot(NamedTuple):
    at_s: float
    rx_bytes: int | None
    tx_bytes: int | None
    cpu: NamedTuple


class TrafficMeter:
    """Counts an interface's bytes and the CPU load between start() and stop(); neither call blocks.

        meter = TrafficMeter("wlan0").start()
        ...  # the test phase
        reading = meter.stop()

    The data sources are parameters (psutil by default) so that tests can hand in counters of their own."""

    def __init__(self, interface: str, *, counters: Callable[[], Mapping[str, Any]] = nic_counters,
                 cpu_times: Callable[[], NamedTuple] = psutil.cpu_times,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interface = interface
        self._counters = counters
        self._cpu_times = cpu_times
        self._clock = clock
        self._start: _Snapshot | None = None

    def _snapshot(self) -> _Snapshot:
        nic = self._counters().get(self.interface)
        return _Snapshot(self._clock(), nic.bytes_recv if nic else None, nic.bytes_sent if nic else None,
                         self._cpu_times())

    def start(self) -> TrafficMeter:
        self._start = self._snapshot()
        return self

    def stop(self) -> TrafficReading:
        """The reading since start(); raises RuntimeError when start() was not called."""
        if self._start is None:
            raise RuntimeError("TrafficMeter.stop() before start()")
        start, end = self._start, self._snapshot()
        return TrafficReading(
            interface=self.interface,
            duration_s=end.at_s - start.at_s,
            rx_bytes=counter_delta(start.rx_bytes, end.rx_bytes),
            tx_bytes=counter_delta(start.tx_bytes, end.tx_bytes),
            cpu_pct=cpu_busy_pct(start.cpu, end.cpu),
        )

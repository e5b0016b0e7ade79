"""The host source: link, CPU, memory and traffic of the interface towards the collector, every
`host.interval_s`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from homeshore.collector.schema import Sample
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.runtime import Runtime
from homeshore.probe.agent_config import AgentConfig
from homeshore.probe.agent_samples import host_sample

INTERFACE_REFRESH_S = 60.0  # the route to the collector is looked up again this often (Wi-Fi <-> cable)
ROUTE_PROBE_ADDRESS = "192.0.2.1"  # TEST-NET-1: only routed by the default route; connecting sends nothing


def route_target(config: AgentConfig) -> str:
    """Where the host sample's interface leads: the collector, else the speed-test server, else the default
    route."""
    for url in (config.collector.url, "" if config.speedtest.server == "ookla" else config.speedtest.server):
        host = urlsplit(url).hostname if url else None
        if host:
            return host
    return ROUTE_PROBE_ADDRESS


class HostCollector:
    """The host source: a traffic meter running from one tick to the next on the interface in use.
    `runtime` returns the agent's current Runtime (a reload replaces it)."""

    def __init__(self, runtime: Callable[[], Runtime], health: Health) -> None:
        from homeshore.probe.host_traffic import TrafficMeter

        self.runtime = runtime
        self.health = health
        self._meter_type = TrafficMeter
        self._interface: str | None = None
        self._looked_up_s = -math.inf
        self._meter = self._new_meter()

    def _new_meter(self):
        from homeshore.probe.host import interface_towards

        if time.monotonic() - self._looked_up_s >= INTERFACE_REFRESH_S:
            self._interface = interface_towards(route_target(self.runtime().config))
            self._looked_up_s = time.monotonic()
            self.health.update(interface=self._interface)
        return self._meter_type(self._interface or "").start()

    def __call__(self) -> list[Sample]:
        from homeshore.probe.host import host_context

        reading = self._meter.stop()
        interface = self._interface
        self._meter = self._new_meter()
        context = host_context(interface, traffic=reading if interface else None)
        if not interface and reading.cpu_pct is not None:  # no route: CPU and memory still count
            from homeshore.probe.host_traffic import TrafficReading

            context = host_context(None, traffic=TrafficReading("", reading.duration_s, None, None, reading.cpu_pct))
        sample = host_sample(context, self.runtime().tags, time.time_ns())
        conn = context.link.conn if context.link else "unknown"
        if conn != self.health.conn:
            self.health.update(conn=conn)
        return [sample] if sample is not None else []

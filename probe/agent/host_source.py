"""The host source: link, CPU, memory and traffic of the interface towards the collector, and the context that
names the cause of a poor call window (issue 18): Wi-Fi (signal, noise, retries, bitrate, channel; the network
and access point as salted hashes), the kind of VPN tunnel, and the link's use against its capacity. Every
`host.interval_s`, and every CALL_INTERVAL_S while a call is up; on Wi-Fi with iw installed, one `iw` run each.
The home segment has a source of its own (gateway_source.py), so a router slow to answer never delays these.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from homeshore.collector.schema import Sample
from homeshore.probe.agent.context_history import ContextHistory, ContextReading
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.link_capacity import LinkCapacity, link_use
from homeshore.probe.agent.runtime import Runtime
from homeshore.probe.agent_config import AgentConfig
from homeshore.probe.agent_samples import host_sample

log = logging.getLogger("homeshore.agent")

INTERFACE_REFRESH_S = 60.0  # the route to the collector is looked up again this often (Wi-Fi <-> cable)
ROUTE_PROBE_ADDRESS = "192.0.2.1"  # TEST-NET-1: only routed by the default route; connecting sends nothing
CALL_INTERVAL_S = 1.0  # host context while a call is up
SALT_FILE = "host_salt"  # the secret behind the Wi-Fi hashes; never leaves the state directory


def route_target(config: AgentConfig) -> str:
    """Where the host sample's interface leads: the collector, else the speed-test server, else the default
    route."""
    for url in (config.collector.url, "" if config.speedtest.server == "ookla" else config.speedtest.server):
        host = urlsplit(url).hostname if url else None
        if host:
            return host
    return ROUTE_PROBE_ADDRESS


def host_interval_s(config: AgentConfig, call_in_progress: bool) -> float:
    """The host source's interval: CALL_INTERVAL_S during a call (never slower than configured), else
    `host.interval_s`."""
    return min(CALL_INTERVAL_S, config.host.interval_s) if call_in_progress else config.host.interval_s


def context_salt(state_dir: Path) -> bytes:
    """The agent's secret for hashing Wi-Fi names, created (0600) at first use in the state directory, so
    hashes stay equal across restarts of one agent and differ between agents."""
    path = state_dir / SALT_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        salt = secrets.token_bytes(32)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(salt.hex())
        return salt


class HostCollector:
    """The host source: a traffic meter running from one tick to the next on the interface in use, and the
    home context of each tick, kept in `history` for the capture source. `runtime` returns the agent's current
    Runtime (a reload replaces it)."""

    def __init__(self, runtime: Callable[[], Runtime], health: Health, history: ContextHistory,
                 capacity: Callable[[], LinkCapacity] = LinkCapacity) -> None:
        from homeshore.probe.host_traffic import TrafficMeter

        self.runtime = runtime
        self.health = health
        self.history = history
        self.capacity = capacity
        self._meter_type = TrafficMeter
        self._interface: str | None = None
        self._retries: int | None = None  # the Wi-Fi card's discarded-retries counter at the last tick
        self._salt: bytes | None = None
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
        now_ns = time.time_ns()
        kind = context.link.kind if context.link else "unknown"
        extra, home = self._home_context(interface, kind, reading.duration_s)
        capacity = self.capacity()
        if interface:
            use = {"upload_use": link_use(reading.tx_mbps, capacity.upload_mbps),
                   "download_use": link_use(reading.rx_mbps, capacity.download_mbps)}
            home.update(use)
            extra.update(use)
        self.history.add(ContextReading(now_ns / 1e9, reading.duration_s, reading.cpu_pct, **home))
        sample = host_sample(context, self.runtime().tags, now_ns, extra)
        conn = context.link.conn if context.link else "unknown"
        if conn != self.health.conn:
            self.health.update(conn=conn)
        return [sample] if sample is not None else []

    def _home_context(self, interface: str | None, kind: str, duration_s: float) -> tuple[dict, dict]:
        """(the host sample's extra fields, the ContextReading's figures) of this tick."""
        fields: dict[str, float | str | None] = {}
        home: dict = {}
        if interface and kind == "wifi":
            wifi = self._wifi(interface)
            if wifi is not None:
                retries_per_s = None
                if wifi.discarded_retries is not None and self._retries is not None and duration_s > 0:
                    retries_per_s = max(0, wifi.discarded_retries - self._retries) / duration_s
                self._retries = wifi.discarded_retries
                home.update(wifi_signal_dbm=wifi.signal_dbm, wifi_retries_per_s=retries_per_s)
                fields.update(wifi_noise_dbm=wifi.noise_dbm, wifi_retries_per_s=retries_per_s,
                              wifi_tx_bitrate_mbps=wifi.tx_bitrate_mbps, wifi_channel=wifi.channel,
                              wifi_ssid_hash=wifi.ssid_hash, wifi_bssid_hash=wifi.bssid_hash)
        if interface and kind == "vpn":
            from homeshore.probe.host_link import read_sysfs_facts
            from homeshore.probe.host_vpn import tunnel_kind

            home["vpn_kind"] = fields["vpn_kind"] = tunnel_kind(interface, read_sysfs_facts("/sys", interface))
        return fields, home

    def _wifi(self, interface: str):
        from homeshore.probe.host_link import parse_wireless
        from homeshore.probe.host_wifi import parse_iw_link, read_iw_link, wifi_context

        if self._salt is None:
            self._salt = context_salt(self.runtime().state_dir)
        try:
            proc_text = Path("/proc/net/wireless").read_text()
        except OSError:
            proc_text = None
        return wifi_context(parse_wireless(proc_text, interface), parse_iw_link(read_iw_link(interface)), self._salt)

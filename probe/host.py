"""Host context for `homeshore check` and the agent's host samples: which interface reaches the server, what
kind of link it is, and what else the machine and the link were doing during a test.

    interface = interface_towards(server_address)
    meter = TrafficMeter(interface).start()
    ...  # speed test, latency under load, synthetic call
    reading = meter.stop()
    context = host_context(interface, traffic=reading,
                           other=reading.other_traffic(own_rx_bytes, own_tx_bytes, own_overhead_pct=4.6))
    host_dict(context)  # the "host" object of `homeshore check --json`

The link is read by probe/host_link.py, the traffic by probe/host_traffic.py; this module joins them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from homeshore.probe.host_link import LinkInfo, link_info
from homeshore.probe.host_traffic import OtherTraffic, TrafficMeter, TrafficReading

__all__ = ["HostContext", "LinkInfo", "OtherTraffic", "TrafficMeter", "TrafficReading", "host_context",
           "host_dict", "interface_owning", "interface_towards", "link_info"]

DISCARD_PORT = 9  # any port does: connecting a UDP socket sends nothing


def interface_owning(address: str, addresses: Mapping[str, Sequence[Any]]) -> str | None:
    """The interface that holds `address`, in psutil.net_if_addrs()'s form ({name: [snicaddr, ...]}).

    IPv6 link-local addresses carry a zone there ("fe80::1%eth0"), which is dropped before comparing. When
    several interfaces hold the address (rare: an anycast or duplicated address) the first one listed wins."""
    try:
        wanted = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    for name, entries in addresses.items():
        for entry in entries:
            try:
                if ipaddress.ip_address(str(entry.address).split("%", 1)[0]) == wanted:
                    return name
            except ValueError:  # MAC addresses (AF_LINK / AF_PACKET) share the list
                continue
    return None


def interface_towards(address: str, *,
                      addresses: Callable[[], Mapping[str, Sequence[Any]]] = psutil.net_if_addrs) -> str | None:
    """The interface the kernel would send a packet to `address` through; None when there is no route.

    How: connect a UDP socket to the address (which sends nothing but makes the kernel choose the route and
    the source address, policy routing and VPN rules included), then find the interface holding that source
    address in psutil.net_if_addrs(). Why not `ip route get`: this works unchanged on macOS and Windows, needs
    no iproute2 and no subprocess, and gives the same answer except where one address sits on several
    interfaces. An IPv6 link-local destination names its interface by scope id, which is used directly.
    A host name is resolved first (this may block on DNS)."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(address, DISCARD_PORT, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(sockaddr)
            local = probe.getsockname()
        if family == socket.AF_INET6 and local[3]:
            return socket.if_indextoname(local[3])
        return interface_owning(local[0], addresses())
    except (OSError, UnicodeError):  # no route, unknown name, interface gone meanwhile
        return None


@dataclass(frozen=True)
class HostContext:
    """The host around a measurement: the link in use, and (over a test phase) traffic and CPU load.

    link is None when no interface reaches the server; traffic and other are None outside a metered phase.
    mem_pct: memory in use, 0..100."""

    link: LinkInfo | None
    traffic: TrafficReading | None
    other: OtherTraffic | None
    mem_pct: float | None


def _mem_pct() -> float | None:
    try:
        return float(psutil.virtual_memory().percent)
    except (OSError, RuntimeError):
        return None


def host_context(interface: str | None, *, traffic: TrafficReading | None = None, other: OtherTraffic | None = None,
                 sys_root: str | Path = "/sys", proc_root: str | Path = "/proc") -> HostContext:
    """Assemble the context of `interface` (as given by interface_towards: None when nothing reaches the
    server); never raises."""
    link = link_info(interface, sys_root=sys_root, proc_root=proc_root) if interface else None
    return HostContext(link=link, traffic=traffic, other=other, mem_pct=_mem_pct())


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def host_dict(context: HostContext) -> dict[str, Any]:
    """The "host" object of `homeshore check --json`: names as in the `host` measurement of the schema
    (link_mbps, cpu_pct, rx_mbps, ...), null where unknown, every key always present."""
    link, traffic, other = context.link, context.traffic, context.other
    return {
        "interface": link.interface if link else None,
        "kind": link.kind if link else "unknown",
        "conn": link.conn if link else "unknown",
        "link_mbps": link.speed_mbps if link else None,
        "mtu_bytes": link.mtu_bytes if link else None,
        "wifi_signal_dbm": link.wifi_signal_dbm if link else None,
        "wifi_link_quality": link.wifi_link_quality if link else None,
        "cpu_pct": traffic.cpu_pct if traffic else None,
        "mem_pct": context.mem_pct,
        "duration_s": _rounded(traffic.duration_s if traffic else None),
        "rx_mbps": _rounded(traffic.rx_mbps if traffic else None),
        "tx_mbps": _rounded(traffic.tx_mbps if traffic else None),
        "other_rx_mbps": _rounded(other.rx_mbps if other else None),
        "other_tx_mbps": _rounded(other.tx_mbps if other else None),
    }

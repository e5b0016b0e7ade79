"""Whether the way to a destination is a VPN tunnel, and which kind.

A call carried inside a VPN pays its encryption and encapsulation, often a detour through the company's
concentrator, and TCP-based VPNs (OpenVPN over TCP, SSL VPNs) turn loss into delay; Teams' call quality data
keeps a VPN flag for that reason. Linux tells the kind in sysfs (Documentation/ABI/testing/sysfs-class-net),
read by probe/host_link.read_sysfs_facts; names are the fallback where the attributes say nothing.

The decision is pure (`tunnel_kind`); `vpn_towards` reads the route and /sys (sys_root a parameter, so tests
pass fixture trees). IPsec in policy mode (strongSwan, libreswan without an xfrm interface) encrypts on the
physical interface itself and is not seen here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from homeshore.probe.host_link import ARPHRD_NONE, IFF_TUN, SysfsFacts, read_sysfs_facts

TunnelKind = Literal["wireguard", "tun", "tap", "ppp", "ipsec", "tunnel"]
TUNNEL_KINDS: tuple[TunnelKind, ...] = ("wireguard", "tun", "tap", "ppp", "ipsec", "tunnel")

IFF_TAP = 0x0002  # include/uapi/linux/if_tun.h
ARPHRD_PPP = 512  # include/uapi/linux/if_arp.h
ARPHRD_TUNNEL = 768  # ipip, vti
ARPHRD_TUNNEL6 = 769
ARPHRD_IPGRE = 778
# Names VPN clients give their interfaces, for kernels and platforms whose attributes say nothing.
NAME_PREFIXES: tuple[tuple[str, TunnelKind], ...] = (
    ("wg", "wireguard"), ("utun", "tun"), ("tun", "tun"), ("tap", "tap"), ("ppp", "ppp"),
    ("ipsec", "ipsec"), ("xfrm", "ipsec"), ("vti", "ipsec"),
)


@dataclass(frozen=True)
class VpnInfo:
    """The interface towards a destination and, when it is a tunnel, its kind (None: not a tunnel)."""

    interface: str
    kind: TunnelKind | None

    @property
    def is_vpn(self) -> bool:
        return self.kind is not None


def tunnel_kind(interface: str, facts: SysfsFacts | None) -> TunnelKind | None:
    """The kind of tunnel `interface` is, first rule that holds: DEVTYPE=wireguard; tun_flags IFF_TUN (OpenVPN,
    openconnect, most commercial clients) or IFF_TAP (OpenVPN in bridged mode); ARP type PPP (pppd: L2TP,
    PPTP, SSTP); a name of an IPsec interface (xfrm, vti, ipsec); ARP types of IP-in-IP and GRE tunnels, or no
    link layer at all: a tunnel of unknown kind; with no facts, a VPN client's usual name. None otherwise."""
    lowered = interface.lower()
    by_name = next((kind for prefix, kind in NAME_PREFIXES if lowered.startswith(prefix)), None)
    if facts is None:
        return by_name
    if (facts.devtype or "").lower() == "wireguard":
        return "wireguard"
    if facts.tun_flags is not None:
        if facts.tun_flags & IFF_TUN:
            return "tun"
        if facts.tun_flags & IFF_TAP:
            return "tap"
    if facts.arp_type == ARPHRD_PPP:
        return "ppp"
    if by_name == "ipsec":
        return "ipsec"
    if facts.arp_type in (ARPHRD_NONE, ARPHRD_TUNNEL, ARPHRD_TUNNEL6, ARPHRD_IPGRE):
        return by_name if by_name in ("wireguard", "tun") else "tunnel"
    return None


def vpn_towards(address: str, *, sys_root: str | Path = "/sys") -> VpnInfo | None:
    """The interface the kernel would use towards `address` and whether it is a tunnel; None when there is no
    route. May block on DNS when `address` is a name (probe/host.interface_towards)."""
    from homeshore.probe.host import interface_towards

    interface = interface_towards(address)
    if interface is None:
        return None
    facts = read_sysfs_facts(sys_root, interface) if Path(sys_root, "class", "net").is_dir() else None
    return VpnInfo(interface, tunnel_kind(interface, facts))

"""VPN detection (probe/host_vpn.py): the kind of tunnel from sysfs facts, then for real, a tun and a tap device
created in a namespace (this kernel has no wireguard, xfrm or ppp link types) and the route through each."""

from __future__ import annotations

import json
import sys

import pytest

from homeshore.probe.host_link import SysfsFacts
from homeshore.probe.host_vpn import tunnel_kind
from tests import netlab
from tests.conftest import REPO, require_tool, skip_or_fail


def facts(*, arp_type=1, devtype=None, device=False, tun_flags=None) -> SysfsFacts:
    return SysfsFacts(arp_type, devtype, device, False, tun_flags, 1500, None)


@pytest.mark.parametrize("interface, sysfs, kind", [
    ("wg0", facts(arp_type=65534, devtype="wireguard"), "wireguard"),
    ("corp", facts(arp_type=65534, devtype="wireguard"), "wireguard"),  # the kind, whatever the name
    ("tun0", facts(arp_type=65534, tun_flags=0x1001), "tun"),  # OpenVPN, openconnect: IFF_TUN | IFF_NO_PI
    ("vpn0", facts(arp_type=65534, tun_flags=0x1801), "tun"),
    ("tap0", facts(arp_type=1, tun_flags=0x1802), "tap"),  # OpenVPN bridged: Ethernet frames
    ("ppp0", facts(arp_type=512), "ppp"),  # pppd: L2TP, PPTP, SSTP
    ("xfrm0", facts(arp_type=65534), "ipsec"),
    ("vti0", facts(arp_type=768), "ipsec"),
    ("gre1", facts(arp_type=778), "tunnel"),
    ("ipip0", facts(arp_type=768), "tunnel"),
    ("nordlynx", facts(arp_type=65534), "tunnel"),  # no link layer, nothing else said
    ("eth0", facts(arp_type=1, device=True), None),
    ("wlan0", facts(arp_type=1, device=True, devtype="wlan"), None),
    ("veth-a", facts(arp_type=1), None),
    ("tunnel-ish", facts(arp_type=1, device=True), None),  # the facts outrank the name
    ("utun3", None, "tun"),  # no sysfs (macOS): the name
    ("wg0", None, "wireguard"),
    ("en0", None, None),
])
def test_tunnel_kind(interface, sysfs, kind):
    assert tunnel_kind(interface, sysfs) == kind


PROBE = ("import json, sys\nfrom homeshore.probe.host_vpn import vpn_towards\n"
         "info = vpn_towards(sys.argv[1])\n"
         "print(json.dumps(None if info is None else [info.interface, info.kind, info.is_vpn]))\n")


@pytest.mark.netns
def test_route_through_real_tun_and_tap_devices():
    """`ip netns exec` mounts the namespace's own /sys, so the probe sees the devices as the agent would."""
    require_tool("ip")
    try:
        with netlab.Lab() as lab:
            ns = lab.a.ns
            for dev, mode, net in (("tun0", "tun", "10.99.0"), ("tap0", "tap", "10.98.0")):
                netlab.run(ns, ["ip", "tuntap", "add", "dev", dev, "mode", mode])
                netlab.run(ns, ["ip", "link", "set", dev, "up"])
                netlab.run(ns, ["ip", "addr", "add", f"{net}.1/24", "dev", dev])

            def towards(address: str):
                return json.loads(netlab.run(ns, [sys.executable, "-c", PROBE, address], cwd=REPO))

            assert towards("10.99.0.5") == ["tun0", "tun", True]
            assert towards("10.98.0.5") == ["tap0", "tap", True]
            assert towards(lab.b.ipv4) == [lab.a.dev, None, False]
            assert towards("192.0.2.1") is None  # no default route in the lab
    except netlab.LabError as error:
        skip_or_fail(f"namespace lab unavailable: {error}")

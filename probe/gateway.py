"""The default gateway: the first router beyond this machine, the far end of the home segment.

Read from /proc/net/route (Linux; the kernel's IPv4 FIB, net/ipv4/fib_trie.c `fib_route_seq_show`), whose
addresses are the kernel's 32-bit values printed in hex in host byte order: 010200C0 on a little-endian machine
is 192.0.2.1. Without an IPv4 default route (an IPv6-only home), /proc/net/ipv6_route (net/ipv6/route.c
`rt6_info_seq_show`: destination, prefix length, source, prefix length, next hop, metric, refcnt, use, flags,
device; addresses as 32 hex digits in network order, numbers in hex). Parsing is pure; the reader takes the /proc
root as a parameter so tests pass fixture text (as prometheus_client's ProcessCollector takes `proc=`).
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path

RTF_UP = 0x0001  # include/uapi/linux/route.h
RTF_GATEWAY = 0x0002


@dataclass(frozen=True)
class Gateway:
    """The default route: its interface and the router's address (dotted quad, or IPv6 with the interface as
    its scope when link-local, fe80::1%eth0, as the socket needs it). Never stored or sent: only the figures
    measured towards it leave the machine."""

    interface: str
    address: str
    metric: int


def _address(hex_text: str) -> str:
    return str(ipaddress.IPv4Address(int(hex_text, 16).to_bytes(4, sys.byteorder)))


def parse_default_gateway(text: str) -> Gateway | None:
    """The default route of /proc/net/route's text (destination and mask 0, flags UP and GATEWAY); with
    several, the lowest metric, as the kernel prefers it. None when there is none or the text is garbled."""
    best: Gateway | None = None
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination, flags, metric, mask = int(fields[1], 16), int(fields[3], 16), int(fields[6]), int(fields[7], 16)
            if destination or mask or flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY:
                continue
            candidate = Gateway(fields[0], _address(fields[2]), metric)
        except ValueError:
            continue
        if best is None or candidate.metric < best.metric:
            best = candidate
    return best


def parse_default_gateway6(text: str) -> Gateway | None:
    """The IPv6 default route of /proc/net/ipv6_route's text (::/0, flags UP and GATEWAY; an unreachable
    default through lo has neither), the lowest metric first. None when there is none or the text is garbled."""
    best: Gateway | None = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 10:
            continue
        try:
            destination, length, flags = int(fields[0], 16), int(fields[1], 16), int(fields[8], 16)
            if destination or length or flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY:
                continue
            address = ipaddress.IPv6Address(bytes.fromhex(fields[4]))
            scoped = f"{address}%{fields[9]}" if address.is_link_local else str(address)
            candidate = Gateway(fields[9], scoped, int(fields[5], 16))
        except ValueError:
            continue
        if best is None or candidate.metric < best.metric:
            best = candidate
    return best


def _read(proc_root: str | Path, name: str) -> str:
    try:
        return Path(proc_root, "net", name).read_text()
    except (OSError, UnicodeDecodeError):
        return ""


def default_gateway(proc_root: str | Path = "/proc") -> Gateway | None:
    """The default gateway of this network namespace, IPv4's first, else IPv6's; None when there is none or
    /proc has neither file (macOS, Windows)."""
    return parse_default_gateway(_read(proc_root, "route")) or parse_default_gateway6(_read(proc_root, "ipv6_route"))

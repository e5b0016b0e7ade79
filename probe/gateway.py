"""The default gateway: the first router beyond this machine, the far end of the home segment.

Read from /proc/net/route (Linux; the kernel's IPv4 FIB, net/ipv4/fib_trie.c `fib_route_seq_show`), whose
addresses are the kernel's 32-bit values printed in hex in host byte order: 010200C0 on a little-endian machine
is 192.0.2.1. Parsing is pure; the reader takes the /proc root as a parameter so tests pass fixture text (as
prometheus_client's ProcessCollector takes `proc=`). IPv6-only homes (no IPv4 default route) give None.
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
    """The default route: its interface and the router's address (dotted quad). Never stored or sent: only
    the figures measured towards it leave the machine."""

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


def default_gateway(proc_root: str | Path = "/proc") -> Gateway | None:
    """The default gateway of this network namespace; None when there is none or /proc has no net/route
    (macOS, Windows)."""
    try:
        text = Path(proc_root, "net", "route").read_text()
    except (OSError, UnicodeDecodeError):
        return None
    return parse_default_gateway(text)

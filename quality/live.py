"""Live capture: one entry point, `open_capture`, that picks this platform's backend (psutil-style: callers never
branch on the OS; `homeshore calls` and the agent use only this module).

A backend is one module in BACKENDS with an `open_capture(interface, user_filter)` that returns a `Capture`, whose
frames are cut to their headers by the kernel before they reach this process (calls carry spoken card numbers):
today AF_PACKET on Linux (capture_afpacket.py, with the classic BPF program of snaplen.py). A second backend is one
new module and one line here. The modules are imported only when a capture opens, so the CLI starts without them.
"""

from __future__ import annotations

import importlib
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import psutil

from homeshore.quality.bpf import FilterError

# sys.platform prefix -> the module of its backend. "linux" also matches the "linux2" of old Pythons.
BACKENDS = {
    "linux": "homeshore.quality.capture_afpacket",
}
BATCH_PACKETS = 512  # at most this many frames per source per `frames` call: the caller gets control back to tick


class CaptureError(Exception):
    """Live capture cannot start; the message is one line for the user."""


class CapturePermissionError(CaptureError):
    pass


NO_PRIVILEGE = (
    "live capture needs root or the CAP_NET_RAW capability: run it as root (sudo), "
    "or grant the capability to the agent (the systemd unit in install/ does; by hand: "
    "sudo setcap cap_net_raw+ep \"$(readlink -f {python})\")"
)


@dataclass(frozen=True)
class CaptureStats:
    packets: int  # handed to us by the kernel
    drops: int  # dropped by the kernel because our socket buffer was full
    truncated: int  # larger than the backend's largest frame (only SIP is kept whole)


class Capture(Protocol):
    """What every backend's capture offers; `open_capture` returns one."""

    interfaces: tuple[str, ...]  # where it captures, for the user

    def frames(self, timeout_s: float) -> Iterator[tuple[float, int, bytes]]:
        """(Unix time, link type, header bytes) of the packets that arrive within `timeout_s` (or are waiting)."""
        ...

    def stats(self) -> CaptureStats:
        """Counters since the start, the kernel's drops included."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Capture: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None: ...


def open_capture(interface: str | None = None, user_filter: str | None = None, *,
                 platform: str | None = None) -> Capture:
    """Headers-only capture on `interface` (None: every interface that is up), narrowed by a tcpdump filter
    expression `user_filter`, with the backend of `platform` (default: sys.platform; tests name another).

    Raises CaptureError (one line) when capture cannot start, also on a platform without a backend, and
    FilterError for a bad `user_filter`.
    """
    platform = platform or sys.platform
    module = next((name for prefix, name in BACKENDS.items() if platform.startswith(prefix)), None)
    if module is None:
        raise CaptureError(f"live capture is not supported on this platform ({platform}); "
                           f"it is on: {', '.join(sorted(BACKENDS))}")
    capture: Capture = importlib.import_module(module).open_capture(interface, user_filter)
    return capture


def local_addresses() -> frozenset[bytes]:
    """This machine's IPv4 and IPv6 addresses, as the engine compares them (packed bytes)."""
    found = set()
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                text = address.address.split("%", 1)[0]  # fe80::1%eth0
                found.add(socket.inet_pton(address.family, text))
    return frozenset(found)


__all__ = ["BACKENDS", "Capture", "CaptureError", "CapturePermissionError", "CaptureStats", "FilterError",
           "open_capture", "local_addresses"]

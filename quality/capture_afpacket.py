"""The Linux live-capture backend (`live.open_capture` picks it): AF_PACKET sockets that only ever receive
packet headers.

The kernel cuts every packet to its headers before it is queued for us (`snaplen.py`: a classic BPF program whose
return value is the number of bytes to keep), so no audio payload is copied into this process: calls carry spoken
card numbers. The program is attached before the socket is bound to a protocol, so not one whole packet is queued
first. (scapy's `L2ListenSocket` binds, then attaches its filter, and reads each packet with a second ioctl for
its timestamp; its `sniff` dissects every packet into objects, ~100x the work we need. From scapy we take the
filter compiler, for a user's extra filter expression, and the interface names.)

Per packet, the work is one `recvmsg` (data, kernel timestamp, interface type) handed to the engine. Packets
the kernel dropped because we fell behind are counted (PACKET_STATISTICS).
"""

from __future__ import annotations

import selectors
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil

from homeshore.quality.bpf import attach, compile_user_filter, compose
from homeshore.quality.decode import LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_RAW_DLT12
from homeshore.quality.live import (BATCH_PACKETS, NO_PRIVILEGE, CaptureError, CapturePermissionError,
                                    CaptureStats)
from homeshore.quality.snaplen import headers_only_program

DLT_RAW = LINKTYPE_RAW_DLT12  # what libpcap compiles raw-IP filters for
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_OUTGOING = 4
ARPHRD_LOOPBACK = 772
PACKET_STATISTICS = 6
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_TPACKET_STATS = struct.Struct("@II")
RECEIVE_BUFFER_BYTES = 4 << 20  # ~1 s of 50 calls' headers, with room: a busy laptop may not run us for a while
MAX_FRAME_BYTES = 65536 + 64  # SIP over TCP after segmentation offload can exceed the MTU

# Device types (if_arp.h) -> the link type of the frames they give a SOCK_RAW packet socket.
_LINKTYPE_OF_HATYPE = {
    1: LINKTYPE_ETHERNET,  # ARPHRD_ETHER: Ethernet, Wi-Fi (as the host sees it), veth, bridges
    ARPHRD_LOOPBACK: LINKTYPE_ETHERNET,  # ARPHRD_LOOPBACK: Linux loopback has an all-zero Ethernet header
    65534: LINKTYPE_RAW,  # ARPHRD_NONE: tun devices (OpenVPN, WireGuard)
    519: LINKTYPE_RAW,  # ARPHRD_RAWIP: cellular modems
    512: LINKTYPE_RAW,  # ARPHRD_PPP
}


class AfPacketCapture:
    """Headers-only capture on one interface, or on every interface that is up (`interface=None`); a `live.Capture`."""

    def __init__(self, interface: str | None = None, user_filter: str | None = None):
        snap_program = headers_only_program()
        user_programs = {}
        if user_filter:  # compiled for both kinds of frames now: a bad expression fails here, before anything runs
            user_programs = {linktype: compile_user_filter(user_filter, linktype=linktype)
                             for linktype in (LINKTYPE_ETHERNET, DLT_RAW)}
        names = [interface] if interface else _interfaces_up()
        if interface and interface not in {name for _index, name in socket.if_nameindex()}:
            raise CaptureError(f"no such network interface: {interface}")
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []
        self.packets = 0
        self.drops = 0
        self.truncated = 0
        try:
            for name in names:
                linktype = _LINKTYPE_OF_HATYPE.get(_device_type(name))
                if linktype is None:
                    continue  # a device whose frames we cannot decode: capture on the others
                program = snap_program
                if user_programs:
                    program = compose(user_programs[DLT_RAW if linktype == LINKTYPE_RAW else linktype], snap_program)
                sock = _open(name, program)
                self._sockets.append(sock)
                self._selector.register(sock, selectors.EVENT_READ, linktype)
        except BaseException:
            self.close()
            raise
        if not self._sockets:
            raise CaptureError(f"no interface to capture on ({interface or 'none is up'})")
        self.interfaces = tuple(sock.getsockname()[0] for sock in self._sockets)

    def frames(self, timeout_s: float) -> Iterator[tuple[float, int, bytes]]:
        """(Unix time, link type, header bytes) of the packets that arrive within `timeout_s` (or are waiting)."""
        for key, _events in self._selector.select(timeout_s):
            sock, linktype = key.fileobj, key.data
            for _ in range(BATCH_PACKETS):
                try:
                    data, ancillary, flags, address = sock.recvmsg(MAX_FRAME_BYTES, 64, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING and address[3] == ARPHRD_LOOPBACK:
                    continue  # loopback shows each packet twice: leaving, and arriving
                self.packets += 1
                if flags & socket.MSG_TRUNC:
                    self.truncated += 1
                time_s = None
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = _TIMESPEC.unpack_from(value)
                        time_s = seconds + nanoseconds * 1e-9
                if time_s is not None:
                    yield time_s, linktype, data

    def stats(self) -> CaptureStats:
        """Counters since the start (the kernel's drop counter is read, which resets it, and accumulated)."""
        for sock in self._sockets:
            try:
                _packets, drops = _TPACKET_STATS.unpack(sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            except OSError:
                continue
            self.drops += drops
        return CaptureStats(self.packets, self.drops, self.truncated)

    def close(self) -> None:
        for sock in self._sockets:
            self._selector.unregister(sock)
            sock.close()
        self._sockets.clear()
        self._selector.close()

    def __enter__(self) -> AfPacketCapture:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _open(name: str, program) -> socket.socket:
    """A packet socket on one interface, filtered before it receives anything."""
    try:
        # Protocol 0: the socket receives nothing until bound with a protocol, after the filter is in place.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise CapturePermissionError(NO_PRIVILEGE.format(python=sys.executable)) from None
    try:
        attach(sock, program)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.bind((name, ETH_P_ALL))
        sock.setblocking(False)
        return sock
    except OSError as error:
        sock.close()
        raise CaptureError(f"cannot capture on {name}: {error.strerror or error}") from None


def _device_type(name: str) -> int | None:
    """The interface's ARPHRD_* type (if_arp.h), as the kernel publishes it."""
    try:
        return int(Path(f"/sys/class/net/{name}/type").read_text())
    except (OSError, ValueError):
        return None


def _interfaces_up() -> list[str]:
    return [name for name, stats in psutil.net_if_stats().items() if stats.isup]


open_capture = AfPacketCapture  # the backend's entry, as live.open_capture calls it

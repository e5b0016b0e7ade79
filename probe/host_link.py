"""What kind of link an interface is, and its figures: from /sys and /proc on Linux, psutil elsewhere.

A call over Wi-Fi, a 4G modem or a VPN behaves differently from one over a cable, and the advice of
`homeshore check` ("connect by cable") depends on knowing which it is. Linux says so in sysfs
(Documentation/ABI/testing/sysfs-class-net); macOS and Windows have no such tree, and psutil gives only MTU and
link speed there, so the kind is "unknown".

Parsing is pure (text in, values out) and separate from reading; the readers take the /sys and /proc roots as
parameters, so tests pass fixture trees (as prometheus_client's ProcessCollector takes `proc=`).
Nothing here raises on a missing, unreadable or garbled file: a figure it cannot read is None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from homeshore.planning.measurements import KNOWN_CONNECTIONS

Kind = Literal["wired", "wifi", "cellular", "vpn", "virtual", "loopback", "unknown"]
Source = Literal["sysfs", "psutil", "none"]

# include/uapi/linux/if_arp.h
ARPHRD_ETHER = 1
ARPHRD_RAWIP = 519  # raw-IP modems: qmi_wwan in raw-ip mode, Qualcomm rmnet, MHI
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 65534  # no link-layer header: tun and wireguard
IFF_TUN = 0x0001  # include/uapi/linux/if_tun.h; IFF_TAP (0x0002) is an Ethernet tap, used by VMs, not VPNs
UNKNOWN_SPEEDS = {-1, 0, 65535, 4294967295}  # SPEED_UNKNOWN as drivers report it (int, u16 and u32)


@dataclass(frozen=True)
class SysfsFacts:
    """The raw facts /sys/class/net/IF gives about one interface (None: absent or unreadable)."""

    arp_type: int | None
    devtype: str | None  # uevent DEVTYPE: wlan, wwan, wireguard, bridge, vlan, ...
    has_device: bool  # a `device` link: backed by hardware (PCI, USB, SDIO, ...)
    wireless: bool  # a `wireless/` directory or a `phy80211` link: a cfg80211 (Wi-Fi) device
    tun_flags: int | None
    mtu_bytes: int | None
    speed_mbps: int | None


@dataclass(frozen=True)
class WirelessStats:
    """One interface's line of /proc/net/wireless."""

    link_quality: float | None  # cfg80211's scale of 0..70 (signal + 110 dBm, clipped): 70 is excellent
    signal_dbm: float | None
    noise_dbm: float | None = None  # most cfg80211 drivers give none (-256: the kernel's "no value")
    discarded_retries: int | None = None  # frames dropped after the MAC's retry limit, since the driver loaded


@dataclass(frozen=True)
class LinkInfo:
    """An interface's kind and figures; every figure is None when the platform does not give it.

    kind: wired | wifi | cellular | vpn | virtual | loopback | unknown (see `classify`).
    speed_mbps: the negotiated link rate (Ethernet); Wi-Fi's rate is not in /sys (nl80211 only), so None there.
    wifi_signal_dbm, wifi_link_quality: from /proc/net/wireless, while the card is associated.
    source: where the figures came from: sysfs, psutil (no /sys: macOS, Windows), none (interface not found)."""

    interface: str
    kind: Kind
    speed_mbps: int | None
    mtu_bytes: int | None
    wifi_signal_dbm: float | None
    wifi_link_quality: float | None
    source: Source

    @property
    def conn(self) -> str:
        """The schema's `conn` tag, a bounded set: wired, wifi, cellular, unknown (VPN and virtual hide the
        physical link beneath them)."""
        return self.kind if self.kind in KNOWN_CONNECTIONS else "unknown"


# --- pure parsing --------------------------------------------------------------------------------------------


def parse_int(text: str | None, base: int = 10) -> int | None:
    """An integer from a sysfs attribute (base 0 reads tun_flags' 0x...); None when absent or garbled."""
    try:
        return int(text.strip(), base) if text is not None else None
    except ValueError:
        return None


def parse_speed(text: str | None) -> int | None:
    """Mbit/s from /sys/class/net/IF/speed or psutil; the kernel's and drivers' 'unknown' values give None."""
    speed = parse_int(text)
    return None if speed is None or speed in UNKNOWN_SPEEDS or speed < 0 else speed


def parse_uevent(text: str | None) -> dict[str, str]:
    """KEY=VALUE lines of a uevent file; lines without '=' are skipped."""
    pairs = (line.split("=", 1) for line in (text or "").splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _number(field: str) -> float | None:
    # wext-proc.c prints each figure followed by '.' when the driver updated it, ' ' otherwise.
    try:
        return float(field.rstrip("."))
    except ValueError:
        return None


def parse_wireless(text: str | None, interface: str) -> WirelessStats | None:
    """`interface`'s line of /proc/net/wireless (net/wireless/wext-proc.c), None when it has none.

        Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
         face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
          wlan0: 0000   49.  -61.  -256        0      0      0      0     12        0

    The kernel has already turned a dBm level into a signed number (it subtracts 0x100 when the driver flags
    IW_QUAL_DBM); a level of 0 or more is a driver's relative scale, not dBm, so it gives no signal_dbm."""
    for line in (text or "").splitlines():
        name, colon, rest = line.partition(":")
        if not colon or name.strip() != interface:
            continue
        fields = rest.split()
        if len(fields) < 3:
            return None
        level = _number(fields[2])
        noise = _number(fields[3]) if len(fields) > 3 else None
        retries = _number(fields[7]) if len(fields) > 7 else None
        return WirelessStats(link_quality=_number(fields[1]),
                             signal_dbm=level if level is not None and level < 0 else None,
                             noise_dbm=noise if noise is not None and -256 < noise < 0 else None,
                             discarded_retries=int(retries) if retries is not None and retries >= 0 else None)
    return None


def classify(facts: SysfsFacts) -> Kind:
    """The kind of link, first rule that holds:

    1. loopback: ARP type 772.
    2. wifi: a cfg80211 device (`wireless/` or `phy80211`), or DEVTYPE=wlan (usbnet's Wi-Fi dongles).
    3. cellular: DEVTYPE=wwan (usbnet/qmi_wwan, cdc_mbim) or ARP type 519, raw IP (rmnet, MHI modems).
    4. vpn: WireGuard (DEVTYPE=wireguard) or a tun device (tun_flags with IFF_TUN: OpenVPN, openconnect,
       most commercial VPN clients), or ARP type 65534 (no link layer) for kernels without those attributes.
       A tap (IFF_TAP) is Ethernet for VMs: virtual.
    5. wired: Ethernet (ARP type 1) backed by a device. A phone's USB tethering (rndis_host, cdc_ether) looks
       the same, as sysfs gives no sign of the phone's cellular link behind it.
    6. virtual: no `device` link: veth, bridge, bond, dummy, macvlan, tap.
    7. unknown: hardware of another type (InfiniBand, ppp on a serial line, ...), or unreadable attributes.
    """
    devtype = (facts.devtype or "").lower()
    if facts.arp_type == ARPHRD_LOOPBACK:
        return "loopback"
    if facts.wireless or devtype == "wlan":
        return "wifi"
    if devtype == "wwan" or facts.arp_type == ARPHRD_RAWIP:
        return "cellular"
    tun = facts.tun_flags is not None and bool(facts.tun_flags & IFF_TUN)
    if devtype == "wireguard" or tun or facts.arp_type == ARPHRD_NONE:
        return "vpn"
    if facts.has_device:
        return "wired" if facts.arp_type == ARPHRD_ETHER else "unknown"
    return "virtual" if facts.arp_type is not None else "unknown"


# --- reading -------------------------------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    """A small text file, None when it cannot be read: sysfs answers EINVAL for a virtual device's speed and
    for a link that is down, and a fixture or odd driver may hold bytes that are not text."""
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def read_sysfs_facts(sys_root: str | Path, interface: str) -> SysfsFacts | None:
    """The facts of /sys/class/net/IF under sys_root; None when the interface is not there."""
    directory = Path(sys_root, "class", "net", interface)
    if not directory.is_dir():
        return None
    return SysfsFacts(
        arp_type=parse_int(_read(directory / "type")),
        devtype=parse_uevent(_read(directory / "uevent")).get("DEVTYPE"),
        has_device=os.path.lexists(directory / "device"),
        wireless=(directory / "wireless").is_dir() or os.path.lexists(directory / "phy80211"),
        tun_flags=parse_int(_read(directory / "tun_flags"), 0),
        mtu_bytes=parse_int(_read(directory / "mtu")),
        speed_mbps=parse_speed(_read(directory / "speed")),
    )


def _not_found(interface: str) -> LinkInfo:
    return LinkInfo(interface, "unknown", None, None, None, None, "none")


def _psutil_link(interface: str) -> LinkInfo:
    """The degraded answer where there is no /sys: psutil's MTU and speed, kind unknown."""
    try:
        stats = psutil.net_if_stats().get(interface)
    except (OSError, RuntimeError):  # psutil's failures on odd platforms; the figures are only context
        stats = None
    if stats is None:
        return _not_found(interface)
    return LinkInfo(interface, "unknown", parse_speed(str(stats.speed)), stats.mtu or None, None, None, "psutil")


def link_info(interface: str, *, sys_root: str | Path = "/sys", proc_root: str | Path = "/proc") -> LinkInfo:
    """The kind, speed, MTU and Wi-Fi signal of `interface`; never raises.

    Linux: from sys_root/class/net/IF and proc_root/net/wireless (both in the caller's network namespace).
    Where sys_root has no class/net (macOS, Windows): psutil's figures, kind "unknown".
    An interface that is not there: kind "unknown", every figure None, source "none"."""
    if not Path(sys_root, "class", "net").is_dir():
        return _psutil_link(interface)
    facts = read_sysfs_facts(sys_root, interface)
    if facts is None:
        return _not_found(interface)
    wireless = parse_wireless(_read(Path(proc_root, "net", "wireless")), interface)
    return LinkInfo(
        interface=interface,
        kind=classify(facts),
        speed_mbps=facts.speed_mbps,
        mtu_bytes=facts.mtu_bytes,
        wifi_signal_dbm=wireless.signal_dbm if wireless else None,
        wifi_link_quality=wireless.link_quality if wireless else None,
        source="sysfs",
    )

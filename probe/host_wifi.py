"""Wi-Fi context where Linux tells it: /proc/net/wireless (probe/host_link.parse_wireless: link quality,
signal, noise, discarded retries) and nl80211 as `iw dev IF link` prints it (transmit bitrate, frequency,
signal, and which network and access point).

Privacy (DESIGN.md): the network's name (SSID) and the access point's address (BSSID) never leave this module
in clear. Each is an HMAC-SHA256 under the agent's own salt, shortened to 16 hex digits: equal within one home
("the same access point as at 10:40", "roamed to another"), unlinkable between homes and not reversible by
trying common names, since the salt never leaves the machine.

Parsing is pure (text in, record out); `read_iw_link` is the one I/O, and gives None where `iw` is not
installed or the interface is not Wi-Fi.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import subprocess
from dataclasses import dataclass

from homeshore.probe.host_link import WirelessStats

HASH_HEX_DIGITS = 16
IW_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class IwLink:
    """What `iw dev IF link` says of the association; the SSID and BSSID in clear: keep it in this module."""

    bssid: str | None
    ssid: str | None
    frequency_mhz: float | None
    signal_dbm: float | None
    tx_bitrate_mbps: float | None
    rx_bitrate_mbps: float | None


@dataclass(frozen=True)
class WifiContext:
    """Wi-Fi figures of the interface in use; None each where Linux does not give it.

    channel: from the frequency (IEEE 802.11 channel numbering, 2.4, 5 and 6 GHz bands).
    ssid_hash, bssid_hash: salted hashes (see the module's docstring), never the names."""

    signal_dbm: float | None
    noise_dbm: float | None
    link_quality: float | None
    discarded_retries: int | None
    tx_bitrate_mbps: float | None
    frequency_mhz: float | None
    channel: int | None
    ssid_hash: str | None
    bssid_hash: str | None


_CONNECTED = re.compile(r"^Connected to ([0-9a-fA-F:]{17})")
_FIELD = re.compile(r"^\s*([a-zA-Z ]+):\s*(.*)$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?")


def _leading_number(text: str) -> float | None:
    match = _NUMBER.match(text.strip())
    return float(match.group(0)) if match else None


def parse_iw_link(text: str | None) -> IwLink | None:
    """The association in `iw dev IF link`'s output (iw's link.c); None when not connected or unreadable.

        Connected to 64:70:02:aa:bb:cc (on wlan0)
                SSID: HomeNet
                freq: 5180
                signal: -58 dBm
                tx bitrate: 390.0 MBit/s VHT-MCS 8 80MHz short GI VHT-NSS 1
    """
    lines = (text or "").splitlines()
    first = _CONNECTED.match(lines[0]) if lines else None
    if first is None:
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        match = _FIELD.match(line)
        if match and match.group(1).strip().lower() not in fields:
            fields[match.group(1).strip().lower()] = match.group(2).strip()
    return IwLink(
        bssid=first.group(1).lower(),
        ssid=fields.get("ssid"),
        frequency_mhz=_leading_number(fields.get("freq", "")),
        signal_dbm=_leading_number(fields.get("signal", "")),
        tx_bitrate_mbps=_leading_number(fields.get("tx bitrate", "")),
        rx_bitrate_mbps=_leading_number(fields.get("rx bitrate", "")),
    )


def channel_of(frequency_mhz: float | None) -> int | None:
    """The IEEE 802.11 channel of a centre frequency (cfg80211's ieee80211_freq_khz_to_channel), None outside
    the 2.4, 5 and 6 GHz bands."""
    if frequency_mhz is None:
        return None
    mhz = int(round(frequency_mhz))
    if mhz == 2484:
        return 14
    if 2412 <= mhz < 2484:
        return (mhz - 2407) // 5
    if mhz == 5935:  # 6 GHz channel 2, the band's one exception
        return 2
    if 5955 <= mhz <= 7115:
        return (mhz - 5950) // 5
    if 4910 <= mhz <= 4980:  # 4.9 GHz (Japan)
        return (mhz - 4000) // 5
    if 5000 <= mhz < 5925:
        return (mhz - 5000) // 5
    return None


def salted_hash(value: str | None, salt: bytes) -> str | None:
    """HMAC-SHA256 of `value` under `salt`, the first HASH_HEX_DIGITS hex digits; None for None."""
    if value is None:
        return None
    return hmac.new(salt, value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:HASH_HEX_DIGITS]


def wifi_context(stats: WirelessStats | None, link: IwLink | None, salt: bytes) -> WifiContext | None:
    """Joins /proc/net/wireless and iw's figures (iw's signal when /proc has none); None when neither knows
    the interface. The SSID and BSSID leave as salted hashes only."""
    if stats is None and link is None:
        return None
    signal = stats.signal_dbm if stats and stats.signal_dbm is not None else (link.signal_dbm if link else None)
    return WifiContext(
        signal_dbm=signal,
        noise_dbm=stats.noise_dbm if stats else None,
        link_quality=stats.link_quality if stats else None,
        discarded_retries=stats.discarded_retries if stats else None,
        tx_bitrate_mbps=link.tx_bitrate_mbps if link else None,
        frequency_mhz=link.frequency_mhz if link else None,
        channel=channel_of(link.frequency_mhz) if link else None,
        ssid_hash=salted_hash(link.ssid, salt) if link else None,
        bssid_hash=salted_hash(link.bssid, salt) if link else None,
    )


def read_iw_link(interface: str, *, iw: str | None = None) -> str | None:
    """`iw dev IF link`'s output; None when iw is not installed, fails or takes too long. Blocks up to
    IW_TIMEOUT_S."""
    program = iw or shutil.which("iw")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "dev", interface, "link"], capture_output=True, text=True,
                              timeout=IW_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None

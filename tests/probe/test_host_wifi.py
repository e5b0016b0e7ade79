"""Wi-Fi context (probe/host_wifi.py, host_link.parse_wireless): fixture text as Linux and iw print it.

No machine here has a Wi-Fi card or iw, so the parsers are tested on the kernel's and iw's own formats
(net/wireless/wext-proc.c, iw's link.c), and the reader on its absence.
"""

from __future__ import annotations

import dataclasses

import pytest

from homeshore.probe.host_link import WirelessStats, parse_wireless
from homeshore.probe.host_wifi import (IwLink, WifiContext, channel_of, parse_iw_link, read_iw_link, salted_hash,
                                       wifi_context)

WIRELESS_HEADER = (
    "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
    " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
)

IW_VHT = """Connected to 64:70:02:AA:BB:CC (on wlp2s0)
\tSSID: Smith Family 5G
\tfreq: 5180.0
\tRX: 183552347 bytes (139437 packets)
\tTX: 9832745 bytes (52384 packets)
\tsignal: -67 dBm
\trx bitrate: 433.3 MBit/s VHT-MCS 9 80MHz short GI VHT-NSS 1
\ttx bitrate: 292.5 MBit/s VHT-MCS 7 80MHz VHT-NSS 1

\tbss flags:\tshort-slot-time
\tdtim period:\t1
\tbeacon int:\t100
"""
IW_24_OLD = """Connected to 00:11:22:33:44:55 (on wlan0)
\tSSID: BTHub6-XYZ
\tfreq: 2437
\tsignal: -74 dBm
\ttx bitrate: 65.0 MBit/s MCS 7
"""


@pytest.mark.parametrize("text, expected", [
    (IW_VHT, IwLink("64:70:02:aa:bb:cc", "Smith Family 5G", 5180.0, -67.0, 292.5, 433.3)),
    (IW_24_OLD, IwLink("00:11:22:33:44:55", "BTHub6-XYZ", 2437.0, -74.0, 65.0, None)),
    ("Connected to 00:11:22:33:44:55 (on wlan0)\n", IwLink("00:11:22:33:44:55", None, None, None, None, None)),
    ("Not connected.\n", None),
    ("", None),
    (None, None),
])
def test_iw_link_output(text, expected):
    assert parse_iw_link(text) == expected


@pytest.mark.parametrize("line, expected", [
    # iwlwifi: dBm level, no noise (-256: the kernel's "no value"), 17 frames dropped after the retry limit.
    (" wlp2s0: 0000   43.  -67.  -256        0      0      0     17      0        0\n",
     WirelessStats(43.0, -67.0, None, 17)),
    # A driver that reports noise.
    (" wlp2s0: 0000   30.  -80.  -95.        0      0      0      4      0        0\n",
     WirelessStats(30.0, -80.0, -95.0, 4)),
    # Relative levels only (old drivers): no dBm figure.
    (" wlp2s0: 0000   60    200   0   0 0 0 0 0 0\n", WirelessStats(60.0, None, None, 0)),
    # A short line: what it has.
    (" wlp2s0: 0000   43.  -67.\n", WirelessStats(43.0, -67.0, None, None)),
])
def test_proc_net_wireless_noise_and_retries(line, expected):
    assert parse_wireless(WIRELESS_HEADER + line, "wlp2s0") == expected


@pytest.mark.parametrize("mhz, channel", [
    (2412, 1), (2437, 6), (2472, 13), (2484, 14), (5180.0, 36), (5500, 100), (5825, 165), (4920, 184),
    (5955, 1), (6115, 33), (7115, 233), (5935, 2), (60480, None), (900, None), (None, None),
])
def test_channel_of_frequency(mhz, channel):
    assert channel_of(mhz) == channel


def test_hashes_are_salted_stable_and_short():
    salt_a, salt_b = b"a" * 32, b"b" * 32
    assert salted_hash("BTHub6-XYZ", salt_a) == salted_hash("BTHub6-XYZ", salt_a)
    assert salted_hash("BTHub6-XYZ", salt_a) != salted_hash("BTHub6-XYZ", salt_b)  # unlinkable across homes
    assert salted_hash("BTHub6-XYZ", salt_a) != salted_hash("BTHub6-XYZ2", salt_a)
    assert len(salted_hash("x", salt_a)) == 16 and int(salted_hash("x", salt_a), 16) >= 0
    import hashlib
    import hmac
    assert salted_hash("BTHub6-XYZ", salt_a) == hmac.new(salt_a, b"BTHub6-XYZ", hashlib.sha256).hexdigest()[:16]
    assert salted_hash(None, salt_a) is None


def test_wifi_context_joins_both_and_keeps_no_name_in_clear():
    salt = bytes(range(32))
    stats = parse_wireless(WIRELESS_HEADER + " wlp2s0: 0000   43.  -67.  -256  0 0 0 17 0 0\n", "wlp2s0")
    context = wifi_context(stats, parse_iw_link(IW_VHT), salt)
    assert context == WifiContext(signal_dbm=-67.0, noise_dbm=None, link_quality=43.0, discarded_retries=17,
                                  tx_bitrate_mbps=292.5, frequency_mhz=5180.0, channel=36,
                                  ssid_hash=salted_hash("Smith Family 5G", salt),
                                  bssid_hash=salted_hash("64:70:02:aa:bb:cc", salt))
    shown = repr(context) + repr(dataclasses.asdict(context))
    for secret in ("Smith", "64:70:02", "647002", "aa:bb:cc"):
        assert secret.lower() not in shown.lower()


def test_wifi_context_from_either_source_alone():
    salt = b"s"
    only_iw = wifi_context(None, parse_iw_link(IW_24_OLD), salt)
    assert (only_iw.signal_dbm, only_iw.channel, only_iw.link_quality) == (-74.0, 6, None)
    only_proc = wifi_context(WirelessStats(43.0, -67.0, None, 2), None, salt)
    assert (only_proc.signal_dbm, only_proc.tx_bitrate_mbps, only_proc.ssid_hash) == (-67.0, None, None)
    assert wifi_context(None, None, salt) is None


def test_iw_absent_or_failing_gives_nothing(tmp_path):
    assert read_iw_link("wlan0", iw=str(tmp_path / "no-such-iw")) is None
    assert read_iw_link("wlan0", iw="/bin/false") is None

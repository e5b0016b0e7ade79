"""Host context (probe/host.py, host_link.py, host_traffic.py).

Link kinds and figures are read from fixture /sys and /proc trees written here, one per kind of interface a
homeworker may have; then for real, in a namespace lab: the route to the peer, a veth's real MTU, and the bytes
of a paced RTP sender counted on the veth against the sender's own count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from homeshore.probe.host import HostContext, host_context, host_dict, interface_owning
from homeshore.probe.host_link import LinkInfo, link_info, parse_speed, parse_wireless
from homeshore.probe.host_traffic import OtherTraffic, TrafficMeter, TrafficReading, cpu_busy_pct
from tests import netlab
from tests.conftest import require_tool, skip_or_fail

WIRELESS_HEADER = (
    "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
    " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
)
WLAN_LINE = " wlan0: 0000   49.  -61.  -256        0      0      0      0     12        0\n"


# --- fixture trees ---------------------------------------------------------------------------------------------


def nic(sys_root: Path, name: str, *, arp_type: str = "1", mtu: str = "1500", speed: str | None = None,
        devtype: str | None = None, device: bool = False, wifi: bool = False, tun_flags: str | None = None) -> None:
    """Write /sys/class/net/NAME as the kernel shows it; `device` links it to a (fixture) PCI device."""
    directory = sys_root / "class" / "net" / name
    directory.mkdir(parents=True)
    uevent = f"INTERFACE={name}\nIFINDEX=3\n" + (f"DEVTYPE={devtype}\n" if devtype else "")
    files = {"type": arp_type, "mtu": mtu, "uevent": uevent, "speed": speed, "tun_flags": tun_flags}
    for file, text in files.items():
        if text is not None:
            (directory / file).write_text(text + "\n")
    if device:
        hardware = sys_root / "devices" / "pci0000:00" / name
        hardware.mkdir(parents=True)
        (directory / "device").symlink_to(hardware)
    if wifi:
        (directory / "wireless").mkdir()
        (directory / "phy80211").symlink_to(sys_root / "devices")


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """A /sys with one interface of each kind, and a /proc whose net/wireless lists wlan0 at -61 dBm."""
    sys_root, proc_root = tmp_path / "sys", tmp_path / "proc"
    nic(sys_root, "eth0", speed="1000", device=True)
    nic(sys_root, "wlan0", devtype="wlan", device=True, wifi=True)  # a Wi-Fi card's speed is not in /sys
    nic(sys_root, "wwan0", arp_type="519", mtu="1500", devtype="wwan", device=True)
    nic(sys_root, "usb0", devtype="wwan", speed="-1", device=True)  # qmi_wwan in Ethernet mode
    nic(sys_root, "veth0", mtu="1400", speed="10000")
    nic(sys_root, "br0", devtype="bridge")
    nic(sys_root, "wg0", arp_type="65534", mtu="1420", devtype="wireguard")
    nic(sys_root, "tun0", arp_type="65534", mtu="1500", tun_flags="0x1001")
    nic(sys_root, "tap0", tun_flags="0x1002")
    nic(sys_root, "lo", arp_type="772", mtu="65536")
    (proc_root / "net").mkdir(parents=True)
    (proc_root / "net" / "wireless").write_text(WIRELESS_HEADER + WLAN_LINE)
    return sys_root, proc_root


EXPECTED = [  # interface, kind, speed_mbps, mtu_bytes
    ("eth0", "wired", 1000, 1500),
    ("wlan0", "wifi", None, 1500),
    ("wwan0", "cellular", None, 1500),
    ("usb0", "cellular", None, 1500),
    ("veth0", "virtual", 10000, 1400),
    ("br0", "virtual", None, 1500),
    ("wg0", "vpn", None, 1420),
    ("tun0", "vpn", None, 1500),
    ("tap0", "virtual", None, 1500),
    ("lo", "loopback", None, 65536),
]


@pytest.mark.parametrize(("interface", "kind", "speed_mbps", "mtu_bytes"), EXPECTED)
def test_kind_and_figures_from_sysfs(roots, interface, kind, speed_mbps, mtu_bytes) -> None:
    sys_root, proc_root = roots
    link = link_info(interface, sys_root=sys_root, proc_root=proc_root)
    assert (link.kind, link.speed_mbps, link.mtu_bytes, link.source) == (kind, speed_mbps, mtu_bytes, "sysfs")
    if interface != "wlan0":
        assert (link.wifi_signal_dbm, link.wifi_link_quality) == (None, None)


def test_wifi_signal_and_quality_from_proc(roots) -> None:
    link = link_info("wlan0", sys_root=roots[0], proc_root=roots[1])
    assert (link.wifi_signal_dbm, link.wifi_link_quality, link.conn) == (-61.0, 49.0, "wifi")


def test_wifi_without_proc_net_wireless_has_no_signal(roots, tmp_path) -> None:
    link = link_info("wlan0", sys_root=roots[0], proc_root=tmp_path / "no-proc")
    assert (link.kind, link.wifi_signal_dbm, link.wifi_link_quality) == ("wifi", None, None)


def test_conn_tag_is_the_schema_set(roots) -> None:
    conns = {link_info(name, sys_root=roots[0]).conn for name, *_ in EXPECTED}
    assert conns == {"wired", "wifi", "cellular", "unknown"}


def test_garbled_and_missing_files_give_none_never_raise(tmp_path) -> None:
    sys_root = tmp_path / "sys"
    nic(sys_root, "eth9", arp_type="ether", mtu="", speed="fast", device=True, tun_flags="zz")
    (sys_root / "class" / "net" / "eth9" / "uevent").write_bytes(b"\xff\xfe DEVTYPE\x00")
    (tmp_path / "proc" / "net").mkdir(parents=True)
    (tmp_path / "proc" / "net" / "wireless").write_bytes(b"eth9: \xff garbage")
    link = link_info("eth9", sys_root=sys_root, proc_root=tmp_path / "proc")
    assert link == LinkInfo("eth9", "unknown", None, None, None, None, "sysfs")
    bare = sys_root / "class" / "net" / "bare0"
    bare.mkdir()  # a directory with nothing readable in it
    assert link_info("bare0", sys_root=sys_root).kind == "unknown"
    assert link_info("gone0", sys_root=sys_root) == LinkInfo("gone0", "unknown", None, None, None, None, "none")


@pytest.mark.parametrize(("text", "speed_mbps"), [
    ("1000\n", 1000), ("100000", 100000), ("-1", None), ("0", None), ("65535", None), ("4294967295", None),
    ("", None), ("fast", None), (None, None),
])
def test_speed_unknown_values(text, speed_mbps) -> None:
    assert parse_speed(text) == speed_mbps


@pytest.mark.parametrize(("text", "signal_dbm", "quality"), [
    (WIRELESS_HEADER + WLAN_LINE, -61.0, 49.0),
    (WIRELESS_HEADER + " wlan0: 0000   60    200   0   0 0 0 0 0 0\n", None, 60.0),  # relative level, not dBm
    (WIRELESS_HEADER + " wlan0: 0000   x.  y.\n", None, None),  # garbled figures
])
def test_proc_net_wireless_lines(text, signal_dbm, quality) -> None:
    stats = parse_wireless(text, "wlan0")
    assert (stats.signal_dbm, stats.link_quality) == (signal_dbm, quality)


@pytest.mark.parametrize("text", [WIRELESS_HEADER, WIRELESS_HEADER + " wlan1: 0000 49. -61. -256\n",
                                  " wlan0: 0000\n", "", None])
def test_proc_net_wireless_without_the_interface(text) -> None:
    assert parse_wireless(text, "wlan0") is None


def test_without_sysfs_psutil_gives_a_degraded_answer(tmp_path) -> None:
    """macOS and Windows: no /sys, so the kind is unknown, and psutil's MTU is the only figure."""
    link = link_info("lo", sys_root=tmp_path / "no-sys", proc_root=tmp_path / "no-proc")
    assert (link.kind, link.mtu_bytes, link.source) == ("unknown", psutil.net_if_stats()["lo"].mtu, "psutil")
    assert link_info("gone0", sys_root=tmp_path / "no-sys").source == "none"


# --- pure parts of the traffic meter and the context ------------------------------------------------------------

Counters = namedtuple("Counters", "bytes_recv bytes_sent")
CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait guest guest_nice")


@pytest.mark.parametrize(("after", "busy_pct"), [
    (CpuTimes(30, 0, 10, 60, 0, 0, 0), 40.0),
    (CpuTimes(10, 0, 0, 80, 10, 0, 0), 10.0),  # iowait is idle
    (CpuTimes(50, 0, 0, 50, 0, 20, 0), 50.0),  # guest time is already in user
    (CpuTimes(0, 0, 0, 0, 0, 0, 0), None),  # no time passed
])
def test_cpu_busy_pct(after, busy_pct) -> None:
    assert cpu_busy_pct(CpuTimes(0, 0, 0, 0, 0, 0, 0), after) == busy_pct


def scripted_meter(*counters: dict, interface: str = "wlan0") -> TrafficMeter:
    """A meter whose counters, CPU times and clock step through the given values, one per snapshot."""
    steps = iter(counters)
    clock = iter([100.0, 102.0])
    cpu = iter([CpuTimes(0, 0, 0, 0, 0, 0, 0), CpuTimes(25, 0, 0, 75, 0, 0, 0)])
    return TrafficMeter(interface, counters=lambda: next(steps), cpu_times=lambda: next(cpu),
                        clock=lambda: next(clock))


def test_meter_reading_over_the_phase() -> None:
    meter = scripted_meter({"wlan0": Counters(1_000, 500)}, {"wlan0": Counters(5_001_000, 1_000_500)}).start()
    assert meter.stop() == TrafficReading("wlan0", 2.0, 5_000_000, 1_000_000, 25.0)
    reading = TrafficReading("wlan0", 2.0, 5_000_000, 1_000_000, 25.0)
    assert (reading.rx_mbps, reading.tx_mbps) == (20.0, 4.0)
    assert reading.other_traffic(2_500_000, 0) == OtherTraffic(10.0, 4.0)
    assert reading.other_traffic(2_000_000, 2_000_000, own_overhead_pct=25) == OtherTraffic(10.0, 0.0)


@pytest.mark.parametrize(("before", "after"), [
    ({"wlan0": Counters(9_000, 9_000)}, {"wlan0": Counters(10, 10)}),  # recreated: counters restarted
    ({"wlan0": Counters(0, 0)}, {}),  # gone
    ({}, {"wlan0": Counters(10, 10)}),  # not there at the start
])
def test_meter_without_a_continuous_count_says_none(before, after) -> None:
    reading = scripted_meter(before, after).start().stop()
    assert (reading.rx_bytes, reading.tx_bytes, reading.rx_mbps, reading.other_traffic(0, 0)) == (
        None, None, None, OtherTraffic(None, None))


def test_meter_stop_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        TrafficMeter("lo").stop()


def test_cpu_pct_over_a_busy_phase() -> None:
    """A phase in which this process spins shows at least part of one CPU busy: a meter that relied on
    psutil.cpu_percent's meaningless first call, or mixed up busy and idle, would not."""
    meter = TrafficMeter("lo").start()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        pass
    reading = meter.stop()
    assert 100 / psutil.cpu_count() * 0.5 <= reading.cpu_pct <= 100


ADDRESSES = {
    "lo": [namedtuple("A", "address")("127.0.0.1")],
    "eth0": [namedtuple("A", "address")("52:54:00:12:34:56"), namedtuple("A", "address")("192.168.1.20"),
             namedtuple("A", "address")("fe80::5054:ff:fe12:3456%eth0")],
}


@pytest.mark.parametrize(("address", "interface"), [
    ("192.168.1.20", "eth0"), ("fe80::5054:ff:fe12:3456", "eth0"), ("127.0.0.1", "lo"), ("10.0.0.1", None),
    ("not an address", None),
])
def test_interface_owning(address, interface) -> None:
    assert interface_owning(address, ADDRESSES) == interface


def test_host_dict_keys_and_values(roots) -> None:
    reading = TrafficReading("wlan0", 2.0, 5_000_000, 1_000_000, 25.0)
    context = host_context("wlan0", traffic=reading, other=reading.other_traffic(2_500_000, 0),
                           sys_root=roots[0], proc_root=roots[1])
    assert host_dict(context) == {
        "interface": "wlan0", "kind": "wifi", "conn": "wifi", "link_mbps": None, "mtu_bytes": 1500,
        "wifi_signal_dbm": -61.0, "wifi_link_quality": 49.0, "cpu_pct": 25.0, "mem_pct": context.mem_pct,
        "duration_s": 2.0, "rx_mbps": 20.0, "tx_mbps": 4.0, "other_rx_mbps": 10.0, "other_tx_mbps": 4.0}
    assert 0 < context.mem_pct <= 100
    nothing = host_dict(HostContext(None, None, None, None))
    assert nothing["kind"] == "unknown" and set(nothing) == set(host_dict(context))
    assert json.loads(json.dumps(nothing)) == nothing


# --- for real, in a namespace lab -----------------------------------------------------------------------------

RTP_WIRE_BYTES = 12 + 160 + 8 + 20 + 14  # tests/tools/rtp_sender.py's packet on a veth: RTP, UDP, IPv4, Ethernet
SINK_PORT = 40000  # where b's sender sends to a, and a's meter process listens
SEND_PORT = 41000  # a's sender: bound in a, sends to b


@pytest.fixture(scope="module")
def lab_tools() -> None:
    if os.geteuid() != 0:
        skip_or_fail("network namespaces need root")
    require_tool("ip")


def in_namespace(ns: str, expression: str):
    """Evaluate `expression` (with `host` = homeshore.probe.host) in namespace ns, where /sys and /proc/net are
    the namespace's own (ip netns exec mounts its sysfs), as the agent inside it would; JSON back."""
    code = f"import dataclasses, json; from homeshore.probe import host; print(json.dumps({expression}))"
    return json.loads(netlab.run(ns, [sys.executable, "-c", code]))


@pytest.mark.netns
def test_interface_towards_the_peer_is_the_veth(lab_tools) -> None:
    with netlab.Lab() as lab:
        found = in_namespace(lab.a.ns, f"[host.interface_towards(a) for a in "
                                        f"({lab.b.ipv4!r}, '127.0.0.1', '192.0.2.1', 'no.such.host.invalid')]")
    assert found == [lab.a.dev, "lo", None, None]  # 192.0.2.1: the lab has no default route


@pytest.mark.netns
def test_link_info_of_a_veth_with_its_real_mtu(lab_tools) -> None:
    with netlab.Lab() as lab:
        netlab.run(lab.a.ns, ["ip", "link", "set", "dev", lab.a.dev, "mtu", "1400"])
        veth, lo = in_namespace(lab.a.ns, f"[dataclasses.asdict(host.link_info(i)) for i in ({lab.a.dev!r}, 'lo')]")
    assert (veth["kind"], veth["mtu_bytes"], veth["source"], veth["wifi_signal_dbm"]) == ("virtual", 1400, "sysfs",
                                                                                            None)
    assert (lo["kind"], lo["mtu_bytes"]) == ("loopback", 65536)


METER_PROCESS = """
import dataclasses, json, socket, sys
from homeshore.probe.host import TrafficMeter
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("", int(sys.argv[2])))  # received packets are not answered with ICMP port unreachable
meter = TrafficMeter(sys.argv[1])
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "start":
        meter.start()
        print("started", flush=True)
    else:
        print(json.dumps(dataclasses.asdict(meter.stop())), flush=True)
"""


def ask(process: subprocess.Popen, command: str | None = None) -> str:
    if command:
        process.stdin.write(command + "\n")
        process.stdin.flush()
    return process.stdout.readline().strip()


@pytest.mark.netns
def test_traffic_meter_counts_a_senders_bytes_within_5_pct(lab_tools) -> None:
    """The meter in `a` around paced RTP from a to b (tx), then from b to a (rx); the reference is each
    sender's count of packets times their size on the wire."""
    with netlab.Lab() as lab:
        meter = netlab.popen(lab.a.ns, [sys.executable, "-c", METER_PROCESS, lab.a.dev, SINK_PORT],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert ask(meter) == "ready"
            assert ask(meter, "start") == "started"
            sent = netlab.send_rtp(lab.a.ns, lab.b.ipv4, streams=1, rate_pps=500, seconds=2, port=SEND_PORT)
            outbound = TrafficReading(**json.loads(ask(meter, "stop")))
            assert ask(meter, "start") == "started"
            received = netlab.send_rtp(lab.b.ns, lab.a.ipv4, streams=1, rate_pps=500, seconds=1, port=SINK_PORT)
            inbound = TrafficReading(**json.loads(ask(meter, "stop")))
        finally:
            netlab.end_process(meter)
    tx_reference = sent["packets_sent"] * RTP_WIRE_BYTES
    rx_reference = received["packets_sent"] * RTP_WIRE_BYTES
    assert (sent["packets_sent"], received["packets_sent"]) == (1000, 500)
    assert tx_reference <= outbound.tx_bytes <= tx_reference * 1.05, outbound
    assert rx_reference <= inbound.rx_bytes <= rx_reference * 1.05, inbound
    assert outbound.duration_s >= 2.0 and 0 <= outbound.cpu_pct <= 100

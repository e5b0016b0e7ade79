"""The home segment (probe/gateway.py, icmp_wire.py, gateway_probe.py).

Pure parts on fixture text and exact arithmetic, the echo request against scapy's own ICMP; then for real in a
namespace lab whose other side is the gateway: the default route the kernel prints, the loss against nft's own
drop counter, and the round trip through a full tbf queue against the delay of the backlog tc reports.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest

from homeshore.probe.gateway import Gateway, default_gateway, parse_default_gateway, parse_default_gateway6
from homeshore.probe.gateway_probe import GatewayProbeError, HomeSegment, home_segment, probe_gateway
from homeshore.probe.icmp_wire import (echo6_reply_sequence, echo6_request, echo_reply_sequence, echo_request,
                                       internet_checksum)
from tests import netlab
from tests.conftest import require_tool, skip_or_fail

ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def route_line(iface: str, destination: str, gateway: str, flags: str, metric: int, mask: str) -> str:
    return f"{iface}\t{destination}\t{gateway}\t{flags}\t0\t0\t{metric}\t{mask}\t0\t0\t0\n"


# --- the default route ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lines, expected", [
    # A home router at 192.168.1.254 (FE01A8C0 little-endian) behind wlan0, and its LAN route.
    ([route_line("wlan0", "00000000", "FE01A8C0", "0003", 600, "00000000"),
      route_line("wlan0", "0001A8C0", "00000000", "0001", 600, "00FFFFFF")], Gateway("wlan0", "192.168.1.254", 600)),
    # Cable and Wi-Fi both up: the kernel prefers the lower metric.
    ([route_line("wlan0", "00000000", "FE01A8C0", "0003", 600, "00000000"),
      route_line("eth0", "00000000", "0100000A", "0003", 100, "00000000")], Gateway("eth0", "10.0.0.1", 100)),
    # A VPN's split routes (0/1 and 128/1) are not the default route; a route that is down does not count.
    ([route_line("tun0", "00000000", "0101080A", "0003", 0, "00000080"),
      route_line("eth0", "00000000", "0100000A", "0002", 0, "00000000")], None),
    # A default route without a gateway (a point-to-point link) has no gateway to probe.
    ([route_line("ppp0", "00000000", "00000000", "0001", 0, "00000000")], None),
    (["garbage\n", "eth0\tzz\n"], None),
    ([], None),
])
def test_default_gateway_from_route_text(lines, expected, tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "route").write_text(ROUTE_HEADER + "".join(lines))
    assert parse_default_gateway(ROUTE_HEADER + "".join(lines)) == expected
    assert default_gateway(tmp_path) == expected


def route6_line(destination: str, length: int, next_hop: str, metric: int, flags: int, device: str) -> str:
    source = f"{'0' * 32} 00"
    return f"{destination} {length:02x} {source} {next_hop} {metric:08x} 00000001 00000000 {flags:08x} {device:>8}\n"


ANY6 = "0" * 32
ROUTER6 = "fe800000000000000000000000000001"  # fe80::1, a router's link-local address


@pytest.mark.parametrize("lines, expected", [
    # An IPv6-only home: the router's link-local address as next hop, with the interface as its scope.
    ([route6_line("20010db8000000010000000000000000", 64, ANY6, 256, 0x0001, "eth0"),
      route6_line(ANY6, 0, ROUTER6, 1024, 0x0003, "eth0")], Gateway("eth0", "fe80::1%eth0", 1024)),
    # Cable and Wi-Fi: the lower metric; a global next hop needs no scope.
    ([route6_line(ANY6, 0, ROUTER6, 600, 0x0003, "wlan0"),
      route6_line(ANY6, 0, "20010db8000000000000000000000001", 100, 0x0003, "eth0")],
     Gateway("eth0", "2001:db8::1", 100)),
    # The kernel's unreachable default through lo (RTF_REJECT | RTF_NONEXTHOP, no gateway), a /0 not ::/0.
    ([route6_line(ANY6, 0, ANY6, 0xFFFFFFFF, 0x00200200, "lo"),
      route6_line("20000000000000000000000000000000", 3, ROUTER6, 1, 0x0003, "eth0")], None),
    (["garbage\n", "a b c d e f g h i j\n"], None),
])
def test_ipv6_default_gateway_from_ipv6_route_text(lines, expected, tmp_path):
    assert parse_default_gateway6("".join(lines)) == expected
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "ipv6_route").write_text("".join(lines))
    assert default_gateway(tmp_path) == expected  # no IPv4 route file: IPv6's
    (tmp_path / "net" / "route").write_text(ROUTE_HEADER + route_line("eth0", "00000000", "0100000A", "0003", 0,
                                                                      "00000000"))
    assert default_gateway(tmp_path) == Gateway("eth0", "10.0.0.1", 0)  # IPv4's first


def test_no_proc_route_means_no_gateway(tmp_path):
    assert default_gateway(tmp_path) is None


# --- ICMP on the wire -----------------------------------------------------------------------------------------


def test_checksum_is_rfc1071s_worked_example():
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (end-around carry); the checksum is its complement.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6")) == internet_checksum(bytes.fromhex("0001f203f4f5f600"))


def test_echo_request_matches_scapy_and_a_reply_is_recognised():
    from scapy.layers.inet import ICMP, IP

    payload = bytes(range(56))
    ours = echo_request(0xBEEF, 7, payload)
    assert ours == bytes(ICMP(type=8, id=0xBEEF, seq=7) / payload)
    reply = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=0, id=0xBEEF, seq=7) / payload)
    assert echo_reply_sequence(reply, 0xBEEF) == 7
    assert echo_reply_sequence(reply, 0xBEEE) is None  # another program's ping
    request = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=8, id=0xBEEF, seq=7) / payload)
    assert echo_reply_sequence(request, 0xBEEF) is None  # our own request, looped back
    corrupt = bytearray(reply)
    corrupt[-1] ^= 0xFF
    assert echo_reply_sequence(bytes(corrupt), 0xBEEF) is None
    options = bytes(IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x01\x01\x01\x00")
                    / ICMP(type=0, id=0xBEEF, seq=9) / payload)
    assert echo_reply_sequence(options, 0xBEEF) == 9  # IHL 6: the header is skipped by its length
    assert echo_reply_sequence(b"\x45" + bytes(10), 0xBEEF) is None


def test_icmpv6_echo_request_matches_scapy_and_a_reply_is_recognised():
    from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest

    payload = bytes(range(56))
    assert echo6_request(0xBEEF, 7, payload) == bytes(ICMPv6EchoRequest(id=0xBEEF, seq=7, cksum=0, data=payload))
    reply = bytes(ICMPv6EchoReply(id=0xBEEF, seq=7, cksum=0x1234, data=payload))  # what a raw socket reads
    assert echo6_reply_sequence(reply, 0xBEEF) == 7
    assert echo6_reply_sequence(reply, 0xBEEE) is None
    assert echo6_reply_sequence(echo6_request(0xBEEF, 7, payload), 0xBEEF) is None  # a request
    assert echo6_reply_sequence(reply[:7], 0xBEEF) is None


# --- the summary ----------------------------------------------------------------------------------------------

MS = 1_000_000


@pytest.mark.parametrize("sent, replies, expected", [
    ([0, 200 * MS, 400 * MS, 600 * MS], {0: 2 * MS, 1: 206 * MS, 2: 403 * MS, 3: 611 * MS},
     HomeSegment(4, 4, 0.0, 5.5, 11.0, (4 + 3 + 8) / 3)),
    ([0, 200 * MS, 400 * MS, 600 * MS], {0: 2 * MS, 2: 410 * MS}, HomeSegment(4, 2, 50.0, 6.0, 10.0, 8.0)),
    ([0, 200 * MS], {1: 203 * MS, 9: 5 * MS}, HomeSegment(2, 1, 50.0, 3.0, 3.0, None)),
    ([0, 200 * MS], {}, HomeSegment(2, 0, 100.0, None, None, None)),
    ([], {}, HomeSegment(0, 0, 0.0, None, None, None)),
])
def test_home_segment_figures(sent, replies, expected):
    assert home_segment(sent, replies) == expected  # whole milliseconds: exact in binary floating point


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        probe_gateway("192.0.2.1", count=0)


# --- live, in a namespace lab ---------------------------------------------------------------------------------

RATE_KBIT = 1000


@pytest.fixture
def home():
    """Namespace a is the home, b its gateway: a's default route goes through b."""
    for tool in ("ip", "tc", "nft"):
        require_tool(tool)
    try:
        with netlab.Lab() as lab:
            netlab.run(lab.a.ns, ["ip", "route", "add", "default", "via", lab.b.ipv4])
            yield lab
    except (netlab.LabError, OSError) as error:
        skip_or_fail(f"namespace lab unavailable: {error}")


def _probe(lab, **kwargs) -> HomeSegment:
    return netlab.in_namespace(lab.a.ns, lambda: probe_gateway(lab.b.ipv4, **kwargs))


@pytest.mark.netns
def test_the_kernels_default_route_names_the_gateway(home):
    text = netlab.run(home.a.ns, ["cat", "/proc/net/route"])
    assert parse_default_gateway(text) == Gateway(home.a.dev, home.b.ipv4, 0)


@pytest.mark.netns
def test_loss_equals_nfts_drop_counter(home):
    netlab.run(home.b.ns, ["nft", "-f", "-"], stdin=(
        "table netdev homeshore_gw {\n"
        f'  chain eg {{ type filter hook egress device "{home.b.dev}" priority 0; policy accept;\n'
        "    icmp type echo-reply numgen random mod 100 < 30 counter drop\n  }\n}\n"))
    segment = _probe(home, count=60, interval_s=0.005, timeout_s=1.0)
    ruleset = netlab.run(home.b.ns, ["nft", "list", "table", "netdev", "homeshore_gw"])
    dropped = int(re.search(r"counter packets (\d+)", ruleset).group(1))
    assert 5 <= dropped <= 35, ruleset  # 30 % of 60, loosely: the figure below is checked exactly
    assert (segment.sent, segment.sent - segment.received) == (60, dropped)
    assert segment.loss_pct == pytest.approx(100 * dropped / 60)


@pytest.mark.netns
def test_clean_segment_then_a_full_tbf_queue(home):
    clean = _probe(home, count=10, interval_s=0.01)
    assert (clean.received, clean.loss_pct) == (10, 0.0)
    assert clean.rtt_mean_ms < 5

    # The gateway's egress towards the home limited to 1 Mbit/s with up to 60 ms of queue, and filled by a
    # 3 Mbit/s UDP flow from it: every reply waits behind the backlog tc reports, backlog * 8 / rate.
    netlab.shape(home.b.ns, home.b.dev, RATE_KBIT, 1600, 60)
    backlogs: list[int] = []
    stop = threading.Event()

    def sample_backlog() -> None:
        while not stop.wait(0.05):
            out = netlab.run(home.b.ns, ["tc", "-s", "qdisc", "show", "dev", home.b.dev])
            backlogs.append(int(re.search(r"backlog (\d+)b", out).group(1)))

    with netlab.iperf3_server(home.b.ns, home.b.ipv4), \
            netlab.iperf3_client(home.a.ns, home.b.ipv4, seconds=6, reverse=True, udp_bitrate="3M"):
        netlab._wait_until(lambda: int(re.search(r"backlog (\d+)b", netlab.run(
            home.b.ns, ["tc", "-s", "qdisc", "show", "dev", home.b.dev])).group(1)) > 4000, "a full queue", 10)
        sampler = threading.Thread(target=sample_backlog)
        sampler.start()
        try:
            loaded = _probe(home, count=20, interval_s=0.1, timeout_s=1.0)
        finally:
            stop.set()
            sampler.join()
    queue_ms = sum(backlogs) / len(backlogs) * 8 / RATE_KBIT  # bytes * 8 / (kbit/s) = ms
    assert queue_ms > 20, backlogs
    assert loaded.received >= 10  # a full tbf queue also drops: what fits is answered
    assert loaded.rtt_mean_ms == pytest.approx(queue_ms, rel=0.25, abs=3), (loaded, queue_ms)
    assert loaded.rtt_mean_ms > clean.rtt_mean_ms + 20


@pytest.mark.netns
def test_an_ipv6_only_home_probes_its_routers_link_local_address():
    """The home's only default route is IPv6, via the router's link-local address: the kernel's ipv6_route
    names it, and the probe's loss equals nft's drop counter of ICMPv6 echo replies."""
    for tool in ("ip", "nft"):
        require_tool(tool)
    with netlab.Lab(ipv6=True) as lab:
        router = netlab.run(lab.b.ns, ["ip", "-6", "-o", "addr", "show", "dev", lab.b.dev, "scope", "link"]).split()[3]
        router = router.split("/")[0]
        netlab.run(lab.a.ns, ["ip", "-6", "route", "add", "default", "via", router, "dev", lab.a.dev])
        gateway = parse_default_gateway6(netlab.run(lab.a.ns, ["cat", "/proc/net/ipv6_route"]))
        assert gateway == Gateway(lab.a.dev, f"{router}%{lab.a.dev}", 1024)
        assert parse_default_gateway(netlab.run(lab.a.ns, ["cat", "/proc/net/route"])) is None
        clean = netlab.in_namespace(lab.a.ns, lambda: probe_gateway(gateway.address, count=10, interval_s=0.01))
        netlab.run(lab.b.ns, ["nft", "-f", "-"], stdin=(
            "table netdev homeshore_gw {\n"
            f'  chain eg {{ type filter hook egress device "{lab.b.dev}" priority 0; policy accept;\n'
            "    icmpv6 type echo-reply numgen random mod 100 < 30 counter drop\n  }\n}\n"))
        lossy = netlab.in_namespace(lab.a.ns, lambda: probe_gateway(gateway.address, count=60, interval_s=0.005))
        ruleset = netlab.run(lab.b.ns, ["nft", "list", "table", "netdev", "homeshore_gw"])
    dropped = int(re.search(r"counter packets (\d+)", ruleset).group(1))
    assert (clean.received, clean.loss_pct) == (10, 0.0) and clean.rtt_mean_ms < 5, clean
    assert 5 <= dropped <= 35 and (lossy.sent, lossy.sent - lossy.received) == (60, dropped), (lossy, ruleset)


def test_without_cap_net_raw_one_clear_error():
    """Run as nobody with no capabilities: the raw socket is refused, and the error says what is missing."""
    setpriv = require_tool("setpriv")
    script = ("from homeshore.probe.gateway_probe import GatewayProbeError, probe_gateway\n"
              "try:\n    probe_gateway('127.0.0.1')\nexcept GatewayProbeError as e:\n    print(e)\n")
    done = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                           sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.stdout == "the gateway probe needs CAP_NET_RAW (the agent's service grants it)\n", done.stderr

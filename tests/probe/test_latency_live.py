"""The UDP probe (probe/latency.py) against the reflector (server/reflector.py) across a veth pair.

Home is namespace a, the server namespace b. References, independent of homeshore: tshark reads what tcpdump
recorded on the home's veth (RTT between a probe leaving and its reply arriving, sizes on the wire), nft's own
packet counters count the replies the loss rule drops, iperf3 says the link was saturated, and the sockets of
the test itself count what comes back to a sender.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from homeshore.server.reflector import Reflector
from homeshore.probe import udpprobe_wire as wire
from homeshore.probe.latency import NoReflector, ServerUnreachable, UdpProbe, measure_udp
from tests import netlab
from tests.live.livecalls import require_lab

pytestmark = pytest.mark.netns

TOOLS = ("ip", "tc", "nft", "ss", "tcpdump", "tshark", "iperf3")
PORT = 8610
SHAPED_KBIT = 2_000
QUEUE_MS = 200
LOSS_PCT = 2
# 5,000 probes make the 1.3-2.7 % bound 3.5 standard deviations wide (binomial, p = 2 %): a sound probe fails
# it about once in 2,000 runs. 4 ms apart (250/s, within the reflector's default 500/s) they take 20 s.
LOSS_PROBES = 5_000
LOSS_INTERVAL_S = 0.004


@pytest.fixture(scope="module", autouse=True)
def lab_prerequisites() -> None:
    require_lab(TOOLS)


@contextmanager
def reflector_in(ns: str, bind: str = "::") -> Iterator[Reflector]:
    reflector = netlab.in_namespace(ns, Reflector(bind, PORT).start)
    try:
        yield reflector
    finally:
        reflector.stop()


def wire_rtts_ms(capture: Path) -> list[float]:
    """RTT of each answered probe on the home's wire, by tshark: a reply (from PORT) paired with the request
    carrying the same test id and sequence number (payload bytes 8 to 20)."""
    output = subprocess.run(
        ["tshark", "-n", "-r", str(capture), "-Y", f"udp.port == {PORT}", "-T", "fields",
         "-e", "frame.time_epoch", "-e", "udp.srcport", "-e", "udp.payload"],
        capture_output=True, text=True, check=True, timeout=120).stdout
    requests: dict[str, float] = {}
    rtts_ms = []
    for line in output.splitlines():
        time_s, sport, payload = line.split("\t")
        key = payload[16:40]
        if int(sport) != PORT:
            requests[key] = float(time_s)
        elif key in requests:
            rtts_ms.append((float(time_s) - requests.pop(key)) * 1000)
    return rtts_ms


# --- a clean link ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_clean_veth_no_loss_and_sub_2_ms_rtt_matching_the_wire(ipv6: bool, tmp_path: Path) -> None:
    with netlab.Lab(ipv6=True) as lab, reflector_in(lab.b.ns) as reflector:
        with netlab.tcpdump(lab.a.ns, lab.a.dev, tmp_path / "probe.pcap", bpf=["udp", "port", str(PORT)]):
            result = netlab.in_namespace(lab.a.ns, lambda: measure_udp(lab.b.address(ipv6), PORT, seconds=2))
        counters = reflector.counters
    on_wire = wire_rtts_ms(tmp_path / "probe.pcap")
    assert (result.sent, result.lost, result.duplicates, result.reordered) == (100, 0, 0, 0), result
    assert len(on_wire) == result.received == counters.replied == 100
    assert result.rtt_p90_ms < 2, result
    # The probe's RTT is the wire's plus the time through the stack on the home side: never less, barely more.
    assert statistics.median(on_wire) <= result.rtt_median_ms < statistics.median(on_wire) + 1, (on_wire, result)


# --- bufferbloat: a deep token-bucket queue, idle and saturated -------------------------------------------------


def test_rtt_under_load_rises_by_the_queue_the_load_fills(tmp_path: Path) -> None:
    """tbf at 2 Mbit/s with up to 200 ms of queue on the server's egress; iperf3 saturates that direction.

    The load is four TCP streams (a household download opens several) with loss-based congestion control
    (reno: cubic is not allowed here), which fill a queue until it drops. The machine's default, BBR, paces
    itself to keep queues short: one BBR stream left 50 ms of queue, four left 190 ms."""
    with netlab.Lab() as lab, reflector_in(lab.b.ns):
        netlab.shape(lab.b.ns, lab.b.dev, rate_kbit=SHAPED_KBIT, burst_bytes=4_000, latency_ms=QUEUE_MS)
        netlab.run(lab.b.ns, ["sysctl", "-qw", "net.ipv4.tcp_congestion_control=reno"])
        idle = netlab.in_namespace(lab.a.ns, lambda: measure_udp(lab.b.ipv4, PORT, seconds=2))
        with netlab.iperf3_server(lab.a.ns, lab.a.ipv4), \
                netlab.tcpdump(lab.a.ns, lab.a.dev, tmp_path / "loaded.pcap", bpf=["udp", "port", str(PORT)]):
            with netlab.iperf3_client(lab.b.ns, lab.a.ipv4, seconds=7, streams=4) as iperf:
                # TCP's slow start fills the queue first: half of what tbf may hold (rate x latency) is waiting
                netlab.wait_for_qdisc(lab.b.ns, lab.b.dev,
                                      min_backlog_bytes=SHAPED_KBIT * 1000 // 8 * QUEUE_MS // 1000 // 2)
                probe = netlab.in_namespace(lab.a.ns, UdpProbe(lab.b.ipv4, PORT).start)
                time.sleep(4)  # the measurement's length, under load
                loaded = probe.stop()
                report = json.loads(iperf.communicate(timeout=20)[0])
    load_kbit = report["end"]["sum_received"]["bits_per_second"] / 1000
    assert load_kbit > 0.8 * SHAPED_KBIT, f"iperf3 did not saturate the link: {load_kbit:.0f} kbit/s"
    assert idle.rtt_median_ms < 2 and idle.loss_pct == 0, idle
    assert loaded.rtt_median_ms >= idle.rtt_median_ms + 100, (idle, loaded)
    assert loaded.rtt_max_ms < QUEUE_MS + 50, loaded  # tbf holds no more than its latency's worth
    on_wire = statistics.median(wire_rtts_ms(tmp_path / "loaded.pcap"))
    assert on_wire <= loaded.rtt_median_ms < on_wire + 2, (on_wire, loaded)


# --- random loss, counted by nft ---------------------------------------------------------------------------------


def test_random_loss_is_measured_exactly_as_nft_dropped_it() -> None:
    with netlab.Lab() as lab, reflector_in(lab.b.ns):
        script = netlab.random_loss(lab.b.ns, lab.b.dev, LOSS_PCT, udp_sport=PORT)
        table, chain = re.search(r"table netdev (\S+)", script)[1], re.search(r"chain (\S+)", script)[1]
        # Counters around netlab's drop rule (which counts what it drops): the first counts replies reaching it, the
        # last those it let pass.
        netlab.run(lab.b.ns, ["nft", "insert", "rule", "netdev", table, chain, "udp", "sport", PORT, "counter"])
        netlab.run(lab.b.ns, ["nft", "add", "rule", "netdev", table, chain, "udp", "sport", PORT, "counter"])
        result = netlab.in_namespace(lab.a.ns, lambda: measure_udp(
            lab.b.ipv4, PORT, seconds=LOSS_PROBES * LOSS_INTERVAL_S, interval_s=LOSS_INTERVAL_S))
        replies, dropped, passed = netlab.nft_counts(lab.b.ns, table)
    assert dropped == replies - passed, (replies, dropped, passed)
    assert result.sent == replies >= LOSS_PROBES - 5, (result, replies)
    assert (result.lost, result.late, result.duplicates) == (replies - passed, 0, 0), (result, replies, passed)
    assert 1.3 <= result.loss_pct <= 2.7, result


# --- the reflector's safety, run as its own process ----------------------------------------------------------------


def raw_udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    """An IPv4/UDP packet with any source address; the kernel fills in the IP checksum, UDP's may be 0."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0, 64, socket.IPPROTO_UDP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def timed_replies_to(sock: socket.socket, wait_s: float = 0.5) -> list[tuple[float, bytes]]:
    """Every datagram arriving on `sock` until none came for wait_s, with its monotonic arrival time."""
    received = []
    sock.settimeout(wait_s)
    while True:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return received
        received.append((time.monotonic(), data))


def replies_to(sock: socket.socket, wait_s: float = 0.5) -> list[bytes]:
    return [data for _, data in timed_replies_to(sock, wait_s)]


def exchange(sock: socket.socket, packets: list[bytes], wait_s: float = 0.5) -> list[bytes]:
    for packet in packets:
        sock.send(packet)
    return replies_to(sock, wait_s)


MALFORMED = [b"", b"\x00" * 200, b"HSPR", wire.encode_request(1, 0, 0)[:30], wire.encode_request(1, 0, 0) + b"x",
             wire.encode_request(1, 0, 0).replace(b"HSPR", b"HSPX"), bytes(wire.MAX_SIZE + 100),
             wire.reply_to(wire.encode_request(1, 0, 0), 5)]  # a reply is never answered: no ping-pong
RATE_PPS, BURST, TESTS = 100, 20, 2
FLOOD = 3_000


def safety_session(lab: netlab.Lab) -> dict[str, object]:
    """What a client in the home sees from a reflector limited to 100 packets/s, a burst of 20, 2 tests."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((lab.a.ipv4, 0))
    sock.connect((lab.b.ipv4, PORT))
    test_id = secrets.randbits(64)
    seen: dict[str, object] = {}
    sizes = [wire.MIN_SIZE, wire.G711_SIZE, wire.MAX_SIZE]
    seen["sizes"] = sizes, [len(r) for r in exchange(sock, [wire.encode_request(test_id, i, 0, n)
                                                            for i, n in enumerate(sizes)])]
    # Four more tests at once from the same address: one fits beside the first, three are refused.
    seen["new_tests"] = len(exchange(sock, [wire.encode_request(secrets.randbits(64), 0, 0) for _ in range(4)]))
    seen["malformed"] = len(exchange(sock, MALFORMED))
    # A well-formed probe that claims to come from 10.77.0.99, port and all ours: its reply goes there, not here.
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        raw.sendto(raw_udp("10.77.0.99", sock.getsockname()[1], lab.b.ipv4, PORT,
                           wire.encode_request(test_id, 10, 0)), (lab.b.ipv4, 0))
    seen["spoofed"] = len(replies_to(sock))
    time.sleep(2 * BURST / RATE_PPS)  # the bucket fills up again
    started = time.monotonic()
    for seq in range(FLOOD):
        sock.send(wire.encode_request(test_id, 100 + seq, 0))
    flood_replies = timed_replies_to(sock)
    # The reflector may still be reading the flood from its socket buffer after the last send (a loaded machine
    # deschedules it): the bucket refills over the time it answered, which ends with the last reply.
    seen["flood_s"] = (flood_replies[-1][0] if flood_replies else time.monotonic()) - started
    seen["flood_replies"] = len(flood_replies)
    sock.close()
    return seen


def test_reflector_answers_only_well_formed_probes_to_their_sender_at_equal_size_and_cuts_floods() -> None:
    with netlab.Lab() as lab:
        argv = [sys.executable, "-m", "homeshore.server.reflector", "--bind", lab.b.ipv4, "--port", PORT,
                "--packets-per-s", RATE_PPS, "--burst-packets", BURST, "--tests-per-source", TESTS]
        process = netlab.popen(lab.b.ns, argv, stdout=subprocess.PIPE, text=True, cwd=netlab.REPO)
        try:
            assert json.loads(process.stdout.readline()) == {"listening": lab.b.ipv4, "port": PORT}
            seen = netlab.in_namespace(lab.a.ns, lambda: safety_session(lab))
        finally:
            netlab.end_process(process)
        counters = json.loads(process.stdout.readlines()[-1])
    sizes, reply_sizes = seen["sizes"]
    assert reply_sizes == sizes
    assert seen["new_tests"] == 1 and counters["too_many_tests"] == 3
    assert seen["malformed"] == 0 and counters["malformed"] == len(MALFORMED)
    assert seen["spoofed"] == 0
    # At most the burst plus what the bucket refilled during the flood; at least the burst.
    allowed = BURST + RATE_PPS * seen["flood_s"] + 1
    assert BURST <= seen["flood_replies"] <= allowed, seen
    # The kernel may drop part of a flood before the reflector reads it; what it read is accounted for: every
    # flood packet it read was answered or refused by the rate limit, and it read far more than it answered.
    assert counters["received"] == sum(count for name, count in counters.items() if name != "received"), counters
    before_flood = len(sizes) + 4 + len(MALFORMED) + 1
    flood_read = counters["received"] - before_flood
    assert counters["rate_limited"] == flood_read - seen["flood_replies"], counters
    assert counters["rate_limited"] > seen["flood_replies"], (counters, seen)
    # Everything answered went to the home, but the spoofed probe's reply, which went to 10.77.0.99.
    assert counters["replied"] == 3 + 1 + 1 + seen["flood_replies"], counters


# --- replies duplicated and reordered (a misbehaving path, emulated by a hand-made reflector) ----------------------


def misbehaving_reflector(sock: socket.socket, probes: int) -> None:
    """Answer `probes` probes, each reply sent twice; replies to every 5th probe (from the 3rd) are held back
    and sent after the reply to the next one."""
    held: list[bytes] = []
    for _ in range(probes):
        data, sender = sock.recvfrom(4096)
        reply = wire.reply_to(data, time.monotonic_ns())
        if wire.decode(data).seq % 5 == 2:
            held = [reply, reply]
            continue
        for packet in [reply, reply, *held]:
            sock.sendto(packet, sender)
        held = []
    sock.close()


def test_duplicated_and_reordered_replies_are_counted() -> None:
    with netlab.Lab() as lab:
        sock = netlab.in_namespace(lab.b.ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        sock.bind((lab.b.ipv4, PORT))
        probes = 50
        server = threading.Thread(target=misbehaving_reflector, args=(sock, probes))
        server.start()
        result = netlab.in_namespace(lab.a.ns, lambda: measure_udp(lab.b.ipv4, PORT, seconds=probes * 0.02,
                                                             reply_timeout_s=0.5))
        server.join()
    assert (result.sent, result.lost) == (probes, 0), result
    assert (result.duplicates, result.reordered) == (probes, probes // 5), result


# --- could not reach -----------------------------------------------------------------------------------------------


def could_not_reach(lab: netlab.Lab, server: str) -> tuple[Exception, float]:
    started = time.monotonic()
    with pytest.raises((ServerUnreachable, NoReflector)) as caught:
        netlab.in_namespace(lab.a.ns, lambda: measure_udp(server, PORT, seconds=1))
    return caught.value, time.monotonic() - started


def test_no_reflector_no_route_and_udp_dropped_each_say_so_in_one_line() -> None:
    with netlab.Lab() as lab:
        no_reflector, _ = could_not_reach(lab, lab.b.ipv4)
        no_route, _ = could_not_reach(lab, "192.0.2.1")  # TEST-NET-1: the home has no route there
        netlab.run(lab.b.ns, ["nft", "-f", "-"], stdin=(
            "table inet firewall {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
            f"  udp dport {PORT} drop\n }}\n}}\n"))
        dropped, silent_s = could_not_reach(lab, lab.b.ipv4)
    messages = [str(error) for error in (no_reflector, no_route, dropped)]
    assert all("\n" not in message and "Traceback" not in message for message in messages), messages
    assert isinstance(no_reflector, NoReflector)  # the ICMP answer itself, not the 3-s wait running out
    assert str(no_reflector) == f"{lab.b.ipv4} answered that nothing listens on UDP port {PORT}: " \
                                "no homeshore reflector there"
    assert isinstance(no_route, ServerUnreachable)
    assert str(no_route) == f"cannot reach 192.0.2.1: {os.strerror(errno.ENETUNREACH)}"
    assert isinstance(dropped, ServerUnreachable) and silent_s >= 3  # the 3 s were waited for
    assert str(dropped) == f"no reply from {lab.b.ipv4} port {PORT} within 3 s: " \
                           "the server is down or UDP is blocked on the way"

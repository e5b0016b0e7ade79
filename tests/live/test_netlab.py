"""Proofs that the network lab (tests/netlab.py) makes the conditions live-capture tests rely on.

tshark (`-z rtp,streams`, through tests/references/tshark.py) reads every capture, so a lab that quietly
lost, added or mistimed packets fails here rather than in the tests of homeshore built on it. Each proof is
a bound a broken lab misses: a call too short, loss on the wrong side or of the wrong size, no added jitter,
a sender that miscounts or drifts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import netlab
from tests.conftest import skip_or_fail
from tests.live.livecalls import require_lab
from tests.references.tshark import TsharkStream, rtp_streams

pytestmark = pytest.mark.netns

TOOLS = ("ip", "tc", "nft", "ss", "sysctl", "tcpdump", "tshark", "sipp", "iperf3")
CALL_PACKETS = 1_600  # 32 s of 20 ms packets: the >= 1,500 packets each way asked of a call
# 2,500 packets make the 5 % ± 1.5 points bound 3.4 standard deviations wide: a sound lab fails it once in
# about 1,700 runs, a lab dropping 3 % or 7 % in 85 to 95 runs of 100.
LOSS_CALL_PACKETS = 2_500
LOSS_PCT = 5
LOSS_TOLERANCE_POINTS = 1.5
JITTER_CALL_PACKETS = 600  # 12 s, of which 8 s under load: many TCP sawtooth cycles on a 1 Mbit/s link
SHAPED_KBIT = 1_000
SIGNALLING_MARGIN_S = 2.0
IP_RECVTTL = 12  # <linux/in.h>; Python's socket module does not name it


@pytest.fixture(scope="module", autouse=True)
def lab_prerequisites() -> None:
    require_lab(TOOLS)
    if not netlab.SIPP_AUDIO.is_file():
        skip_or_fail(f"{netlab.SIPP_AUDIO} (package sip-tester) is missing")


@dataclass(frozen=True)
class RecordedCall:
    """A sipp call recorded on the UAC's veth, with the two RTP streams tshark found in the recording."""

    call: netlab.SippCall
    capture: netlab.Capture
    streams: list[TsharkStream]
    sent: TsharkStream  # UAC -> UAS, leaving the UAC
    echoed: TsharkStream  # UAS -> UAC, the -rtp_echo of `sent`, arriving at the UAC


def the_stream_from(streams: list[TsharkStream], source: str) -> TsharkStream:
    matching = [stream for stream in streams if stream.src == source]
    assert len(matching) == 1, f"expected one RTP stream from {source}; tshark found {streams}"
    return matching[0]


def record_call(lab: netlab.Lab, directory: Path, rtp_packets: int) -> RecordedCall:
    """Place one call from lab.a to lab.b while tcpdump records lab.a's veth."""
    with netlab.tcpdump(lab.a.ns, lab.a.dev, directory / "call.pcap") as capture:
        call = netlab.sipp_call(lab.a, lab.b, rtp_packets=rtp_packets, log_dir=directory / "sipp")
    assert (call.uac_exit, call.uas_exit) == (0, 0), f"sipp failed; its logs are in {call.log_dir}"
    assert capture.dropped == 0, f"tcpdump lost packets; see {capture.log}"
    streams = rtp_streams(capture.path)
    return RecordedCall(call, capture, streams, the_stream_from(streams, call.uac_rtp),
                        the_stream_from(streams, call.uas_rtp))


def loss_pct(stream: TsharkStream) -> float:
    return 100 * stream.lost / (stream.packets + stream.lost)


@pytest.fixture(scope="module")
def clean_call(tmp_path_factory) -> RecordedCall:
    """One call on an unconditioned link."""
    with netlab.Lab() as lab:
        return record_call(lab, tmp_path_factory.mktemp("clean-call"), CALL_PACKETS)


# --- the lab itself -------------------------------------------------------------------------------------------


def test_lab_deletes_its_namespaces_even_when_the_body_fails():
    with pytest.raises(RuntimeError, match="body failed"):
        with netlab.Lab(ipv6=True) as lab:
            names = {lab.a.ns, lab.b.ns}
            assert names <= set(netlab.list_namespaces())
            raise RuntimeError("body failed")
    assert not names & set(netlab.list_namespaces())


def test_sweep_deletes_namespaces_of_dead_runs_only():
    dead = f"{netlab.PREFIX}{_freed_pid()}-1a"  # a run that died
    alive = f"{netlab.PREFIX}1-1a"  # pid 1 is always running: another run still at work
    for name in (dead, alive):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        swept = netlab.sweep_stale_namespaces()
        remaining = set(netlab.list_namespaces())
    finally:
        for name in (dead, alive):
            subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    assert dead in swept and dead not in remaining
    assert alive not in swept and alive in remaining


def test_a_chain_routes_end_to_end_through_its_middle_and_deletes_everything():
    """home -- router -- isp -- far: a datagram from each end reaches the other over three hops (TTL 64 - 2 as it
    arrives: forwarded by router and isp, not short-cut), and a failing body leaves no namespace behind."""
    with pytest.raises(RuntimeError, match="body failed"):
        with netlab.Chain(("home", "router", "isp", "far")) as chain:
            names = set(chain.namespaces.values())
            assert names <= set(netlab.list_namespaces())
            home, far = chain.hosts["home"], chain.hosts["far"]
            assert (home.ipv4, chain.left("router").ipv4, chain.right("router").ipv4, far.ipv4) == \
                ("10.77.1.1", "10.77.1.2", "10.77.2.1", "10.77.3.2")
            for source, target in ((home, far), (far, home)):
                assert netlab.in_namespace(target.ns, lambda: _ttl_of_one_datagram(source, target)) == 62
            raise RuntimeError("body failed")
    assert not names & set(netlab.list_namespaces())


def _ttl_of_one_datagram(source: netlab.Host, target: netlab.Host) -> int:
    """Run in target's namespace: receive one UDP datagram that `source` sends from its own namespace; its TTL."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        receiver.bind((target.ipv4, 0))
        receiver.settimeout(10)
        port = receiver.getsockname()[1]
        send_one = ("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                    f".sendto(b'x', ('{target.ipv4}', {port}))")
        netlab.run(source.ns, [sys.executable, "-c", send_one])
        _, ancillary, _, _ = receiver.recvmsg(16, socket.CMSG_SPACE(4))
        (level, kind, data), = ancillary
        assert (level, kind) == (socket.IPPROTO_IP, socket.IP_TTL)
        return int.from_bytes(data, sys.byteorder)


def _freed_pid() -> int:
    """The pid of a process that has just ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# --- calls ------------------------------------------------------------------------------------------------------


def test_clean_call_carries_both_directions_complete(clean_call):
    assert len(clean_call.streams) == 2, clean_call.streams
    for stream in (clean_call.sent, clean_call.echoed):
        assert stream.payload == "g711A"
        assert stream.packets == CALL_PACKETS >= 1_500
        assert stream.lost == 0


def test_random_loss_on_the_uas_egress_drops_only_the_echo(tmp_path):
    with netlab.Lab() as lab:
        netlab.random_loss(lab.b.ns, lab.b.dev, LOSS_PCT, udp_sport=netlab.UAS_MEDIA_PORT)
        recorded = record_call(lab, tmp_path, LOSS_CALL_PACKETS)
    assert (recorded.sent.packets, recorded.sent.lost) == (LOSS_CALL_PACKETS, 0)
    assert loss_pct(recorded.echoed) == pytest.approx(LOSS_PCT, abs=LOSS_TOLERANCE_POINTS), recorded.echoed


def test_tbf_link_saturated_by_iperf3_adds_jitter_to_the_echo(tmp_path):
    """TCP fills the token bucket's queue (up to 100 ms at 1 Mbit/s) and drains it in a sawtooth; each echoed
    packet waits behind a different backlog, which is jitter. The UAS side's egress is both shaped and loaded.

    The reference is the same call's own stream as it leaves the UAC, in the same recording: the echo repeats
    its timing, so whatever the machine's load did to the senders shows in both, and only the link's queue in
    the echo. (A clean call recorded at another moment is no reference on a machine whose load changes: with
    3 busy loops beside the test, one read 13.3 ms.)

    The load runs only while RTP flows, from a second of echo after the answer to SIGNALLING_MARGIN_S before the BYE:
    a full queue drops SIP messages too, and sipp does not survive heavy signalling loss."""
    with netlab.Lab() as lab:
        netlab.shape(lab.b.ns, lab.b.dev, rate_kbit=SHAPED_KBIT, burst_bytes=3_000, latency_ms=100)
        with netlab.iperf3_server(lab.a.ns, lab.a.ipv4), ThreadPoolExecutor(1) as background:
            sent_before = netlab.root_qdisc(lab.b.ns, lab.b.dev)["packets"]
            call = background.submit(record_call, lab, tmp_path, JITTER_CALL_PACKETS)
            # the call is answered and the echo flows (a second of it at 50 packets/s) before the load starts
            netlab.wait_for_qdisc(lab.b.ns, lab.b.dev, min_packets=sent_before + 50, timeout_s=20)
            load_s = JITTER_CALL_PACKETS * netlab.PTIME_S - 2 * SIGNALLING_MARGIN_S
            with netlab.iperf3_client(lab.b.ns, lab.a.ipv4, seconds=load_s) as iperf:
                report = json.loads(iperf.communicate(timeout=load_s + 10)[0])
            recorded = call.result()
    load_kbit = report["end"]["sum_received"]["bits_per_second"] / 1000
    assert load_kbit > 0.7 * SHAPED_KBIT, "iperf3 did not saturate the link"
    sent = recorded.sent.max_jitter_ms
    assert recorded.echoed.max_jitter_ms > max(5 * sent, sent + 5), (recorded.sent, recorded.echoed)


# --- the paced RTP sender ---------------------------------------------------------------------------------------


def rtp_capture_times(capture: Path) -> list[float]:
    """Capture time of every RTP packet, as tshark decodes them."""
    output = subprocess.run(
        ["tshark", "-n", "-r", str(capture), "--enable-heuristic", "rtp_udp", "-Y", "rtp",
         "-T", "fields", "-e", "frame.time_epoch"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    return [float(line) for line in output.split()]


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_rtp_sender_sends_the_count_it_reports_at_the_asked_rate(tmp_path, ipv6):
    streams, rate_pps, seconds = 4, 2_000, 3
    with netlab.Lab(ipv6=ipv6) as lab:
        with netlab.tcpdump(lab.a.ns, lab.a.dev, tmp_path / "sent.pcap", bpf=["udp"]) as capture:
            report = netlab.send_rtp(lab.a.ns, lab.b.address(ipv6), streams=streams, rate_pps=rate_pps,
                                     seconds=seconds, scheduled_realtime=True)
    found = rtp_streams(capture.path)
    assert report["packets_sent"] == rate_pps * seconds
    assert (len(found), sum(stream.packets for stream in found)) == (streams, report["packets_sent"]), found
    assert all(stream.lost == 0 and stream.payload == "g711A" for stream in found), found
    times = rtp_capture_times(capture.path)
    assert (len(times) - 1) / (times[-1] - times[0]) == pytest.approx(rate_pps, rel=0.02)

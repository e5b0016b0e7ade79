"""`homeshore calls` on real calls: sipp places SIP calls with G.711 RTP across a veth pair in namespaces this test
creates; homeshore captures live (headers only) on the caller's side while tcpdump records the same interface,
and tshark's `-z rtp,streams` on that recording is the reference.

Loss is made on the wire by an nftables egress rule on the answering side (`numgen random`), so the echoed
stream arriving at the caller loses packets the way a bad link does. Queueing jitter is made by a `tc tbf` rate
limit that iperf3 saturates.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from tests import netlab
from tests.live.livecalls import end_sample, homeshore_calls, require_lab
from tests.references.tshark import rtp_streams

TOOLS = ("ip", "tc", "nft", "tcpdump", "tshark", "sipp", "iperf3")
LOSS_CALL_PACKETS = 6000  # 2 minutes: the loss rate of one call is then within 1 point of the drop rate (3.5 sd)
LOSS_LEVELS_PCT = (0, 1, 3, 5)
PHONE_NUMBER = "447700900123"  # dialled by the caller (sipp's -s); must never appear in homeshore's output


@pytest.fixture(scope="module", autouse=True)
def lab_tools():
    require_lab(TOOLS)


def lossy_call(loss_pct: int, directory: Path) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    with netlab.Lab() as lab:
        if loss_pct:
            netlab.random_loss(lab.b.ns, lab.b.dev, loss_pct, udp_sport=netlab.UAS_MEDIA_PORT)
        with netlab.tcpdump(lab.a.ns, lab.a.dev, directory / "caller.pcap"):
            with homeshore_calls(lab.a) as live:
                call = netlab.sipp_call(lab.a, lab.b, rtp_packets=LOSS_CALL_PACKETS, log_dir=directory / "sipp",
                                        service=PHONE_NUMBER)
    return {"call": call, "live": live, "reference": rtp_streams(directory / "caller.pcap")}


@pytest.fixture(scope="module")
def calls_by_loss(tmp_path_factory) -> dict[int, dict]:
    """One two-minute call per loss level, the four at once (each in its own pair of namespaces)."""
    root = tmp_path_factory.mktemp("lossy-calls")
    with ThreadPoolExecutor(len(LOSS_LEVELS_PCT)) as pool:
        futures = {pct: pool.submit(lossy_call, pct, root / f"loss{pct}") for pct in LOSS_LEVELS_PCT}
        return {pct: future.result() for pct, future in futures.items()}


@pytest.mark.parametrize("loss_pct", LOSS_LEVELS_PCT)
def test_live_loss_and_jitter_equal_tshark_on_the_same_wire(calls_by_loss, loss_pct):
    result = calls_by_loss[loss_pct]
    call, live = result["call"], result["live"]
    assert call.uac_exit == 0, f"sipp UAC failed: see {call.log_dir}"
    assert live["exit"] == 130, live["stderr"]  # Ctrl-C ends it cleanly, with the promised code
    (echo,) = [s for s in result["reference"] if s.src == call.uas_rtp and s.dst == call.uac_rtp]
    inbound = end_sample(live["samples"], "inbound")
    assert (inbound["codec"], inbound["clock_hz"]) == ("PCMA", 8000)  # as the SDP of the call says
    assert inbound["lost"] == echo.lost
    assert inbound["packets"] == echo.packets
    assert inbound["jitter_max_ms"] == pytest.approx(echo.max_jitter_ms, abs=0.05)
    expected = inbound["packets"] + inbound["lost"]
    assert expected >= 1500
    assert 100 * inbound["lost"] / expected == pytest.approx(loss_pct, abs=1.0)
    # Every window sample of the inbound stream adds up to the end sample.
    windows = [s for s in live["samples"] if s["phase"] == "window" and s["direction"] == "inbound"]
    assert sum(w["lost"] for w in windows) == inbound["lost"] and len(windows) >= 12
    # The caller's own stream leaves undamaged, and sipp sends no RTCP: no outbound quality is claimed.
    outbound = end_sample(live["samples"], "outbound")
    assert (outbound["source"], outbound["mos"], outbound["packets"]) == ("capture", None, call.rtp_packets)
    assert len({s["call"] for s in live["samples"]}) == 1


def test_mos_falls_as_loss_rises(calls_by_loss):
    mos = [end_sample(calls_by_loss[pct]["live"]["samples"], "inbound")["mos"] for pct in LOSS_LEVELS_PCT]
    for pct in LOSS_LEVELS_PCT:  # the figures, for the record (pytest -s)
        inbound = end_sample(calls_by_loss[pct]["live"]["samples"], "inbound")
        print(f"drop {pct} %: {inbound['packets']} packets, lost {inbound['lost']} ({inbound['loss_pct']} %), "
              f"jitter max {inbound['jitter_max_ms']} ms, MOS {inbound['mos']}")
    assert mos[0] > 4.3
    assert all(better > worse for better, worse in zip(mos, mos[1:])), mos


def test_no_phone_number_or_uri_leaves_the_capture(calls_by_loss):
    for result in calls_by_loss.values():
        text = result["live"]["stdout"] + result["live"]["stderr"]
        for secret in (PHONE_NUMBER, "sip:", "@", "10.77.0.", "sipp"):
            assert secret not in text
    # The SIP itself did carry them (so the test could fail): the INVITE's request URI is in the recording.
    invite = subprocess.run(["tshark", "-r", str(next(iter(calls_by_loss.values()))["call"].log_dir.parent
                                                  / "caller.pcap"), "-Y", "sip.Method == INVITE", "-T", "fields",
                             "-e", "sip.r-uri"], capture_output=True, text=True, check=True).stdout
    assert f"sip:{PHONE_NUMBER}@" in invite


def test_queueing_jitter_shows_when_the_link_was_saturated(tmp_path):
    """A 1 Mbit/s token bucket on the answering side, with up to 100 ms of queue, saturated by iperf3 from 15 s
    to 25 s of a 40-s call: the windows that overlap the saturation carry the jitter; the others stay clean.

    The reference is the same call's windows outside the saturation, not a clean call of another moment: on a
    machine whose load changes from one minute to the next, that is no reference."""
    with netlab.Lab() as lab:
        netlab.shape(lab.b.ns, lab.b.dev, rate_kbit=1_000, burst_bytes=3_000, latency_ms=100)
        with homeshore_calls(lab.a) as live, netlab.iperf3_server(lab.a.ns, lab.a.ipv4):
            with ThreadPoolExecutor(1) as pool:
                started = time.time()
                call = pool.submit(netlab.sipp_call, lab.a, lab.b, rtp_packets=2000, log_dir=tmp_path / "sipp")
                time.sleep(15)
                load_from = time.time()
                with netlab.iperf3_client(lab.b.ns, lab.a.ipv4, seconds=10) as iperf:
                    iperf.wait(timeout=30)
                load_to = time.time()
                assert call.result().uac_exit == 0
    assert started < load_from
    windows = [s for s in live["samples"] if s["phase"] == "window" and s["direction"] == "inbound"]
    loaded, quiet = [], []
    for window in windows:
        start = _unix(window["time"])
        overlaps = start < load_to + 1 and start + 10 > load_from
        (loaded if overlaps else quiet).append(window["jitter_max_ms"])
    assert loaded and quiet, windows
    print(f"highest jitter per window, ms: saturated {loaded}, not {quiet}")
    assert max(loaded) > 5 * max(quiet), (loaded, quiet)
    assert end_sample(live["samples"], "inbound")["jitter_max_ms"] == pytest.approx(max(loaded), abs=1e-3)


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_the_live_view_shows_a_call_summary_when_the_call_ends_not_only_on_ctrl_c(tmp_path):
    """`homeshore calls` (the table, not --json) prints the summary line of a call the moment its BYE ends it,
    while it keeps watching; its inbound loss and highest jitter equal tshark's on a recording of the same wire."""
    import queue
    import signal
    import sys
    import threading

    from tests.conftest import REPO

    with netlab.Lab() as lab:
        netlab.random_loss(lab.b.ns, lab.b.dev, 3, udp_sport=netlab.UAS_MEDIA_PORT)
        argv = [sys.executable, "-m", "homeshore.cli.main", "calls", "--iface", lab.a.dev]
        process = netlab.popen(lab.a.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        try:
            assert "capturing packet headers on" in process.stderr.readline()
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
            with netlab.tcpdump(lab.a.ns, lab.a.dev, tmp_path / "caller.pcap"):
                call = netlab.sipp_call(lab.a, lab.b, rtp_packets=500, log_dir=tmp_path / "sipp",
                                        service=PHONE_NUMBER)
            assert call.uac_exit == 0
            line = ""
            while "ended (" not in line:
                line = lines.get(timeout=15)  # the call has ended: its line is due within a tick or two
            assert process.poll() is None  # shown while watching, not at Ctrl-C
        finally:
            netlab.end_process(process, signal.SIGINT)
    (echo,) = [s for s in rtp_streams(tmp_path / "caller.pcap") if s.src == call.uas_rtp and s.dst == call.uac_rtp]
    assert "ended (sip-bye) after " in line, line
    inbound = line.split("inbound ", 1)[1].split(";")[0]
    assert f"loss {100 * echo.lost / (echo.packets + echo.lost):.2f} %" in inbound, (inbound, echo)
    max_jitter_ms = float(inbound.split("(max ", 1)[1].split(" ms")[0])
    assert max_jitter_ms == pytest.approx(echo.max_jitter_ms, abs=0.05)
    assert f"{echo.packets} packets" in inbound and "MOS " in inbound and "outbound MOS" in line
    assert PHONE_NUMBER not in line and lab.b.ipv4 not in line

"""`homeshore agent run` as a real process in the home namespace of a lab (tests/netlab.py), with real calls
(sipp) and a real speed test (`homeshore serve` in the far namespace) crossing the veth pair.

No collector is configured: an InfluxDB in the root namespace is not reachable from inside the home
namespace, and the spool is the contract anyway (every sample goes there first, DESIGN.md "Durability"). So
the agent is stopped with SIGTERM and its spool read back.

References, independent of homeshore:
- calls: tcpdump records the interface the agent captures on, and tshark's `-z rtp,streams` on that recording
  (tests/references/tshark.py) gives packets, loss and maximum jitter. tshark prints no last jitter value, so
  the end sample's `jitter_ms` is checked against RFC 3550's estimator run over tshark's per-packet arrival
  times and RTP timestamps of the same stream, a recomputation whose maximum must itself equal tshark's;
- speed test: iperf3's receiver goodput on the same shaped link, just before the agent starts
  (tests/probe/test_speedtest_live.py's reference);
- the deferral: the call's own end sample and sipp's run, against the speed test's sample time.
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from homeshore.collector.schema import Sample, from_line_protocol
from homeshore.collector.spool import Spool
from homeshore.collector.state import SPOOL_FILE
from tests import netlab
from tests.cli.agent_home import AgentSetup, agent_environment
from tests.cli.test_check_live import HTTP_PORT, count_probes, served_lab, serving, stop_server_after
from tests.live.livecalls import require_lab
from tests.probe.test_speedtest_live import check_reference, iperf3_goodput_mbps, shape, within
from tests.references.tshark import TsharkStream, rtp_streams

pytestmark = pytest.mark.netns

TOOLS = ("ip", "tc", "nft", "ss", "tcpdump", "tshark", "sipp", "iperf3")
AREA, SITE = "NG5", "hub-a"  # what AgentSetup.configure's postcode and site give
PHONE_NUMBER = "447700900123"  # dialled by sipp; must never reach the spool
CALL_PACKETS = 1500  # 30 s of 20-ms packets: at least two whole 10-s windows close during the call
LOSS_PCT = 5  # on the far end's egress, of the echoed RTP only
JITTER_TOLERANCE_MS = 0.05  # tests/live/test_calls_live.py's, against tshark
DOWNLOAD_KBIT, UPLOAD_KBIT = 10_000, 5_000
# speedtest.interval_h: the first test comes at a random point within the first interval (first_speedtest_s),
# here within 7.2 s of the start.
SOON_H = 0.002
NEVER_H = 10_000.0  # first test somewhere within 1,100 years
DEFERRAL_CALL_PACKETS = 1000  # 20 s: the test falls due within 7.2 s of the reload, well inside the call
CALL_TAGS = {"agent", "area", "site", "conn", "codec", "direction", "phase"}
CALL_FIELDS = {"packets", "lost", "loss_pct", "jitter_ms", "max_jitter_ms", "rtt_ms", "r_factor", "mos",
               "mos_model", "call_key"}
CAUSE_EVIDENCE = {"inbound_loss_pct", "inbound_jitter_ms", "gateway_rtt_ms", "gateway_jitter_ms", "gateway_loss_pct",
                  "cpu_pct"}


@pytest.fixture(scope="module", autouse=True)
def lab_prerequisites() -> None:
    require_lab(TOOLS)


@pytest.fixture
def home(tmp_path: Path, request) -> Iterator[AgentSetup]:
    setup = AgentSetup(tmp_path, "live-" + request.node.name[5:30].replace("_", "-").strip("-"))
    yield setup
    setup.kill()


def start_agent(home: AgentSetup, ns: str, *args: str) -> subprocess.Popen:
    """AgentSetup.start, inside namespace `ns` (`ip netns exec` execs the agent, so the pid is the agent's and
    AgentSetup.stop's SIGTERM reaches it)."""
    argv = [sys.executable, "-m", "homeshore.cli.main", "agent", "run", "--config", str(home.config_path), *args]
    with open(home.log_path, "a") as log:
        home.process = netlab.popen(ns, argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=agent_environment())
    return home.process


def spooled_lines(home: AgentSetup) -> list[str]:
    with Spool(home.state_dir / SPOOL_FILE) as spool:
        return [row.line for row in spool.pending(1_000_000)]


def spooled_count(home: AgentSetup, measurement: str) -> int:
    return home.status().get("samples_spooled", {}).get(measurement, 0)


def server_url(lab: netlab.Lab) -> str:
    return f"http://{lab.b.ipv4}:{HTTP_PORT}"


def rfc3550_jitter_ms(capture: Path, stream: TsharkStream, clock_hz: int = 8000) -> list[float]:
    """RFC 3550 A.8's interarrival jitter after each packet of `stream` (tshark's per-packet arrival times and
    RTP timestamps, in arrival order), in ms: J += (|D| - J) / 16 between consecutive packets received."""
    src, sport = stream.src.rsplit(":", 1)
    dst, dport = stream.dst.rsplit(":", 1)
    rows = subprocess.run(
        ["tshark", "-n", "-r", str(capture), "--enable-heuristic", "rtp_udp", "-Y",
         f"rtp && ip.src == {src} && udp.srcport == {sport} && ip.dst == {dst} && udp.dstport == {dport}",
         "-T", "fields", "-e", "frame.time_epoch", "-e", "rtp.timestamp"],
        capture_output=True, text=True, check=True, timeout=120).stdout.split("\n")
    packets = [(float(arrival), int(timestamp)) for arrival, timestamp in (row.split("\t") for row in rows if row)]
    jitter, out = 0.0, []
    for (arrival, stamp), (last_arrival, last_stamp) in zip(packets[1:], packets):
        elapsed_ts = ((stamp - last_stamp + 2**31) % 2**32) - 2**31  # RTP timestamps wrap at 2^32
        d_ms = (arrival - last_arrival) * 1000 - elapsed_ts * 1000 / clock_hz
        jitter += (abs(d_ms) - jitter) / 16
        out.append(jitter)
    return out


def only(samples: list[Sample], measurement: str, **tags: str) -> list[Sample]:
    return [s for s in samples if s.measurement == measurement and all(s.tags.get(k) == v for k, v in tags.items())]


# --- 1. live capture ---------------------------------------------------------------------------------------------


def test_live_call_samples_in_the_spool_agree_with_tshark_on_the_same_wire(home: AgentSetup, tmp_path: Path) -> None:
    recording = tmp_path / "home.pcap"
    with netlab.Lab() as lab:
        netlab.random_loss(lab.b.ns, lab.b.dev, LOSS_PCT, udp_sport=netlab.UAS_MEDIA_PORT)
        # The far side is also the home's router: the home segment (echoes to it) stays clean while the call's
        # inbound RTP loses 5 %, so every poor window is `beyond_home`.
        netlab.run(lab.a.ns, ["ip", "route", "add", "default", "via", lab.b.ipv4])
        # The speed-test server is only named so that the host source finds the veth (it routes towards it); the
        # first test is never due.
        # This machine's CPU is shared with other work: only a fully busy one may name a window `cpu` here.
        policy = tmp_path / "policy.toml"
        policy.write_text("[cause]\ncpu_busy_pct = 100\n")
        home.configure(to=False, capture={"enabled": True, "interface": lab.a.dev},
                       host={"interval_s": 1.0, "policy_file": str(policy)},
                       speedtest={"server": server_url(lab), "interval_h": NEVER_H})
        with netlab.tcpdump(lab.a.ns, lab.a.dev, recording) as tcpdump:
            start_agent(home, lab.a.ns)
            home.wait_for(lambda: home.status().get("capture", {}).get("state") == "running", 20, "the capture")
            call = netlab.sipp_call(lab.a, lab.b, rtp_packets=CALL_PACKETS, service=PHONE_NUMBER,
                                    log_dir=tmp_path / "sipp")
            # The BYE ends the call at the capture's next tick (the end samples come from there, not from the stop).
            home.wait_for(lambda: home.status().get("capture", {}).get("calls_in_progress") == 0, 10,
                          "the call ended by its BYE")
            code, exit_s = home.stop()
    assert call.uac_exit == 0, f"sipp UAC failed: see {call.log_dir}"
    assert code == 0, home.log()
    lines = spooled_lines(home)
    samples = [from_line_protocol(line) for line in lines]
    (echo,) = [s for s in rtp_streams(recording) if s.src == call.uas_rtp and s.dst == call.uac_rtp]
    jitters = rfc3550_jitter_ms(recording, echo)

    inbound = only(samples, "call", direction="inbound")
    (end,) = only(inbound, "call", phase="end")
    windows = only(inbound, "call", phase="window")
    agent = only(samples, "agent")[-1]  # the one written at stop, capture counters final
    f = end.fields
    print(f"\ninbound end: agent {f['packets']:.0f} packets, lost {f['lost']:.0f} ({f['loss_pct']} %), "
          f"jitter {f['jitter_ms']} ms, max {f['max_jitter_ms']} ms, MOS {f.get('mos')}; "
          f"tshark {echo.packets} packets, lost {echo.lost} ({100 * echo.lost / (echo.packets + echo.lost):.3f} %), "
          f"max jitter {echo.max_jitter_ms} ms, RFC 3550 recomputed last {jitters[-1]:.3f} ms max {max(jitters):.3f} ms; "
          f"{len(windows)} windows; agent packets_seen {agent.fields.get('packets_seen')}, tcpdump {tcpdump.captured}; "
          f"exit {exit_s:.2f} s after SIGTERM")

    # The same stream as tshark sees it on the same wire: loss counted from sequence gaps by both, exactly.
    assert (f["packets"], f["lost"]) == (echo.packets, echo.lost)
    # The loss was real; a few packets lost at the very end (or start) are seen by neither (no later sequence).
    assert echo.lost > 0 and call.rtp_packets - 5 <= echo.packets + echo.lost <= call.rtp_packets
    assert f["loss_pct"] == pytest.approx(100 * echo.lost / (echo.packets + echo.lost), abs=1e-3)
    assert f["max_jitter_ms"] == pytest.approx(echo.max_jitter_ms, abs=JITTER_TOLERANCE_MS)
    assert max(jitters) == pytest.approx(echo.max_jitter_ms, abs=JITTER_TOLERANCE_MS)  # the recomputation is tshark's
    assert f["jitter_ms"] == pytest.approx(jitters[-1], abs=JITTER_TOLERANCE_MS)
    # Windows of 10 s while the call went on, adding up to the end sample.
    assert len(windows) >= 3, windows
    assert sum(w.fields["lost"] for w in windows) == f["lost"]
    assert sum(w.fields["packets"] for w in windows) == f["packets"]
    assert all(w.time_ns < end.time_ns for w in windows)

    # The cause of each poor window (issue 18): the home segment was measured clean, the loss came from beyond.
    gateway = [s.fields for s in only(samples, "host") if "gateway_loss_pct" in s.fields]
    assert gateway and all(g["gateway_loss_pct"] == 0 and g["gateway_rtt_ms"] < 5 for g in gateway), gateway
    poor = [w for w in windows if w.fields["loss_pct"] > 1.0]
    assert len(poor) >= 2, windows
    for window in windows:
        if window in poor and window.tags.get("cause") == "cpu":  # the whole machine busy: rightly named so
            assert window.fields["cpu_pct"] >= 100, window
        elif window in poor:
            assert window.tags.get("cause") == "beyond_home", window
            assert window.fields["inbound_loss_pct"] == window.fields["loss_pct"]
            assert window.fields["gateway_loss_pct"] == 0 and window.fields["gateway_jitter_ms"] < 5
        elif window.fields.get("mos", 5) >= 3.6:
            assert "cause" not in window.tags, window
    assert sum(w.tags.get("cause") == "beyond_home" for w in poor) >= 2, poor
    outbound_windows = only(samples, "call", direction="outbound", phase="window")
    assert {(w.time_ns // 10**9, w.tags.get("cause")) for w in outbound_windows if "cause" in w.tags} == \
        {(w.time_ns // 10**9, w.tags["cause"]) for w in poor}  # both directions of a window share its cause

    # Tags: the agent's, the link type, and bounded sets only; the call is a string field, never a tag.
    calls = only(samples, "call")
    assert {s.tags["direction"] for s in calls} == {"inbound", "outbound"}
    for sample in calls:
        assert set(sample.tags) - {"cause"} == CALL_TAGS, sample
        assert (sample.tags["agent"], sample.tags["area"], sample.tags["site"], sample.tags["codec"]) == \
            (home.agent_id, AREA, SITE, "PCMA")
        assert set(sample.fields) <= CALL_FIELDS | CAUSE_EVIDENCE, sample
        # PCMA is narrowband: whatever was scored, G.107 scored it.
        assert sample.fields.get("mos_model", "g107") == "g107", sample
        assert "mos" not in sample.fields or "mos_model" in sample.fields, sample
        assert isinstance(sample.fields["call_key"], str), sample
    assert len({s.fields["call_key"] for s in calls}) == 1  # both directions, one call
    host_conns = {s.tags["conn"] for s in only(samples, "host")}
    assert host_conns and {s.tags["conn"] for s in calls} <= host_conns
    identifying = {lab.a.ipv4, lab.b.ipv4, str(echo.ssrc), f"{echo.ssrc:x}", str(netlab.UAC_MEDIA_PORT),
                   str(netlab.UAS_MEDIA_PORT), str(call.sip_port)}
    assert not [value for s in samples for value in s.tags.values() if any(x in value for x in identifying)]
    for line in lines:  # nor anywhere else in what would leave the machine
        for secret in (PHONE_NUMBER, "10.77.0.", str(echo.ssrc), f"{echo.ssrc:08x}", "sip:"):
            assert secret not in line.lower(), line

    # The agent's own health: it saw the call's packets (at least the inbound stream; no more than tcpdump).
    assert agent.fields["packets_seen"] >= echo.packets, agent
    assert tcpdump.captured is not None and agent.fields["packets_seen"] <= tcpdump.captured
    assert agent.fields["capture_drops"] == 0


# --- 2. a scheduled speed test ---------------------------------------------------------------------------------


def shape_home(lab: netlab.Lab) -> None:
    shape(lab, "download", DOWNLOAD_KBIT)
    shape(lab, "upload", UPLOAD_KBIT)


def check_speedtest_tags(home: AgentSetup, lab: netlab.Lab, samples: list[Sample]) -> dict[str, Sample]:
    """Exactly one bandwidth, voip_test and readiness sample, tagged as the agent's and by the server."""
    found = {}
    host_conns = {s.tags["conn"] for s in only(samples, "host")}
    for measurement in ("bandwidth", "voip_test", "readiness"):
        (sample,) = only(samples, measurement)
        expected = {"agent": home.agent_id, "area": AREA, "site": SITE, "conn": sample.tags["conn"],
                    "server": f"{lab.b.ipv4}:{HTTP_PORT}"}
        if measurement == "voip_test":
            expected["codec"] = sample.tags["codec"]
        assert dict(sample.tags) == expected, sample
        assert sample.tags["conn"] in host_conns, (sample, host_conns)
        found[measurement] = sample
    return found


def test_a_scheduled_speed_test_under_the_agent_measures_the_shaped_link(home: AgentSetup) -> None:
    with served_lab() as lab:
        shape_home(lab)
        reference = iperf3_goodput_mbps(lab, "download")
        home.configure(to=False, host={"interval_s": 1.0},
                       speedtest={"server": server_url(lab), "interval_h": SOON_H})
        started = time.monotonic()
        # The full test, not --quick-speedtest: its 10-s download phase reads within 0.2 % of the link (68f0e9d); a
        # 5-s phase can read above the link's payload capacity where the warm-up's cut falls in a tbf burst (CI
        # saw 10.10 Mbit/s of goodput on a 10-Mbit/s tbf, iperf3 9.0-9.4).
        start_agent(home, lab.a.ns)
        home.wait_for(lambda: spooled_count(home, "bandwidth"), 120, "a speed test's samples")
        took_s = time.monotonic() - started
        code, _ = home.stop()
    assert code == 0, home.log()
    found = check_speedtest_tags(home, lab, [from_line_protocol(line) for line in spooled_lines(home)])
    bandwidth = found["bandwidth"].fields
    print(f"\nspeed test {took_s:.1f} s after the start: download {bandwidth['download_mbps']} Mbit/s, "
          f"iperf3 {reference:.3f} Mbit/s (tbf {DOWNLOAD_KBIT / 1000} Mbit/s); upload {bandwidth['upload_mbps']} "
          f"Mbit/s (tbf {UPLOAD_KBIT / 1000}); voip_test {dict(found['voip_test'].fields)}; "
          f"readiness {found['readiness'].fields.get('verdict')}")
    check_reference(reference, DOWNLOAD_KBIT)
    assert within(bandwidth["download_mbps"], reference), (bandwidth, reference)
    assert 0 < bandwidth["upload_mbps"] <= UPLOAD_KBIT / 1000, bandwidth
    assert found["voip_test"].fields["loss_pct"] == 0, found["voip_test"]  # nothing lost on an unloaded veth
    status = home.status()["speedtest"]
    assert status["last_ok"] is True and status["last_error"] is None, status
    assert "speed test deferred" not in home.log()


def test_a_server_stopped_during_a_scheduled_speed_test_leaves_no_result_and_says_why(home: AgentSetup) -> None:
    """Issue 15: `homeshore serve` stopped with SIGSTOP once 100 probes of the speed test's synthetic call reached
    it. The run is "could not measure": the health file says the server stopped answering, and nothing of it is
    spooled as the home's (before the fix: a bandwidth, voip_test and readiness sample with 60 % loss)."""
    with netlab.Lab() as lab, serving(lab) as server:
        count_probes(lab)
        home.configure(to=False, host={"interval_s": 1.0},
                       speedtest={"server": server_url(lab), "interval_h": SOON_H})
        agent = start_agent(home, lab.a.ns, "--quick-speedtest")
        stop_server_after(lab, server, 100, agent, timeout_s=60)
        status = home.wait_for(lambda: home.status().get("speedtest", {}).get("last_time") and
                               home.status()["speedtest"], 120, "the speed test's end")
        code, _ = home.stop()
    assert code == 0, home.log()
    assert status["last_ok"] is False and "the server stopped answering" in status["last_error"], status
    spooled = {from_line_protocol(line).measurement for line in spooled_lines(home)}
    assert spooled.isdisjoint({"bandwidth", "voip_test", "readiness"}), spooled


# --- 3. deferred while a call is in progress -------------------------------------------------------------------


def test_a_speed_test_due_during_a_call_waits_for_the_call_to_end(home: AgentSetup, tmp_path: Path) -> None:
    """The agent runs with the speed test never due; once its capture sees the call, a reload (SIGHUP) makes
    the test due within 7.2 s, while 15 s or more of the call remain. Started the other way round (the
    agent after the call, a test due at once), the test could fall due in the second or so before the capture
    has seen the call's first packets, and run: the reload removes that race."""
    with served_lab() as lab, ThreadPoolExecutor(1) as pool:
        shape_home(lab)
        home.configure(to=False, host={"interval_s": 1.0}, capture={"enabled": True, "interface": lab.a.dev},
                       speedtest={"server": server_url(lab), "interval_h": NEVER_H})
        start_agent(home, lab.a.ns, "--quick-speedtest")
        home.wait_for(lambda: home.status().get("capture", {}).get("state") == "running", 20, "the capture")
        call_started = time.time()
        sipp = pool.submit(netlab.sipp_call, lab.a, lab.b, rtp_packets=DEFERRAL_CALL_PACKETS,
                           log_dir=tmp_path / "sipp")
        home.wait_for(lambda: home.status().get("capture", {}).get("calls_in_progress"), 10, "the call seen")
        home.configure(to=False, host={"interval_s": 1.0}, capture={"enabled": True, "interface": lab.a.dev},
                       speedtest={"server": server_url(lab), "interval_h": SOON_H})
        home.process.send_signal(signal.SIGHUP)
        home.wait_for(lambda: home.status().get("speedtest", {}).get("state", "").startswith("deferred"),
                      SOON_H * 3600 + 5, "the speed test deferred")
        deferred_at = time.time()
        assert not sipp.done(), "the call ended before the speed test was due: no deferral was tested"
        call = sipp.result(timeout=60)
        call_ended = time.time()
        home.wait_for(lambda: spooled_count(home, "bandwidth"), 60, "the deferred speed test's samples")
        code, _ = home.stop()
    assert code == 0 and call.uac_exit == 0, home.log()
    samples = [from_line_protocol(line) for line in spooled_lines(home)]
    found = check_speedtest_tags(home, lab, samples)
    (end,) = only(samples, "call", direction="inbound", phase="end", codec="PCMA")
    # The check's time is its start, to the second (probe/check_document.py: isoformat(timespec="seconds")), so
    # it may read up to 1 s before the call's last packet although it started after it: compare whole seconds.
    test_s = found["bandwidth"].time_ns / 1e9
    end_s = end.time_ns / 1e9
    print(f"\ncall {call_started:.1f} -> last packet {end_s:.3f} (sipp done {call_ended:.1f}); deferred seen at "
          f"{deferred_at:.1f}; speed test started {test_s:.0f} (whole second); download "
          f"{found['bandwidth'].fields['download_mbps']} Mbit/s")
    assert test_s >= math.floor(end_s), (test_s, end_s)
    # ... and as soon as the call ended (still due, no new random time): the BYE, the capture's next tick (1 s),
    # the speed-test loop's next look (1 s).
    assert test_s <= end_s + 5, (test_s, end_s)
    assert deferred_at < end_s  # it was due, and waiting, while the call's packets still flowed
    assert found["voip_test"].time_ns == found["bandwidth"].time_ns
    log = home.log()
    assert log.count("speed test deferred: a call is in progress") == 1, log
    assert log.index("speed test deferred") < log.index(f"speed test against {server_url(lab)}"), log
    assert re.search(r"speed test done: \w+, download [\d.]+ Mbit/s", log), log
    assert home.status()["speedtest"]["last_ok"] is True

"""A real WebRTC call between two headless Chromiums (Debian's), one per network namespace across a veth pair:
WebAudio tone, Opus, DTLS-SRTP, no STUN/TURN server, signalling by tests/tools/webrtc_signalling.py. `homeshore
calls` captures it live in the callee's namespace, with nothing but headers and no SDP in sight.

References: the receiving browser's own `getStats()` inbound-rtp (packetsReceived, packetsLost, jitter) and codec
(audio/opus at 48000 Hz), at 0 % and at 2 % random loss on the caller's veth (nft netdev egress); and RFC 3550 A.8
jitter computed here from a tcpdump recording of the same interface, padding-only packets left out.
"""

from __future__ import annotations

import json
import queue
import struct
import shutil
import subprocess
import sys
import threading
import time

import pytest
from scapy.layers.inet import UDP
from scapy.utils import PcapReader

from tests import netlab
from tests.conftest import REPO
from tests.live.livecalls import end_sample, homeshore_calls, require_lab

SECONDS = 10
TIMEOUT_S = 90.0  # Chromium starts in seconds on an idle machine, far longer when the cores are shared
JITTER_TOLERANCE_MS = 0.5
CLEAN_OPUS_FLOOR_MOS = 4.18  # G.107.1 Annex A at R = 129 - 19.958882 (Opus 13 kbit/s VBR, Alahmadi et al. 2021)
NEGLIGIBLE_PADDING = 5  # padding-only packets in the recording below which the browser's jitter is comparable
FLAGS = (  # DESIGN.md's recipe for WebRTC in Chromium
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--remote-debugging-port=0",  # keeps the headless browser running on its page
)


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def browser_call(tmp_path, loss_pct: float) -> tuple[dict, dict, object]:
    """(homeshore calls' result, the callee browser's final stats, tcpdump's recording on the callee's veth)."""
    require_lab(("ip", "nft", "chromium", "tcpdump"))
    chromium = shutil.which("chromium")
    with netlab.Lab() as lab:
        # Chromium gathers no host candidate on an interface without a route out: give each side one.
        netlab.run(lab.a.ns, ["ip", "route", "add", "default", "via", lab.b.ipv4, "dev", lab.a.dev])
        netlab.run(lab.b.ns, ["ip", "route", "add", "default", "via", lab.a.ipv4, "dev", lab.b.dev])
        if loss_pct:
            netlab.random_loss(lab.b.ns, lab.b.dev, loss_pct, udp_dport=None)
        server = netlab.popen(lab.a.ns, [sys.executable, "-m", "tests.tools.webrtc_signalling", lab.a.ipv4],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
        browsers = []
        try:
            port = int(server.stdout.readline().split()[1])
            lines: queue.Queue = queue.Queue()
            threading.Thread(target=_lines, args=(server.stdout, lines), daemon=True).start()
            url = f"http://{lab.a.ipv4}:{port}/call.html?seconds={SECONDS}"
            with netlab.tcpdump(lab.a.ns, lab.a.dev, tmp_path / "callee.pcap"), homeshore_calls(lab.a) as live:
                for host, role in ((lab.a, "callee"), (lab.b, "caller")):
                    browsers.append(netlab.popen(host.ns, [chromium, *FLAGS, f"--user-data-dir={tmp_path / role}",
                                                           f"{url}#{role}"],
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                final, posted, deadline = None, [], time.monotonic() + TIMEOUT_S
                while final is None:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                    assert line is not None, f"signalling server ended; pages posted {posted}"
                    message = json.loads(line)
                    posted.append(message)
                    assert "error" not in message, message
                    if message.get("final"):
                        final = message
        except queue.Empty:
            pytest.fail(f"no final stats from the callee within {TIMEOUT_S} s; pages posted {posted}")
        finally:
            for browser in browsers:
                netlab.end_process(browser)
            netlab.end_process(server)
    return live, final, tmp_path / "callee.pcap"


def reference_jitter_ms(pcap, ssrc: int) -> tuple[float, float, int]:
    """RFC 3550 A.8 over the recording at 48 kHz, in arrival order, leaving out padding-only packets (P bit and
    the previous packet's timestamp: SRTP hides the padding count): (max J, last J in ms, padding packets)."""
    jitter = max_jitter = 0.0
    last_transit = last_ts = None
    padding = 0
    with PcapReader(str(pcap)) as packets:
        for packet in packets:
            if UDP not in packet:
                continue
            data = bytes(packet[UDP].payload)
            if len(data) < 12 or data[0] >> 6 != 2 or 192 <= data[1] <= 223:
                continue
            _seq, timestamp, packet_ssrc = struct.unpack_from("!HII", data, 2)
            if packet_ssrc != ssrc:
                continue
            if data[0] & 0x20 and timestamp == last_ts:
                padding += 1
                continue
            last_ts = timestamp
            transit = float(packet.time) * 48000 - timestamp
            if last_transit is not None:
                jitter += (abs(transit - last_transit) - jitter) / 16
                max_jitter = max(max_jitter, jitter)
            last_transit = transit
    return 1000 * max_jitter / 48000, 1000 * jitter / 48000, padding


@pytest.fixture(scope="module", params=[0.0, 2.0], ids=["no-loss", "2pct-loss"])
def call(request, tmp_path_factory):
    return request.param, *browser_call(tmp_path_factory.mktemp("chromium"), request.param)


def test_live_capture_equals_the_receiving_browsers_getstats(call):
    loss_pct, live, final, pcap = call
    assert live["exit"] == 130, live["stderr"]
    (browser,) = final["inbound"]
    assert (browser["mimeType"], browser["clockRate"]) == ("audio/opus", 48000)
    sample = end_sample(live["samples"], "inbound", browser["ssrc"])
    assert (sample["codec"], sample["clock_hz"]) == ("opus", 48000)  # inferred: no SDP in the capture
    assert sample["packets"] == browser["packetsReceived"] > SECONDS * 40
    assert sample["lost"] == browser["packetsLost"]
    if loss_pct:
        assert sample["lost"] > 0  # the loss was real: a test comparing zeros would prove nothing
    # getStats() gives jitter in whole milliseconds (libwebrtc divides J in timestamp units by clock/1000 with an
    # integer division), so the browser's own J lies in [reported, reported + 1 ms): within 0.5 ms of that.
    browser_ms = 1000 * browser["jitter"]
    assert sample["jitter_ms"] <= browser_ms + 1 + JITTER_TOLERANCE_MS
    if reference_jitter_ms(pcap, browser["ssrc"])[2] <= NEGLIGIBLE_PADDING:
        assert browser_ms - JITTER_TOLERANCE_MS <= sample["jitter_ms"]
    # else Chrome counts its padding-only probes in its own jitter (A.8 over the recording with them reproduces
    # its figure: 15.5 ms against its 14 on a 2 % loss run with 61 of them), which homeshore leaves out: only
    # the bound above holds, and the exact comparison is the A.8 one without padding below.
    # Opus has published wideband values for 11-13 kbit/s VBR only; Chrome sends about 29-34 kbit/s here (a range:
    # on a DTLS-SRTP flow the tag's length is not in the headers), above them all: a floor from the 13-kbit/s row
    # (Alahmadi et al. 2021: Ie,wb 19.958882), labelled so. Clean: R = 129 - 19.96, 4.18 by G.107.1 Annex A; it
    # falls with loss.
    assert sample["mos_model"] == "g107.1" and sample["mos_note"].startswith("floor: Opus at ")
    assert "of 13 kbit/s VBR" in sample["mos_note"]
    if loss_pct:
        assert sample["mos"] < CLEAN_OPUS_FLOOR_MOS
    else:  # a packet the jitter buffer would discard as late counts as lost: at most a hair below
        assert CLEAN_OPUS_FLOOR_MOS - 0.05 <= sample["mos"] <= CLEAN_OPUS_FLOOR_MOS


def test_live_jitter_equals_rfc3550_over_the_recording_without_padding(call):
    _loss_pct, live, final, pcap = call
    (browser,) = final["inbound"]
    sample = end_sample(live["samples"], "inbound", browser["ssrc"])
    max_ms, last_ms, _padding = reference_jitter_ms(pcap, browser["ssrc"])
    assert max_ms > 0  # scheduling alone gives some: a test comparing zeros would prove nothing
    assert sample["jitter_max_ms"] == pytest.approx(max_ms, abs=0.05)
    assert sample["jitter_ms"] == pytest.approx(last_ms, abs=0.05)

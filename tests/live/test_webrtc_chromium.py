"""A real WebRTC call between two headless Chromiums (Debian's), one per network namespace across a veth pair:
WebAudio tone, Opus, DTLS-SRTP, no STUN/TURN server, signalling by tests/tools/webrtc_signalling.py. `homeshore
calls` captures it live in the callee's namespace, with nothing but headers and no SDP in sight.

Reference: the receiving browser's own `getStats()` inbound-rtp (packetsReceived, packetsLost, jitter) and codec
(audio/opus at 48000 Hz), at 0 % and at 2 % random loss on the caller's veth (nft netdev egress).
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time

import pytest

from tests import netlab
from tests.conftest import REPO
from tests.live.livecalls import end_sample, homeshore_calls, require_lab

SECONDS = 10
TIMEOUT_S = 90.0  # Chromium starts in seconds on an idle machine, far longer when the cores are shared
JITTER_TOLERANCE_MS = 0.5
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


def browser_call(tmp_path, loss_pct: float) -> tuple[dict, dict]:
    """(homeshore calls' result, the callee browser's final stats)."""
    require_lab(("ip", "nft", "chromium"))
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
            with homeshore_calls(lab.a) as live:
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
    return live, final


@pytest.fixture(scope="module", params=[0.0, 2.0], ids=["no-loss", "2pct-loss"])
def call(request, tmp_path_factory):
    return request.param, *browser_call(tmp_path_factory.mktemp("chromium"), request.param)


def test_live_capture_equals_the_receiving_browsers_getstats(call):
    loss_pct, live, final = call
    assert live["exit"] == 130, live["stderr"]
    (browser,) = final["inbound"]
    assert (browser["mimeType"], browser["clockRate"]) == ("audio/opus", 48000)
    sample = end_sample(live["samples"], "inbound", browser["ssrc"])
    assert (sample["codec"], sample["clock_hz"]) == ("opus", 48000)  # inferred: no SDP in the capture
    assert sample["packets"] == browser["packetsReceived"] > SECONDS * 40
    assert sample["lost"] == browser["packetsLost"]
    if loss_pct:
        assert sample["lost"] > 0  # the loss was real: a test comparing zeros would prove nothing
    assert sample["jitter_ms"] == pytest.approx(1000 * browser["jitter"], abs=JITTER_TOLERANCE_MS)
    assert sample["mos"] is None  # no published E-model impairment for Opus yet: never a default

"""The live-capture entry point (quality/live.py): `open_capture` picks the backend of the platform, so that callers
(`homeshore calls`, the agent) never branch on the OS; a platform without one gets one line naming it.

The second backend here is a fake (tests/quality/fake_capture_backend.py) registered for a made-up platform: the
one place a fake is right, since what is tested is the choice of module. The real backend, AF_PACKET, is opened for
real, on `lo` and across a veth pair, where the frames it hands over through the entry point end at the RTP
header (the program itself is tests/quality/test_snaplen.py's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from homeshore.quality import live
from homeshore.quality.capture_afpacket import AfPacketCapture
from tests import netlab
from tests.conftest import REPO, skip_or_fail
from tests.live.livecalls import require_lab
from tests.quality import fake_capture_backend
from tests.quality.synthetic import rtp_packet, udp_frame

MADE_UP = "plan9"


@pytest.fixture
def second_backend(monkeypatch):
    monkeypatch.setitem(live.BACKENDS, MADE_UP, "tests.quality.fake_capture_backend")
    frames = [(1.0 + i * 0.02, 1, udp_frame("10.0.0.1", 4000, "10.0.0.2", 4002, rtp_packet(i, 160 * i, 7)))
              for i in range(3)]
    monkeypatch.setattr(fake_capture_backend, "FRAMES", frames)
    return frames


def test_a_second_backend_registered_for_its_platform_is_picked(second_backend):
    with live.open_capture("fake1", "udp port 4002", platform=MADE_UP) as capture:
        assert type(capture) is fake_capture_backend.FakeCapture
        assert capture.opened_with == ("fake1", "udp port 4002")
        assert capture.interfaces == ("fake1",)
        assert list(capture.frames(0.1)) == second_backend
        assert capture.stats() == live.CaptureStats(packets=3, drops=0, truncated=0)
    assert capture.closed


def test_linux_still_gets_af_packet_with_another_backend_registered(second_backend):
    if os.geteuid() != 0:
        skip_or_fail("needs root: AF_PACKET sockets")
    with live.open_capture("lo", platform="linux") as capture:
        assert type(capture) is AfPacketCapture
        assert capture.interfaces == ("lo",)


def test_an_unsupported_platform_is_one_line_naming_it():
    with pytest.raises(live.CaptureError) as raised:
        live.open_capture("eth0", platform=MADE_UP)
    message = str(raised.value)
    assert message == f"live capture is not supported on this platform ({MADE_UP}); it is on: linux"
    assert "\n" not in message


def test_homeshore_calls_on_an_unsupported_platform_exits_2_with_one_line():
    """The platform as the CLI reads it (sys.platform), set before homeshore is imported; psutil (which refuses
    plan9 too) is imported first, as on a platform that psutil supports and no capture backend does."""
    program = (f"import psutil, runpy, sys; sys.platform = {MADE_UP!r}; "
               "sys.argv = ['homeshore', 'calls', '--duration', '1']; "
               "runpy.run_module('homeshore.cli.main', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"homeshore calls: live capture is not supported on this platform ({MADE_UP}); it is on: linux"]


# In the capturing namespace: open through the entry point, say so, then report the length of each frame to the RTP
# port until all have come or 20 s have passed (frames() waits on the socket).
CAPTURE_RTP = """
import json, sys, time
from homeshore.quality.live import open_capture
dev, port, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lengths = []
with open_capture(dev) as capture:
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while len(lengths) < want and time.monotonic() < deadline:
        for _time_s, _linktype, frame in capture.frames(0.5):
            if frame[12:14] == b"\\x08\\x00" and frame[23] == 17 and int.from_bytes(frame[36:38], "big") == port:
                lengths.append(len(frame))
    stats = capture.stats()
print(json.dumps({"lengths": lengths, "packets": stats.packets, "drops": stats.drops}))
"""
ETHERNET_IPV4_UDP_RTP_HEADER_BYTES = 14 + 20 + 8 + 12
RTP_PORT = 40000


def test_through_the_entry_point_only_rtp_headers_reach_the_process():
    """tests/tools/rtp_sender.py sends 12-byte RTP headers with 160 bytes of audio; none of it may arrive."""
    require_lab(("ip",))
    with netlab.Lab() as lab:
        process = netlab.popen(lab.a.ns, [sys.executable, "-c", CAPTURE_RTP, lab.a.dev, str(RTP_PORT), "50"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        ready = process.stdout.readline()
        assert ready == "ready\n", ready + process.stderr.read()
        report = netlab.send_rtp(lab.b.ns, lab.a.ipv4, streams=1, rate_pps=50, seconds=1, port=RTP_PORT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert report["packets_sent"] == 50
    seen = json.loads(out)
    assert seen["lengths"] == [ETHERNET_IPV4_UDP_RTP_HEADER_BYTES] * 50
    assert seen["packets"] >= 50 and seen["drops"] == 0

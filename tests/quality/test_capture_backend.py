"""The live-capture entry point (quality/live.py): `open_capture` picks the backend of the platform, so that callers
(`homeshore calls`, the agent) never branch on the OS; a platform without one gets one line naming it.

The second backend here is a fake (tests/quality/fake_capture_backend.py) registered for a made-up platform: the
one place a fake is right, since what is tested is the choice of module. The real backend, AF_PACKET, is opened for
real on `lo`; that it delivers only headers is tests/quality/test_snaplen.py's and tests/live/'s.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from homeshore.quality import live
from homeshore.quality.capture_afpacket import AfPacketCapture
from tests.conftest import REPO, skip_or_fail
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

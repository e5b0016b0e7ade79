"""The speed test against a `homeshore serve` on this machine's loopback: many Gbit/s, faster than any home.

speedtest-cli walks its file list once, so a list that runs out before the phase ends leaves nothing after the
warm-up to count (a download read as None, as a 4.8-Gbit/s loopback once did with lists sized for 1 Gbit/s).
The reference is the server's own count of the body bytes it sent.
"""

from __future__ import annotations

import pytest

from homeshore.server.speed_server import SpeedServer
from homeshore.probe.speedtest import SpeedSession

PHASE_S = 3.0


@pytest.fixture()
def server_url():
    server = SpeedServer("127.0.0.1", 0, test_length_s=int(PHASE_S)).start()
    try:
        yield f"http://127.0.0.1:{server.port}", server
    finally:
        server.stop()


def test_a_link_faster_than_any_home_still_fills_the_phase(server_url) -> None:
    url, server = server_url
    phase = SpeedSession.open(url, timeout_s=5).download(PHASE_S)
    print(f"loopback download: {phase.goodput_mbps} Mbit/s over {phase.duration_s:.2f} s, {phase.payload_bytes} B")
    assert phase.goodput_mbps is not None and phase.goodput_mbps > 1_000, phase
    assert PHASE_S - 0.1 <= phase.duration_s < PHASE_S + 1.0, phase
    # every byte the client counted was sent by the server, and the steady rate cannot exceed the mean over the
    # phase's length by more than the warm-up's share would allow
    assert phase.payload_bytes <= server.counters.bytes_sent
    mean_mbps = phase.payload_bytes * 8 / phase.duration_s / 1e6
    assert phase.goodput_mbps < 2 * mean_mbps, (phase.goodput_mbps, mean_mbps)

"""WebRTC-like media captured live: one 5-tuple carrying STUN, SRTP with RTP and RTCP muxed (RFC 5761/7983), Opus
at 48 kHz on a dynamic payload type without any signalling in sight, and a second stream relayed through TURN
ChannelData. Sent by tests/tools/webrtc_sender.py from one namespace, captured by `homeshore calls` in the
other while tcpdump records the same interface.

References: the loss is the sequence numbers the sender skipped; the jitter is RFC 3550 A.8 computed here, from
the tcpdump recording, independently of homeshore (tshark cannot see RTP inside TURN ChannelData).
"""

from __future__ import annotations

import json
import struct
import sys

import pytest
from scapy.layers.inet import UDP
from scapy.utils import PcapReader

from tests import netlab
from tests.conftest import REPO
from tests.live.livecalls import end_sample, homeshore_calls, require_lab
from tests.tools.webrtc_sender import DIRECT_SSRC, RELAYED_SSRC

SKIPPED = (40, 41, 42, 300, 555)
SECONDS = 14
CLOCK_HZ = 48000


@pytest.fixture(scope="module")
def webrtc(tmp_path_factory):
    require_lab(("ip", "tcpdump"))
    directory = tmp_path_factory.mktemp("webrtc")
    with netlab.Lab() as lab:
        with netlab.tcpdump(lab.a.ns, lab.a.dev, directory / "receiver.pcap"):
            with homeshore_calls(lab.a) as live:
                report = netlab.run(lab.b.ns, [sys.executable, "-m", "tests.tools.webrtc_sender", "--dst",
                                               lab.a.ipv4, "--seconds", str(SECONDS),
                                               "--skip", ",".join(map(str, SKIPPED))], cwd=REPO, timeout=60)
    return {"live": live, "sent": json.loads(report)["sent"], "pcap": directory / "receiver.pcap"}


def reference_max_jitter_ms(pcap, ssrc: int) -> float:
    """RFC 3550 A.8 over the recording: J += (|D| - J) / 16 at 48 kHz; the largest J, in ms."""
    jitter = max_jitter = 0.0
    last_transit = None
    with PcapReader(str(pcap)) as packets:
        for packet in packets:
            if UDP not in packet:
                continue
            data = bytes(packet[UDP].payload)
            if data[:1] and 0x40 <= data[0] <= 0x4F:
                data = data[4:]  # ChannelData header
            if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F != 111:
                continue
            _seq, timestamp, packet_ssrc = struct.unpack_from("!HII", data, 2)
            if packet_ssrc != ssrc:
                continue
            transit = float(packet.time) * CLOCK_HZ - timestamp
            if last_transit is not None:
                jitter += (abs(transit - last_transit) - jitter) / 16
                max_jitter = max(max_jitter, jitter)
            last_transit = transit
    return 1000 * max_jitter / CLOCK_HZ


@pytest.mark.parametrize("ssrc", [DIRECT_SSRC, RELAYED_SSRC], ids=["direct", "turn-relayed"])
def test_webrtc_streams_are_found_with_exact_loss_and_jitter(webrtc, ssrc):
    live = webrtc["live"]
    assert live["exit"] == 130, live["stderr"]
    sample = end_sample(live["samples"], "inbound", ssrc)
    # No signalling seen: codec and clock rate inferred from timestamps vs arrivals and the STUN on the flow.
    assert (sample["codec"], sample["clock_hz"]) == ("opus", 48000)  # inferred: 48 kHz, 20-ms frames, STUN
    assert sample["packets"] == webrtc["sent"][str(ssrc)] == SECONDS * 50 - len(SKIPPED)
    assert sample["lost"] == len(SKIPPED)
    reference_ms = reference_max_jitter_ms(webrtc["pcap"], ssrc)
    assert reference_ms > 0  # scheduling alone gives some: a test comparing zeros would prove nothing
    assert sample["jitter_max_ms"] == pytest.approx(reference_ms, abs=0.01)
    # If the clock rate had been taken wrongly (8 kHz), jitter would be 6 times larger: it can fail.
    assert sample["jitter_max_ms"] < 5


def test_stun_and_rtcp_on_the_media_port_are_not_streams(webrtc):
    ssrcs = {s["ssrc"] for s in webrtc["live"]["samples"]}
    assert ssrcs == {DIRECT_SSRC, RELAYED_SSRC}

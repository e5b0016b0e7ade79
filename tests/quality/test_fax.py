"""A call that switches to T.38 fax mid-call: the RTP pause is not loss, and the streams say they switched.

The call is built from real SIP/SDP bytes (RFC 3261, RFC 4566; T.38's SDP from ITU-T T.38 Annex D): audio, a
re-INVITE to `m=image ... udptl t38` answered 200 OK, 20 s of UDPTL, a re-INVITE back to audio, audio again with
the sequence numbers the gateway counted on meanwhile (as the real capture's gateway does). tshark, which knows
nothing of the switch, reads the skipped numbers as loss: our figure must be tshark's minus exactly that skip.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from homeshore.cli.main import cli
from homeshore.quality.capture import analyze_capture
from tests.conftest import PCAPS, require_tool
from tests.quality.synthetic import rtp_packet, sip_message, sdp_offer, write_pcap
from tests.references.tshark import rtp_streams

T0 = 1_733_400_000.0
HOME, FAR = "192.0.2.10", "198.51.100.20"
HOME_RTP, FAR_RTP = 40000, 50000
UP, DOWN = 0x11111111, 0x22222222  # home -> far, far -> home
FAX_SKIP = 1000  # sequence numbers each gateway counts through the fax phase without sending RTP
ACCEPTED_AT = T0 + 6.25  # the 200 OK that accepts T.38
REAL_LOSS_UP = 2 + 3  # packets left out on purpose: 2 before the fax, 3 after
CALL_ID = "a84b4c76e66710@pc33.example.com"
PCMA = "a=rtpmap:8 PCMA/8000\n"


def fax_sdp(address: str, port: int) -> str:
    return (f"v=0\no=- 1 2 IN IP4 {address}\ns=-\nc=IN IP4 {address}\nt=0 0\nm=image {port} udptl t38\n"
            "a=T38FaxVersion:0\na=T38FaxRateManagement:transferredTCF\na=T38FaxUdpEC:t38UDPRedundancy\n")


def audio(start_s: float, count: int, ssrc: int, first_seq: int, first_ts: int, src: tuple, dst: tuple,
          skip: range = range(0)) -> list[tuple]:
    return [(start_s + 0.02 * i, *src, *dst, rtp_packet(first_seq + i, first_ts + 160 * i, ssrc))
            for i in range(count) if i not in skip]


def fax_call(tmp_path: Path, answer: str = "200 OK", in_flight: int = 10) -> Path:
    """The call; `answer`: the far end's reply to the T.38 re-INVITE ("488 Not Acceptable Here" refuses it);
    `in_flight`: packets of the far end's RTP that still arrive, in order, after the switch."""
    home, far = (HOME, HOME_RTP), (FAR, FAR_RTP)
    home_sip, far_sip = (HOME, 5060), (FAR, 5060)
    refused = not answer.startswith("2")
    packets = [
        (T0, *home_sip, *far_sip, sip_message(f"INVITE sip:{FAR} SIP/2.0", CALL_ID, "1 INVITE", sdp_offer(HOME, HOME_RTP, "8", PCMA))),
        (T0 + 0.05, *far_sip, *home_sip, sip_message("SIP/2.0 200 OK", CALL_ID, "1 INVITE", sdp_offer(FAR, FAR_RTP, "8", PCMA))),
        (T0 + 6.2, *home_sip, *far_sip, sip_message(f"INVITE sip:{FAR} SIP/2.0", CALL_ID, "2 INVITE", fax_sdp(HOME, HOME_RTP))),
        (ACCEPTED_AT, *far_sip, *home_sip,
         sip_message(f"SIP/2.0 {answer}", CALL_ID, "2 INVITE", None if refused else fax_sdp(FAR, FAR_RTP))),
        (T0 + 26.2, *home_sip, *far_sip, sip_message(f"INVITE sip:{FAR} SIP/2.0", CALL_ID, "3 INVITE", sdp_offer(HOME, HOME_RTP, "8", PCMA))),
        (T0 + 26.25, *far_sip, *home_sip, sip_message("SIP/2.0 200 OK", CALL_ID, "3 INVITE", sdp_offer(FAR, FAR_RTP, "8", PCMA))),
    ]
    # Before the fax: 6 s of audio each way (the far end's RTP runs on past the switch, in order).
    down = 300 + in_flight
    packets += audio(T0 + 0.1, 300, UP, 100, 1000, home, far, skip=range(50, 52))
    packets += audio(T0 + 0.1, down, DOWN, 65300, 5000, far, home)  # its sequence numbers wrap at 65535
    # The fax phase: UDPTL both ways (its first bytes, a 16-bit sequence number, are not RTP's version 2).
    packets += [(T0 + 6.5 + 0.2 * i, *src, *dst, struct.pack("!H", i) + b"\x00\x05\x06\x80\x00\x00")
                for i in range(98) for src, dst in ((home, far), (far, home))]
    # Back to audio: the sequence numbers went on through the fax phase.
    packets += audio(T0 + 26.3, 250, UP, 100 + 300 + FAX_SKIP, 1000 + 160 * (300 + FAX_SKIP), home, far,
                     skip=range(100, 103))
    packets += audio(T0 + 26.3, 250, DOWN, (65300 + down + FAX_SKIP) & 0xFFFF, 5000 + 160 * (down + FAX_SKIP), far, home)
    return write_pcap(tmp_path / "fax.pcap", sorted(packets, key=lambda packet: packet[0]))


def test_the_fax_phase_is_not_loss_and_the_streams_say_they_switched(tmp_path):
    capture = analyze_capture(str(fax_call(tmp_path)))
    streams = {stream.ssrc: stream for stream in capture.streams}
    assert set(streams) == {UP, DOWN}
    assert (streams[UP].loss.lost, streams[DOWN].loss.lost) == (REAL_LOSS_UP, 0)
    assert (streams[UP].packets, streams[DOWN].packets) == (300 + 250 - REAL_LOSS_UP, 310 + 250)
    note = f"switched to T.38 fax at {time.strftime('%H:%M:%S', time.gmtime(ACCEPTED_AT))} UTC"
    for stream in streams.values():
        assert note in stream.problems, stream.problems
        assert stream.resets == 0 and not any("lost" in p and p != f"{REAL_LOSS_UP} lost" for p in stream.problems)
        assert sum(window.loss.lost for window in stream.windows) == stream.loss.lost
    assert f"{REAL_LOSS_UP} lost" in streams[UP].problems


def test_tshark_reads_the_fax_phase_as_loss_and_we_differ_by_exactly_the_skip(tmp_path):
    """(No RTP after the T.38 offer here: tshark decodes whatever reaches an offered T.38 port as T.38.)"""
    require_tool("tshark")
    path = fax_call(tmp_path, in_flight=0)
    reference = {stream.ssrc: stream.lost for stream in rtp_streams(path)}
    ours = {stream.ssrc: stream.loss.lost for stream in analyze_capture(str(path)).streams}
    assert reference == {UP: REAL_LOSS_UP + FAX_SKIP, DOWN: FAX_SKIP}
    assert {ssrc: reference[ssrc] - FAX_SKIP for ssrc in reference} == ours


def test_a_refused_t38_offer_switches_nothing(tmp_path):
    """The offer alone is no switch: refused with 488, the call stays audio and a gap is loss, as tshark says."""
    capture = analyze_capture(str(fax_call(tmp_path, "488 Not Acceptable Here")))
    streams = {stream.ssrc: stream for stream in capture.streams}
    assert (streams[UP].loss.lost, streams[DOWN].loss.lost) == (REAL_LOSS_UP + FAX_SKIP, FAX_SKIP)
    assert not any("T.38" in p for stream in streams.values() for p in stream.problems)


def test_real_capture_whose_t38_offer_was_refused_keeps_its_loss(pcaps):
    """ndpi_FAX-Call-t38: the RTP of 0x0EAF0EAF pauses for 34 s, then a T.38 re-INVITE is refused (488 on every
    leg, tshark -Y sip): no switch happened, so the 1712 numbers tshark counts as lost stay lost."""
    capture = analyze_capture(str(PCAPS / "ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"))
    lost = {stream.ssrc: stream.loss.lost for stream in capture.streams}
    assert lost == {0x0EAF0EAF: 1712, 0x17D90134: 0}
    assert not any("T.38" in p for stream in capture.streams for p in stream.problems)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_table_says_the_call_switched_to_fax(width, tmp_path):
    path = fax_call(tmp_path)
    result = CliRunner(env={"COLUMNS": str(width), "NO_COLOR": "1"}).invoke(cli, ["analyze", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    problems = " ".join(line.split("│")[-2].strip() for line in lines if line.startswith("│"))
    assert problems.count("switched to T.38 fax at") == 2, result.stdout

    document = json.loads(CliRunner().invoke(cli, ["analyze", "--json", str(path)]).stdout)
    text = json.dumps(document)
    assert "+447700900123" not in text and CALL_ID not in text  # the SIP's numbers and Call-ID stay out


def test_a_stream_still_flowing_well_after_the_switch_keeps_counting_its_loss(tmp_path):
    """The far end's RTP runs on in order for 2 s after T.38 was accepted (longer than FAX_SETTLE_S): that stream
    did not pause for the fax, so a later gap in it is loss again, not excused by the switch long before."""
    capture = analyze_capture(str(fax_call(tmp_path, in_flight=100)))
    streams = {stream.ssrc: stream for stream in capture.streams}
    assert (streams[UP].loss.lost, streams[DOWN].loss.lost) == (REAL_LOSS_UP, FAX_SKIP)

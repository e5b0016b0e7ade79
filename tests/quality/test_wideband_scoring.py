"""The analyser scores wideband codecs on G.107.1 and narrowband ones on G.107, and each MOS names its model.

G.722 is static payload type 9 (RFC 3551 Table 4; RTP clock 8000 Hz, 160 timestamp units and 160 bytes per
20 ms at 64 kbit/s). G.113 Appendix IV's G.722 row is not transcribed yet, so its MOS must be unknown with the
reason, never the narrowband model's estimate.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from homeshore.cli.tables import streams_table
from homeshore.quality.calls import FROM_RTCP, OUTBOUND, CallTracker
from homeshore.quality.capture import analyze_capture
from homeshore.quality.export import sample_dict, stream_dict
from homeshore.quality.rtcp import ntp_middle32
from tests.conftest import PCAPS
from tests.quality.synthetic import report_block, rtcp_rr, rtp_packet, sdp_offer, sip_message, udp_frame
from tests.quality.test_analyzer import SSRC, T0, g711_stream, one_stream, run
from tests.quality.test_calls import HERE, HERE_PORT, IN_SSRC, LOCAL, OUT_SSRC, SALT, THERE, THERE_PORT, feed
from tests.quality.test_calls import T0 as CALL_T0

G722_PT = 9


def g722_stream(count: int) -> list[tuple[float, bytes]]:
    return [(T0 + 0.02 * n, rtp_packet(1000 + n, 5000 + 160 * n, SSRC, pt=G722_PT, payload=bytes(160)))
            for n in range(count)]  # fmt: skip


def test_g722_is_scored_on_the_wideband_model_and_says_why_there_is_no_mos():
    stream = one_stream(run(g722_stream(500))[1])
    assert (stream.codec, stream.clock_hz) == ("G722", 8000)
    reason = "no Ie,wb for G.722 transcribed from G.113 Appendix IV yet"
    assert (stream.score.mos, stream.score.r_factor, stream.score.mos_kind) == (None, None, "unknown")
    assert (stream.score.mos_model, stream.score.mos_note) == ("g107.1", reason)
    assert stream.windows and all(
        (w.score.mos, w.score.mos_model, w.score.mos_note) == (None, "g107.1", reason) for w in stream.windows
    )
    exported = json.loads(json.dumps(stream_dict(stream, windows=True)))
    assert (exported["mos"], exported["mos_model"], exported["mos_note"]) == (None, "g107.1", reason)
    assert exported["windows"][0]["mos_model"] == "g107.1"


def test_g711_stays_on_the_narrowband_model():
    stream = one_stream(run(g711_stream(500))[1])
    assert stream.codec == "PCMA"
    # G.107 default parameter set, G.711, no loss: R 93.2, MOS 4.41 (G.107 §7.7 and Annex B).
    assert (stream.score.r_factor, stream.score.mos, stream.score.mos_kind) == (93.21, 4.41, "listening")
    assert (stream.score.mos_model, stream.score.mos_note) == ("g107", None)
    assert stream_dict(stream)["mos_model"] == "g107"


@pytest.mark.parametrize(
    ("name", "codec", "note", "mos"),
    [
        # One SIP call per codec (../shared/pcaps/README.md): G.722 on static PT 9, Opus on PT 111 from the SDP.
        ("rtppcap_sip-rtp-g722.pcap", "G722", "no Ie,wb for G.722 transcribed from G.113 Appendix IV yet", None),
        # Opus at 53 kbit/s over its first 32 packets (tshark's UDP lengths, test_opus_wb.py): fullband, beyond
        # the published wideband rows, so scored as a floor from the 13 kbit/s VBR row (Ie,wb 19.958882, no loss:
        # R = 129 - 19.96 = 109.04, Annex A at 109.04 / 1.29 = 84.53: 4.18).
        ("rtppcap_sip-rtp-opus.pcap", "opus",
         "floor: Opus at 53 kbit/s VBR scored with the Ie,wb and Bpl of 13 kbit/s VBR, the highest wideband rate "
         "published; more bits impair the speech no more", 4.18),
    ],
)
def test_real_wideband_calls_get_no_default_mos_and_the_table_says_how_each_was_scored(name, codec, note, mos):
    capture = analyze_capture(PCAPS / name)
    [stream] = capture.streams
    assert (stream.codec, stream.packets, stream.loss.lost) == (codec, 425, 0)  # the README's tshark figures
    assert (stream.score.mos, stream.score.mos_model, stream.score.mos_note) == (mos, "g107.1", note)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(streams_table(capture))
    text = " ".join(console.file.getvalue().split())  # the caption wraps at the table's width
    assert "MOS: ITU-T G.107, G.107.1 for wideband codecs" in text
    assert f"{'no MOS' if mos is None else 'MOS'} for {codec}: {note}" in text


def test_both_directions_of_a_live_g722_call_are_scored_on_the_wideband_model():
    """A SIP call on G.722 (PT 9) both ways, as `homeshore calls` sees it: the inbound stream from the capture and
    the outbound one from the far end's receiver reports (2 % lost) go through the same model, so neither direction
    gets the narrowband model's G.722 estimate."""
    call_id = "g722@pc33.example.com"
    offer = sdp_offer(HERE, HERE_PORT, "9", "a=rtpmap:9 G722/8000\n")
    answer = sdp_offer(THERE, THERE_PORT, "9", "a=rtpmap:9 G722/8000\n")
    frames = [
        (CALL_T0 - 2.0, udp_frame(HERE, 5060, THERE, 5060, sip_message("INVITE sip:a@example.net SIP/2.0", call_id,
                                                                        "1 INVITE", offer))),
        (CALL_T0 - 1.0, udp_frame(THERE, 5060, HERE, 5060, sip_message("SIP/2.0 200 OK", call_id, "1 INVITE",
                                                                        answer))),
    ]  # fmt: skip
    for n in range(25 * 50):
        at = CALL_T0 + 0.02 * n
        sent, received = rtp_packet(n, 160 * n, OUT_SSRC, pt=9), rtp_packet(n, 160 * n, IN_SSRC, pt=9)
        frames.append((at, udp_frame(HERE, HERE_PORT, THERE, THERE_PORT, sent)))
        frames.append((at + 0.003, udp_frame(THERE, THERE_PORT, HERE, HERE_PORT, received)))
    for k in range(1, 5):
        at = CALL_T0 + 5.0 * k - 0.25
        block = report_block(OUT_SSRC, fraction=5, lost=5 * k, jitter=16, lsr=ntp_middle32(at - 0.5),
                             dlsr=int(0.45 * 65536))  # fmt: skip
        frames.append((at, udp_frame(THERE, THERE_PORT + 1, HERE, HERE_PORT + 1, rtcp_rr(IN_SSRC, [block]))))
    samples = feed(CallTracker(LOCAL, salt=SALT), frames, until_s=CALL_T0 + 30)
    outbound = [s for s in samples if s.direction == OUTBOUND and s.source == FROM_RTCP]
    inbound = [s for s in samples if s.direction != OUTBOUND]
    assert outbound and inbound
    assert {(s.codec, s.mos, s.r_factor, s.mos_model) for s in outbound + inbound} == {("G722", None, None, "g107.1")}
    assert {sample_dict(s)["mos_model"] for s in samples} == {"g107.1"}

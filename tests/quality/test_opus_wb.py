"""Opus scored on G.107.1 where published wideband values apply: Alahmadi, Pocta and Melvin 2021 (ACM TOMM 17(4)
article 133), as the first author publishes them in Opus_emodel.js ("wb" table): VBR 11 kbit/s Ie 28.41322299 Bpl
23.93979569, 12 kbit/s Ie 23.29505705 Bpl 22.2151863, 13 kbit/s Ie 19.958882 Bpl 19.49608704; CBR 12-15 kbit/s.
Written out here, not taken from the module. The formulas are G.107.1's (test_emodel_wb.py): R = 129 - Ie,eff,
Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl), MOS by Annex A at R / 1.29.
"""

from __future__ import annotations

import random
import subprocess

import pytest

from homeshore.quality.emodel_wb import score_wb
from homeshore.quality.capture import analyze_capture
from tests.conftest import PCAPS, require_tool
from tests.quality.synthetic import rtp_packet, sdp_offer, sip_message, stun_binding_request
from tests.quality.test_analyzer import DPORT, DST, DST_IP, SPORT, SRC, SSRC, T0, one_stream, run
from tests.quality.test_emodel_wb import TOLERANCE_R, annex_a_mos

OPUS_12_VBR = (23.29505705, 22.2151863)
OPUS_13_VBR = (19.958882, 19.49608704)  # the highest wideband rates published: floors above them
OPUS_14_CBR = (20.77194577, 17.5623101)
OPUS_15_CBR = (18.06274989, 18.73740804)
SIZES = (26, 28, 30, 32, 34)  # VBR: 30 bytes a packet on average, 8 * 30 / 20 ms = 12 kbit/s exactly


def expected_r(ie: float, bpl: float, loss_pct: float, burst_r: float = 1.0) -> float:
    return 129 - (ie + (95 - ie) * loss_pct / (loss_pct / burst_r + bpl))


@pytest.mark.parametrize(
    ("bitrate_kbps", "cbr", "loss_pct", "burst_r", "values"),
    [(12.0, False, 0.0, 1.0, OPUS_12_VBR), (12.3, False, 2.0, 1.0, OPUS_12_VBR), (11.7, False, 5.0, 2.0, OPUS_12_VBR),
     (14.0, True, 1.0, 1.0, OPUS_14_CBR)],
)
def test_opus_wideband_values(bitrate_kbps, cbr, loss_pct, burst_r, values):
    result = score_wb("opus", loss_pct, burst_r=burst_r, bitrate_kbps=bitrate_kbps, constant_bitrate=cbr)
    r = expected_r(*values, loss_pct, burst_r)
    assert result.reason is None and "Alahmadi" in result.source
    assert result.r_factor == pytest.approx(r, abs=TOLERANCE_R)
    assert result.mos == pytest.approx(annex_a_mos(r), abs=0.01)


def opus_sip_call(lost_every: int | None, *, webrtc: bool = False, sizes: tuple[int, ...] = SIZES):
    """A SIP-signalled Opus call on plain RTP (RTP/AVP: no SRTP tag in the payloads), 20-ms packets of SIZES in
    turn, every `lost_every`-th packet lost; or the same packets on a STUN flow without SDP (webrtc)."""
    rng = random.Random(8)
    if webrtc:
        items = [(T0 - 1.0, DST, DPORT, SRC, SPORT, stun_binding_request(bytes(12)))]
    else:
        offer = sdp_offer(DST_IP, DPORT, "111", "a=rtpmap:111 opus/48000/2\n")
        items = [(T0 - 1.0, SRC, 5060, DST, 5060, sip_message("INVITE sip:a@example.net SIP/2.0", "opus@example.com",
                                                               "1 INVITE", offer))]
    for n in range(1500):
        if lost_every and n % lost_every == lost_every // 2:
            continue
        packet = rtp_packet(n, 960 * n, SSRC, pt=111, payload=rng.randbytes(sizes[n % len(sizes)]))
        items.append((T0 + 0.02 * n + rng.uniform(0, 0.004), SRC, SPORT, DST, DPORT, packet))
    return one_stream(run(items)[1])


def test_a_12_kbit_s_opus_call_gets_a_mos_that_falls_with_loss():
    clean, lossy = opus_sip_call(None), opus_sip_call(50)
    for stream in (clean, lossy):
        assert (stream.codec, stream.codec_source, stream.clock_hz) == ("opus", "sdp", 48000)
        assert stream.score.mos_model == "g107.1" and stream.score.mos_note is None
        loss = stream.loss
        r = expected_r(*OPUS_12_VBR, loss.effective_loss_pct, loss.burst_ratio)
        assert stream.score.r_factor == pytest.approx(r, abs=TOLERANCE_R)
        assert stream.score.mos == pytest.approx(annex_a_mos(r), abs=0.01)
    assert (clean.loss.lost, lossy.loss.lost) == (0, 30)  # 1500 / 50
    assert clean.score.r_factor == pytest.approx(129 - OPUS_12_VBR[0], abs=TOLERANCE_R)
    assert (clean.score.mos, lossy.score.mos) == (4.10, 3.92)  # 2 % random loss: R 105.70 -> 99.79


@pytest.mark.parametrize(
    ("kwargs", "values", "at"),
    [({"bitrate_kbps": 32.4}, OPUS_13_VBR, "32 kbit/s VBR of 13 kbit/s VBR"),
     ({"bitrate_kbps": 28.6, "bitrate_max_kbps": 33.5}, OPUS_13_VBR, "29-34 kbit/s VBR of 13 kbit/s VBR"),
     ({"bitrate_kbps": 24.0, "constant_bitrate": True}, OPUS_15_CBR, "24 kbit/s CBR of 15 kbit/s CBR")],
)
@pytest.mark.parametrize("loss_pct", [0.0, 2.0])
def test_opus_above_the_published_rates_is_scored_with_the_highest_row_as_a_floor(kwargs, values, at, loss_pct):
    """A browser's Opus (about 32 kbit/s, fullband) is above every wideband row: the highest row of its mode gives
    a floor, labelled so, which falls with loss like any other score."""
    result = score_wb("opus", loss_pct, **kwargs)
    r = expected_r(*values, loss_pct)
    assert result.reason is None and "Alahmadi" in result.source
    assert result.r_factor == pytest.approx(r, abs=TOLERANCE_R)
    assert result.mos == pytest.approx(annex_a_mos(r), abs=0.01)
    scored_at, row = at.split(" of ")
    assert result.note == (f"floor: Opus at {scored_at} scored with the Ie,wb and Bpl of {row}, the highest wideband "
                           "rate published; more bits impair the speech no more")


def test_at_the_highest_row_itself_the_score_is_no_floor():
    assert score_wb("opus", 0.0, bitrate_kbps=13.2).note is None


@pytest.mark.parametrize(
    ("sizes", "note"),
    [
        # 30 bytes on average less a 16-byte (AEAD) or 4-byte (HMAC-SHA1-32) tag: 5.6 to 10.4 kbit/s, no row.
        (SIZES, "no published Ie,wb for Opus at 6-10 kbit/s VBR (wideband values: 11-13 kbit/s VBR, 12-15 kbit/s CBR)"),
        # 46 bytes on average: 12 to 16.8 kbit/s, across the 12 and 13 kbit/s rows: which one is not in the headers.
        (tuple(size + 16 for size in SIZES),
         "Opus at 12-17 kbit/s: the SRTP tag's length is not in the headers, and Ie,wb depends on the bitrate"),
    ],
)
def test_on_a_webrtc_flow_the_srtp_tag_leaves_the_bitrate_open_and_opus_unscored(sizes, note):
    stream = opus_sip_call(None, webrtc=True, sizes=sizes)
    assert (stream.codec, stream.codec_source, stream.score.mos, stream.score.mos_note) == (
        "opus", "inferred", None, note)


def test_the_real_sip_opus_call_is_fullband_and_beyond_the_published_rows_so_its_mos_is_a_floor():
    """rtppcap_sip-rtp-opus.pcap (RTP/AVP, PT 99): its bitrate over the first 32 packets, where homeshore reads it,
    from tshark's UDP lengths (minus 8 UDP and 12 RTP header bytes) over consecutive timestamps; scored with the
    13 kbit/s VBR row at the loss tshark counts."""
    require_tool("tshark")
    path = PCAPS / "rtppcap_sip-rtp-opus.pcap"
    rows = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "rtp", "-T", "fields", "-e", "rtp.seq",
                           "-e", "rtp.timestamp", "-e", "udp.length"],
                          capture_output=True, text=True, timeout=120, check=True).stdout.split("\n")[:32]
    packets = [tuple(map(int, row.split())) for row in rows]
    bits = sum(8 * (b[2] - 20) for a, b in zip(packets, packets[1:]) if b[0] - a[0] == 1)
    ms = sum((b[1] - a[1]) / 48 for a, b in zip(packets, packets[1:]) if b[0] - a[0] == 1)
    [stream] = analyze_capture(path).streams
    r = expected_r(*OPUS_13_VBR, stream.loss.lost * 100 / stream.loss.expected)
    assert stream.score.mos == pytest.approx(annex_a_mos(r), abs=0.01)
    assert stream.score.mos_note == (f"floor: Opus at {bits / ms:.0f} kbit/s VBR scored with the Ie,wb and Bpl of "
                                     "13 kbit/s VBR, the highest wideband rate published; more bits impair the "
                                     "speech no more")

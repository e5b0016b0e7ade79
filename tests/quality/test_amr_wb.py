"""The AMR-WB mode, from payload sizes and from SDP mode-set, picks the Ie,wb an AMR-WB stream is scored with.

The sizes below are written out by hand, not computed by the module under test: 3GPP TS 26.201 Table 2 gives the
speech bits of one 20-ms frame per mode (132, 177, 253, 285, 317, 365, 397, 461, 477; the bitrate times 20 ms),
and RFC 4867 packs one frame as
- bandwidth-efficient (§4.4.1): 4-bit CMR + 6-bit ToC + speech bits, padded to an octet;
- octet-aligned (§4.4.2): CMR octet + ToC octet + speech bits padded to an octet.
"""

from __future__ import annotations

import pytest

from homeshore.quality import amr_wb
from tests.quality.synthetic import rtp_packet, sdp_offer, sip_message
from tests.quality.test_analyzer import DPORT, DST, DST_IP, SPORT, SRC, SSRC, T0, one_stream, run

# mode kbit/s: (speech bits, bandwidth-efficient bytes, octet-aligned bytes)
RFC_4867_SIZES = {
    6.6: (132, 18, 19),  # ceil(142/8) = 18; 2 + ceil(132/8) = 2 + 17
    8.85: (177, 24, 25),  # ceil(187/8) = 24; 2 + 23
    12.65: (253, 33, 34),  # ceil(263/8) = 33; 2 + 32
    14.25: (285, 37, 38),  # ceil(295/8) = 37; 2 + 36
    15.85: (317, 41, 42),  # ceil(327/8) = 41; 2 + 40
    18.25: (365, 47, 48),  # ceil(375/8) = 47; 2 + 46
    19.85: (397, 51, 52),  # ceil(407/8) = 51; 2 + 50
    23.05: (461, 59, 60),  # ceil(471/8) = 59; 2 + 58
    23.85: (477, 61, 62),  # ceil(487/8) = 61; 2 + 60
}
SID_BYTES = 7  # 40 SID bits: ceil(50/8) = 7 bandwidth-efficient, 2 + 5 = 7 octet-aligned


@pytest.mark.parametrize("mode_kbps", sorted(RFC_4867_SIZES))
def test_every_mode_is_named_by_its_payload_size_in_either_layout(mode_kbps):
    bits, efficient, aligned = RFC_4867_SIZES[mode_kbps]
    assert bits == round(mode_kbps * 20)  # TS 26.201: a 20-ms frame at the mode's bitrate
    assert amr_wb.SPEECH_BITS[amr_wb.AMR_WB_MODES_KBPS.index(mode_kbps)] == bits
    assert amr_wb.mode_from_payload_bytes(efficient) == mode_kbps
    assert amr_wb.mode_from_payload_bytes(aligned) == mode_kbps


def test_comfort_noise_and_other_sizes_name_no_mode():
    named = {size for _bits, *sizes in RFC_4867_SIZES.values() for size in sizes}
    assert len(named) == 18  # the two layouts never share a size
    for size in range(0, 200):
        assert (amr_wb.mode_from_payload_bytes(size) is not None) == (size in named), size
    assert amr_wb.mode_from_payload_bytes(SID_BYTES) is None


def test_the_dominant_mode_ignores_comfort_noise():
    assert amr_wb.dominant_mode([61] * 5 + [SID_BYTES] * 20 + [33] * 2) == 23.85
    assert amr_wb.dominant_mode([SID_BYTES, 160]) is None


@pytest.mark.parametrize(
    ("fmtp", "mode_kbps"),
    [
        ("mode-set=2", 12.65),  # RFC 4867 §8.1: mode-set lists frame types; 2 is 12.65 kbit/s (TS 26.201)
        ("octet-align=1; mode-set=8", 23.85),
        ("mode-set=0,1,2", None),  # several allowed: the sender picks; SDP alone cannot say
        ("octet-align=1", None),  # no mode-set: every mode allowed
        ("mode-set=9", None),  # SID is never in a mode-set
        ("mode-set=x", None),
        ("", None),
    ],
)
def test_a_mode_set_of_one_names_the_mode(fmtp, mode_kbps):
    assert amr_wb.mode_from_fmtp(fmtp) == mode_kbps


def g107_annex_b_mos(r: float) -> float:
    """ITU-T G.107 Annex B (B-4), written out independently of emodel.r_to_mos."""
    return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6


def amr_wb_call(payload_bytes: int, fmtp: str | None, count: int = 600):
    """A SIP-signalled AMR-WB stream (dynamic PT 104 at 16 kHz, 20-ms frames: 320 timestamp units)."""
    rtpmaps = "a=rtpmap:104 AMR-WB/16000\n" + (f"a=fmtp:104 {fmtp}\n" if fmtp else "")
    offer = sdp_offer(DST_IP, DPORT, "104", rtpmaps)
    invite = sip_message("INVITE sip:a@example.net SIP/2.0", "amrwb@example.com", "1 INVITE", offer)
    items = [(T0 - 1.0, SRC, 5060, DST, 5060, invite)]
    payload = bytes(payload_bytes)
    items += [(T0 + 0.02 * n, SRC, SPORT, DST, DPORT, rtp_packet(n, 320 * n, SSRC, pt=104, payload=payload))
              for n in range(count)]
    return one_stream(run(items)[1])


@pytest.mark.parametrize(
    ("payload_bytes", "fmtp", "mode_kbps", "ie_wb"),
    [
        # G.113 Appendix IV Table IV.1 (monotic), as emodel_wb transcribes it: 23.85 -> 8, 12.65 -> 13, 6.6 -> 41.
        (61, None, 23.85, 8.0),  # bandwidth-efficient 23.85 kbit/s, no fmtp at all
        (34, "octet-align=1", 12.65, 13.0),  # octet-aligned 12.65
        (19, "octet-align=1; mode-set=8", 6.6, 41.0),  # what was sent wins over what was allowed
        (45, "mode-set=2", 12.65, 13.0),  # a size no mode has (several frames, CRCs): the mode-set of one decides
    ],
)
def test_an_amr_wb_stream_is_scored_for_its_mode(payload_bytes, fmtp, mode_kbps, ie_wb):
    stream = amr_wb_call(payload_bytes, fmtp)
    assert (stream.codec, stream.clock_hz, stream.codec_mode_kbps) == ("AMR-WB", 16000, mode_kbps)
    r = 129.0 - ie_wb  # G.107.1 eq. 7-1 at the defaults, no loss: Ro,WB 129, Is,WB = A = 0, Ie,eff,WB = Ie,WB
    assert (stream.score.r_factor, stream.score.mos_model) == (r, "g107.1")
    assert stream.score.mos == round(g107_annex_b_mos(r / 1.29), 2)  # G.107.1 Annex A
    assert stream.windows and {w.score.mos_model for w in stream.windows} == {"g107.1"}


def test_without_a_mode_an_amr_wb_stream_says_why_it_has_no_mos():
    stream = amr_wb_call(45, "mode-set=0,1,2")
    assert stream.codec_mode_kbps is None
    assert (stream.score.mos, stream.score.mos_model) == (None, "g107.1")
    assert stream.score.mos_note == "AMR-WB mode unknown (Ie,wb depends on it)"

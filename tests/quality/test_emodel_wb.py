"""Tests for homeshore.quality.emodel_wb against ITU-T G.107.1 and G.113 Appendix IV values.

Where the values come from (written out here, never taken from the module under test):
- ITU-T G.107.1 (06/2019 + Cor. 1) eq. 7-1: R = Ro,WB - Is,WB - Id,WB - Ie,eff,WB + A, with the defaults of
  clause 7.7: Ro,WB = 129, Is,WB = 0, A = 0; listening quality, so no Id,WB.
- G.107.1 clause 7.5: Ie,eff,WB = Ie,WB + (95 - Ie,WB) * Ppl / (Ppl / BurstR + Bpl,WB).
- G.107.1 Annex A: Rx = R / 1.29; MOS = 1 + 0.035 Rx + Rx (Rx - 60) (100 - Rx) 7e-6 for 0 < Rx < 100.
- ITU-T G.113 (09/2024) Appendix IV: Table IV.1 (monotic Ie,WB of AMR-WB: 23.05 kbit/s 1, 12.65 kbit/s 13,
  6.6 kbit/s 41), Table IV.3 (diotic: 12.65 kbit/s 20, 23.85 kbit/s 10) and Table IV.4 (diotic Bpl,WB: 12.65
  kbit/s 4.3, 23.85 kbit/s 4.9); no Bpl,WB for monotic listening.
"""

from __future__ import annotations

import pytest

from homeshore.quality.emodel_wb import is_wideband, r_wb, r_wb_to_mos, score_wb

TOLERANCE_R = 0.05  # issue 17: "within 0.05 R"


def annex_a_mos(r: float) -> float:
    """G.107.1 Annex A, written out."""
    rx = r / 1.29
    if rx <= 0:
        return 1.0
    if rx >= 100:
        return 4.5
    return 1 + 0.035 * rx + rx * (rx - 60) * (100 - rx) * 7e-6


@pytest.mark.parametrize(
    ("mode_kbps", "loss_pct", "burst_r", "diotic", "expected_r"),
    [
        # G.113 Table IV.1, no loss: R = 129 - Ie,WB.
        (23.05, 0.0, 1.0, False, 129 - 1),
        (12.65, 0.0, 1.0, False, 129 - 13),
        (6.6, 0.0, 1.0, False, 129 - 41),
        # G.113 Table IV.3, no loss.
        (12.65, 0.0, 1.0, True, 129 - 20),
        # G.113 Tables IV.3 + IV.4 at 2 % random loss (clause 7.5): 20 + 75 * 2 / (2 + 4.3) = 43.81.
        (12.65, 2.0, 1.0, True, 129 - (20 + (95 - 20) * 2 / (2 / 1 + 4.3))),
        # The same mode at 5 % loss with BurstR 2 (bursty loss weighs more): 20 + 75 * 5 / (2.5 + 4.3).
        (12.65, 5.0, 2.0, True, 129 - (20 + (95 - 20) * 5 / (5 / 2 + 4.3))),
        # 23.85 kbit/s diotic (Ie,WB 10, Bpl,WB 4.9) at 1 % random loss.
        (23.85, 1.0, 1.0, True, 129 - (10 + (95 - 10) * 1 / (1 + 4.9))),
    ],
)
def test_amr_wb_reproduces_the_g107_1_values(mode_kbps, loss_pct, burst_r, diotic, expected_r):
    result = score_wb("AMR-WB", loss_pct, burst_r=burst_r, mode_kbps=mode_kbps, diotic=diotic)
    assert result.reason is None
    assert result.r_factor == pytest.approx(expected_r, abs=TOLERANCE_R)
    assert result.mos == pytest.approx(annex_a_mos(expected_r), abs=0.01)
    assert "G.113" in result.source and ("Table IV.4" in result.source) == (loss_pct > 0)


def test_default_wideband_rating_is_129_and_mos_4_5():
    # G.107.1 clause 7.7: all defaults, no equipment impairment: R = Ro,WB - Is,WB + A = 129 - 0 + 0.
    assert r_wb(0.0) == pytest.approx(129.0, abs=TOLERANCE_R)
    # Annex A: Rx = 129 / 1.29 = 100, the top of the MOS scale.
    assert r_wb_to_mos(129.0) == pytest.approx(4.5, abs=1e-9)


@pytest.mark.parametrize("r", [0.0, 20.0, 60.0, 88.0, 100.0, 116.0, 128.0])
def test_annex_a_mos(r):
    assert r_wb_to_mos(r) == pytest.approx(annex_a_mos(r), abs=1e-9)


def test_wideband_r_stays_on_its_scale():
    assert r_wb(200.0) == 0.0  # Ie,eff beyond 129 (clause 7.5 never gives it for Ie <= 95): R stays 0, not negative
    assert r_wb(-5.0) == 129.0


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        # Opus: wideband values for 11-13 kbit/s VBR and 12-15 kbit/s CBR only (Alahmadi et al. 2021); above
        # them a floor (test_opus_wb.py), below or across them nothing.
        ({"codec": "opus", "loss_pct": 0.0, "bitrate_kbps": 11.2, "constant_bitrate": True},
         "no published Ie,wb for Opus at 11 kbit/s CBR (wideband values: 11-13 kbit/s VBR, 12-15 kbit/s CBR)"),
        ({"codec": "opus", "loss_pct": 1.0}, "no published Ie,wb for Opus at an unknown bitrate"),
        ({"codec": "opus", "loss_pct": 1.0, "bitrate_kbps": 11.8, "bitrate_max_kbps": 12.6},
         "Opus at 12-13 kbit/s: the SRTP tag's length is not in the headers, and Ie,wb depends on the bitrate"),
        ({"codec": "AMR-WB", "loss_pct": 0.0}, "AMR-WB mode unknown (Ie,wb depends on it)"),
        # Table IV.3 has no 19.85 kbit/s row; Table IV.1 has.
        (
            {"codec": "AMR-WB", "loss_pct": 0.0, "mode_kbps": 19.85, "diotic": True},
            "no published Ie,wb for AMR-WB at 19.85 kbit/s (diotic)",
        ),
        # Table IV.4 is diotic only: a monotic stream with loss cannot be scored.
        (
            {"codec": "AMR-WB", "loss_pct": 2.0, "mode_kbps": 12.65},
            "no published Bpl,wb for AMR-WB at 12.65 kbit/s (monotic)",
        ),
        # Table IV.4 covers three modes only.
        (
            {"codec": "AMR-WB", "loss_pct": 2.0, "mode_kbps": 6.6, "diotic": True},
            "no published Bpl,wb for AMR-WB at 6.6 kbit/s (diotic)",
        ),
        ({"codec": "G722", "loss_pct": 0.0}, "no Ie,wb for G.722 transcribed from G.113 Appendix IV yet"),
        ({"codec": "PCMA", "loss_pct": 0.0}, "PCMA is not a wideband codec"),
    ],
)
def test_unpublished_values_leave_the_mos_unknown_and_say_why(kwargs, reason):
    codec = kwargs.pop("codec")
    loss_pct = kwargs.pop("loss_pct")
    result = score_wb(codec, loss_pct, **kwargs)
    assert (result.r_factor, result.mos, result.ie_eff_wb, result.reason) == (None, None, None, reason)


def test_which_codecs_are_wideband():
    assert [codec for codec in ("PCMU", "PCMA", "G729", "G722", "AMR", "AMR-WB", "opus") if is_wideband(codec)] == [
        "G722",
        "AMR-WB",
        "opus",
    ]


def test_bad_loss_is_refused():
    with pytest.raises(ValueError, match="loss_pct"):
        score_wb("AMR-WB", 120.0, mode_kbps=12.65, diotic=True)

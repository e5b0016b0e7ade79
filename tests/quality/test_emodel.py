"""Tests for homeshore.quality.emodel against ITU-T G.107 / G.113 reference values.

Where the values come from (written out here, never computed by the module under test):
- ITU-T G.107 (06/2015), §7.7 and Table 3: the default parameter set, which "results in a rating R = 93.2"
  (93.21 unrounded); every other parameter of the R values below is a Table 3 default.
- G.107 §7.1 eq. 7-1 (R = Ro - Is - Id - Ie,eff + A), §7.4 (Id from the mean one-way delay T = Ta, Tr = 2T)
  and §7.5 eq. 7-29 (Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)): the R values at a loss or a delay are
  these equations worked by hand at the defaults, e.g. G.711 with PLC at 2 % random loss:
  93.21 - 95 * 2 / (2 + 25.1) = 86.20.
- G.107 Annex B eq. B-4: MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6 for 0 < R < 100 (R = 93.2: 4.41).
- ITU-T G.113 (11/2007) Appendix I, Table I.1 (Ie: G.711 0, G.729(A) 11, G.723.1 15, GSM-FR 20, G.726 at
  16/24/32/40 kbit/s 50/25/7/2) and Table I.3 (Bpl: G.711 with PLC 25.1, without 4.3, G.729A + VAD 19.0,
  G.723.1 + VAD 16.1, GSM-EFR 10.0). Codecs G.113 does not list carry an "estimate:" source.
"""

import math

import pytest

from homeshore.quality.emodel import (
    CodecImpairment,
    codec_impairment,
    default_r,
    delay_impairment,
    ie_eff,
    r_to_mos,
    score,
)

TOLERANCE = 0.05


@pytest.mark.parametrize(
    ("codec", "loss_pct", "plc", "one_way_delay_ms", "expected_r"),
    [
        # G.107 §7.7 / Table 3 default parameter set: G.711, no loss, no delay.
        ("PCMA", 0.0, True, 0.0, 93.21),
        # G.711 with PLC (G.113 Table I.3: Bpl 25.1), 2 % random loss (eq. 7-29), growing one-way delay (§7.4:
        # Id(150 ms) - Id(0) = 3.67, Id(300 ms) - Id(0) = 20.54).
        ("PCMA", 2.0, True, 0.0, 86.20),
        ("PCMA", 2.0, True, 150.0, 82.53),
        ("PCMA", 2.0, True, 300.0, 65.66),
        # G.711 without PLC (G.113 Table I.3: Bpl 4.3): 93.21 - 95 Ppl / (Ppl + 4.3).
        ("PCMU", 1.0, False, 0.0, 75.28),
        ("PCMU", 2.0, False, 0.0, 63.05),
        ("PCMU", 5.0, False, 0.0, 42.13),
        # G.729A + VAD (G.113 Tables I.1 and I.3: Ie 11, Bpl 19.0): 93.21 - 11 - 84 Ppl / (Ppl + 19);
        # plain G729 is scored the same way.
        ("G729A", 0.0, True, 0.0, 82.21),
        ("G729A", 1.0, True, 0.0, 78.01),
        ("G729A", 2.0, True, 0.0, 74.21),
        ("G729", 2.0, True, 0.0, 74.21),
    ],
)
def test_r_matches_itu_reference(codec, loss_pct, plc, one_way_delay_ms, expected_r):
    result = score(codec, loss_pct, plc=plc, one_way_delay_ms=one_way_delay_ms)
    assert result is not None
    assert result.r_factor == pytest.approx(expected_r, abs=TOLERANCE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # G.107 §7.7: R = 93.2 at the Table 3 defaults; Annex B eq. B-4 turns it into MOS 4.41.
        (default_r(), 93.21),
        (r_to_mos(default_r()), 4.41),
    ],
    ids=["default_r", "default_mos"],
)
def test_g107_defaults(value, expected):
    assert value == pytest.approx(expected, abs=TOLERANCE)


# Ie from G.113 Appendix I Table I.1, Bpl from Table I.3 (see the module docstring); "estimate:" rows are codecs
# G.113 does not list.
@pytest.mark.parametrize(
    ("codec", "plc", "canonical", "ie", "bpl", "source_prefix"),
    [
        ("PCMA", True, "PCMA", 0.0, 25.1, "ITU-T G.113"),
        ("pcmu", False, "PCMU", 0.0, 4.3, "ITU-T G.113"),
        ("G729", True, "G729", 11.0, 19.0, "ITU-T G.113"),
        ("g729a", False, "G729A", 11.0, 19.0, "ITU-T G.113"),  # the decoder conceals by itself
        ("G723", True, "G723", 15.0, 16.1, "ITU-T G.113"),
        ("GSM", True, "GSM", 20.0, 10.0, "ITU-T G.113"),
        ("G726-16", True, "G726-16", 50.0, 25.1, "ITU-T G.113"),
        ("G726-24", True, "G726-24", 25.0, 25.1, "ITU-T G.113"),
        ("G726-32", False, "G726-32", 7.0, 4.3, "ITU-T G.113"),
        ("G726-40", True, "G726-40", 2.0, 25.1, "ITU-T G.113"),
        ("AMR", True, "AMR", 5.0, 10.0, "estimate:"),
        ("G722", True, "G722", 0.0, 25.1, "estimate:"),
        ("G722", False, "G722", 0.0, 4.3, "estimate:"),
        ("AMR-WB", True, "AMR-WB", 0.0, 10.0, "estimate:"),
        ("opus/48000/2", True, "opus", 0.0, 25.1, "estimate:"),
        ("ILBC", True, "iLBC", 11.0, 19.0, "estimate:"),
        ("SPEEX", True, "speex", 11.0, 19.0, "estimate:"),
        ("L16", False, "L16", 0.0, 4.3, "estimate:"),
    ],
)
def test_codec_impairment_values(codec, plc, canonical, ie, bpl, source_prefix):
    result = codec_impairment(codec, plc=plc)
    assert isinstance(result, CodecImpairment)
    assert (result.codec, result.ie, result.bpl) == (canonical, ie, bpl)
    assert result.source.startswith(source_prefix)


@pytest.mark.parametrize("codec", ["telephone-event", "CN", "G728", "FOO", "", "PCM"])
def test_unknown_or_non_speech_codec_gives_none(codec):
    assert codec_impairment(codec) is None
    assert score(codec, 1.0, one_way_delay_ms=50.0) is None


# G.107 Annex B eq. B-4 (MOS 1 at R <= 0 and 4.5 at R >= 100), worked by hand: R = 50 gives
# 1 + 1.75 + 50 * -10 * 50 * 7e-6 = 2.575.
@pytest.mark.parametrize(
    ("r", "expected_mos"),
    [
        (-50.0, 1.0),
        (-0.01, 1.0),
        (3.0, 1.0),  # the Annex B cubic dips just below 1 here
        (50.0, 2.575),
        (93.2, 4.409),
        (100.0, 4.5),
        (100.01, 4.5),
        (150.0, 4.5),
    ],
)
def test_r_to_mos_values_and_clamps(r, expected_mos):
    assert r_to_mos(r) == pytest.approx(expected_mos, abs=0.001)


def test_r_to_mos_is_monotone_and_bounded():
    rs = [x / 10.0 for x in range(-200, 1201)]
    moses = [r_to_mos(r) for r in rs]
    assert all(1.0 <= m <= 4.5 for m in moses)
    assert all(b >= a for a, b in zip(moses, moses[1:])), "MOS must never fall as R rises"
    assert moses[-1] > moses[0]


@pytest.mark.parametrize(
    ("codec", "loss_pct", "burst_r"),
    [
        ("PCMA", 1.0, 1.5),
        ("PCMA", 5.0, 3.0),
        ("G729", 2.0, 2.0),
        ("G723", 10.0, 4.0),
    ],
)
def test_burst_r_above_one_lowers_r(codec, loss_pct, burst_r):
    random_loss = score(codec, loss_pct, burst_r=1.0, one_way_delay_ms=0.0)
    bursty_loss = score(codec, loss_pct, burst_r=burst_r, one_way_delay_ms=0.0)
    assert bursty_loss.r_factor < random_loss.r_factor
    assert bursty_loss.ie_eff > random_loss.ie_eff


@pytest.mark.parametrize(
    ("ie", "bpl", "loss_pct", "burst_r", "expected"),
    [
        (0.0, 25.1, 0.0, 1.0, 0.0),
        (11.0, 19.0, 0.0, 3.0, 11.0),  # no loss, no burst effect
        (0.0, 25.1, 2.0, 1.0, 95.0 * 2.0 / 27.1),
        (0.0, 25.1, 2.0, 2.0, 95.0 * 2.0 / 26.1),  # G.107 eq. 7-29: Ppl / BurstR in the denominator
        (11.0, 19.0, 100.0, 1.0, 11.0 + 84.0 * 100.0 / 119.0),
    ],
)
def test_ie_eff_equation(ie, bpl, loss_pct, burst_r, expected):
    assert ie_eff(ie, bpl, loss_pct, burst_r) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("one_way_delay_ms", "kind", "expected_id"),
    [
        # Id as in test_delay_impairment below (G.107 §7.4); no delay known is scored at none.
        (None, "listening", 0.15),
        (0.0, "conversational", 0.15),
        (150.0, "conversational", 3.82),
    ],
)
def test_kind_follows_whether_delay_is_known(one_way_delay_ms, kind, expected_id):
    result = score("PCMU", 1.0, one_way_delay_ms=one_way_delay_ms)
    assert result.kind == kind
    assert result.id_ == pytest.approx(expected_id, abs=TOLERANCE)


def test_listening_score_uses_zero_delay():
    listening = score("G722", 0.5)
    at_zero = score("G722", 0.5, one_way_delay_ms=0.0)
    delayed = score("G722", 0.5, one_way_delay_ms=250.0)
    assert listening.r_factor == pytest.approx(at_zero.r_factor, abs=1e-12)
    assert listening.id_ < 0.2
    assert delayed.r_factor < listening.r_factor - 5.0


@pytest.mark.parametrize(
    ("one_way_delay_ms", "expected_id"),
    [
        # 0 ms: listener echo at the default WEPL only. 150 and 300 ms: the G.711 references above,
        # 86.20 - 82.53 and 86.20 - 65.66, plus the 0 ms floor.
        (0.0, 0.15),
        (150.0, 3.82),
        (300.0, 20.69),
    ],
)
def test_delay_impairment(one_way_delay_ms, expected_id):
    assert delay_impairment(one_way_delay_ms) == pytest.approx(expected_id, abs=TOLERANCE)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss_pct": -1.0}, "loss_pct"),
        ({"loss_pct": 100.5}, "loss_pct"),
        ({"loss_pct": math.nan}, "loss_pct"),
        ({"loss_pct": 1.0, "burst_r": 0.0}, "burst_r"),
        ({"loss_pct": 1.0, "one_way_delay_ms": -5.0}, "one_way_delay_ms"),
        ({"loss_pct": 1.0, "one_way_delay_ms": math.nan}, "one_way_delay_ms"),
    ],
)
def test_invalid_inputs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        score("PCMA", **kwargs)


@pytest.mark.parametrize(("codec", "loss_pct", "burst_r", "one_way_delay_ms", "r_factor", "mos"), [
    # issue 15: 63 % loss in one burst; eq. 7-29 gives Ie-eff = 95 * 63 / (63 / 63 + 25.1) = 229.3, so
    # R = 93.2 - 229.3 - Id < 0 by the equation alone: G.107's scale stops at 0, MOS 1 (Annex B)
    ("PCMU", 63.0, 63.0, 100.0, 0.0, 1.0),
    ("PCMU", 100.0, 10.0, 0.0, 0.0, 1.0),  # everything lost in bursts: Ie-eff = 9500 / (10 + 25.1) = 270.7
    ("PCMU", 100.0, 1.0, 0.0, 17.27, 1.18),  # ... at random: Ie-eff = 9500 / 125.1 = 75.9, R = 93.2 - 75.9 > 0
    ("PCMU", 0.0, 1.0, None, 93.21, 4.41),  # within the scale: untouched (default_r())
])
def test_r_is_kept_on_g107s_scale_of_0_to_100(codec, loss_pct, burst_r, one_way_delay_ms, r_factor, mos):
    result = score(codec, loss_pct, burst_r=burst_r, one_way_delay_ms=one_way_delay_ms)
    assert result.r_factor == pytest.approx(r_factor, abs=0.01)
    assert result.mos == pytest.approx(mos, abs=0.01)

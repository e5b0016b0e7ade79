"""ITU-T G.107.1 (06/2019, with Corrigendum 1 of 01/2020) wideband E-model: R on the 0-129 scale and its MOS.

R = Ro,WB - Is,WB - Id,WB - Ie,eff,WB + A (G.107.1 eq. 7-1), taken here as a listening-quality rating:
- Ro,WB = 129, the top of the wideband transmission rating scale at the default parameter set (clauses 6.2, 7.2,
  7.7): an unimpaired wideband channel; the narrowband G.107 scale ends at 100 (93.2 at its defaults).
- Is,WB = 0 and A = 0 (clauses 7.3 and 7.6): G.107.1 gives no simultaneous impairments for wideband yet, and a
  wired or Wi-Fi softphone has no advantage of access.
- Id,WB is not applied: the wideband equipment impairment factors of G.113 Appendix IV were derived from
  listening-only tests (ITU-T P.833.1), and a passive capture sees neither the handset's echo path (TELR, WEPL)
  nor, usually, the mouth-to-ear delay. Every wideband score is therefore of kind "listening".
- Ie,eff,WB = Ie,WB + (95 - Ie,WB) * Ppl / (Ppl / BurstR + Bpl) (clause 7.5): G.107's eq. 7-29 unchanged, with
  95, not 129, as its constant.

MOS (G.107.1 Annex A): Rx = R / 1.29 is put into G.107 Annex B's cubic. That is the only mapping the
Recommendation publishes, and it is what "comparable to the narrowband MOS" means here: the same 1-4.5 scale and
the same polynomial as `emodel.r_to_mos`, so dashboards can plot both. The two are not the same listening context
(ITU-T P.800.1 calls them MOS-CQEW and MOS-CQEN): on the wideband scale a narrowband codec is itself an
impairment, which is why every score says which model produced it (`MODEL`, "g107.1", against "g107").

Codec impairments are used only where G.113 Appendix IV publishes them, for the listening context contact-centre
headsets give (monotic: one ear, Table IV.1) unless the caller says diotic (Table IV.3). Where nothing is
published the score is None with the reason: never a default.

Pure computation: numbers in, frozen dataclasses out, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from homeshore.quality.emodel import ie_eff, r_to_mos

MODEL: Final = "g107.1"
RO_WB: Final = 129.0  # G.107.1 clauses 6.2 and 7.2: basic signal-to-noise ratio at the defaults
IS_WB: Final = 0.0  # G.107.1 clause 7.3
A_WB: Final = 0.0  # G.107.1 clause 7.6, default advantage factor
R_WB_MAX: Final = 129.0
WB_TO_NB_SCALE: Final = 1.29  # G.107.1 Annex A: Rx = R / 1.29

_TABLE_IV_1: Final = "ITU-T G.113 (09/2024) Appendix IV, Table IV.1 (Ie,WB, monotic listening)"
_TABLE_IV_3: Final = "ITU-T G.113 (09/2024) Appendix IV, Table IV.3 (Ie,WB, diotic listening)"
_TABLE_IV_4: Final = "ITU-T G.113 (09/2024) Appendix IV, Table IV.4 (Bpl,WB, diotic, random loss)"

# Provenance: the Appendix IV values below were read from a published transcription of the 09/2024 tables (no
# copy of the Recommendation itself was at hand); check them against the Recommendation when it is. G.722's
# row was not in that transcription, so G.722 stays unscored rather than scored from memory.

# AMR-WB (G.722.2) modes in kbit/s, in RFC 4867 frame-type order (TS 26.201).
AMR_WB_MODES_KBPS: Final = (6.6, 8.85, 12.65, 14.25, 15.85, 18.25, 19.85, 23.05, 23.85)

# Ie,WB by mode (key: kbit/s x 100, so that SDP text such as "12.65" matches exactly). Not monotonic in bitrate
# (23.85 kbit/s is rated worse than 23.05): that is the published table, not a slip.
_AMR_WB_IE_MONOTIC: Final[dict[int, float]] = {
    2385: 8.0, 2305: 1.0, 1985: 3.0, 1825: 5.0, 1585: 7.0, 1425: 10.0, 1265: 13.0, 885: 26.0, 660: 41.0,
}  # fmt: skip
_AMR_WB_IE_DIOTIC: Final[dict[int, float]] = {2385: 10.0, 2305: 8.0, 1585: 17.0, 1265: 20.0, 885: 41.0, 660: 56.0}
# Bpl,WB is published for three modes, diotic listening and random loss only; none for monotic listening.
_AMR_WB_BPL_DIOTIC: Final[dict[int, float]] = {2385: 4.9, 2305: 4.6, 1265: 4.3}

# Opus: no ITU-T table. Alahmadi, Pocta and Melvin derived Ie,wb and Bpl for Opus on the G.107.1 scale from
# instrumental quality estimates of Opus-coded speech (ACM Trans. Multimedia Comput. Commun. Appl. 17(4), article
# 133, 2021, doi:10.1145/3458751); the values are as the first author publishes them beside the paper
# (github.com/mohaoahmadi/Opus_Codec_Quality_Evaluation, Opus_emodel.js, its "wb" table, commit 14d46e2, MIT),
# the paper's own table not seen. Only the wideband rows are used: Opus in wideband at 11-13 kbit/s VBR and 12-15
# kbit/s CBR. Their 14-40 kbit/s rows are super-wideband, for the G.107.2 scale (R up to 148), not this one.
# A browser's usual Opus (29-34 kbit/s, fullband) is above every wideband row: it is scored with the highest
# row of its mode, as a floor (more bits impair the speech no more, and fullband audio heard on a wideband scale
# is at least wideband), and the note says so: a WebRTC call gets a MOS that falls with loss, never a default.
# Below the lowest row, or with a bitrate range that spans rows, there is no MOS. Bpl is their random-loss
# value, used with BurstR in clause 7.5's formula. Key: the target bitrate in kbit/s; value: (Ie,wb, Bpl).
_OPUS_SOURCE: Final = ("Alahmadi, Pocta, Melvin 2021 (ACM TOMM 17(4):133, doi:10.1145/3458751), Opus wideband "
                       "Ie,wb and Bpl as published in Opus_emodel.js")
_OPUS_WB_VBR: Final[dict[int, tuple[float, float]]] = {
    11: (28.41322299, 23.93979569), 12: (23.29505705, 22.2151863), 13: (19.958882, 19.49608704),
}  # fmt: skip
_OPUS_WB_CBR: Final[dict[int, tuple[float, float]]] = {
    12: (29.76435108, 24.80947978), 13: (26.16108167, 23.0047189), 14: (20.77194577, 17.5623101),
    15: (18.06274989, 18.73740804),
}  # fmt: skip

# Codec names (as `codecs.canonical_codec` writes them) scored on this model rather than on G.107.
WIDEBAND_CODECS: Final = frozenset({"G722", "AMR-WB", "opus"})


@dataclass(frozen=True)
class WidebandScore:
    """One G.107.1 evaluation, or the reason there is none.

    codec: canonical codec name.
    r_factor: wideband transmission rating R, 0 to 129; None when no published Ie,WB (or Bpl,WB) applies.
    mos: G.107.1 Annex A MOS, 1.0 to 4.5; None with r_factor.
    ie_eff_wb: effective wideband equipment impairment Ie,eff,WB; None with r_factor.
    reason: why r_factor and mos are None ("no published Ie,wb for Opus at 8 kbit/s"); None when scored.
    source: the tables the impairment values come from; empty when not scored.
    note: how a score was reached when it is an estimate (a floor from a lower bitrate's row); None otherwise.
    """

    codec: str
    r_factor: float | None
    mos: float | None
    ie_eff_wb: float | None
    reason: str | None
    source: str
    note: str | None = None


def is_wideband(codec: str) -> bool:
    """Whether a codec (canonical name) is scored on the wideband model."""
    return codec in WIDEBAND_CODECS


def r_wb(ie_eff_wb: float) -> float:
    """Listening-quality R = Ro,WB - Is,WB - Ie,eff,WB + A (G.107.1 eq. 7-1 without Id,WB), clamped to 0..129."""
    return min(R_WB_MAX, max(0.0, RO_WB - IS_WB - ie_eff_wb + A_WB))


def r_wb_to_mos(r: float) -> float:
    """MOS from a wideband R (G.107.1 Annex A): G.107 Annex B's cubic at Rx = R / 1.29."""
    return r_to_mos(r / WB_TO_NB_SCALE)


def _mode_key(mode_kbps: float) -> int:
    return int(round(mode_kbps * 100.0))


def _unscored(codec: str, reason: str) -> WidebandScore:
    return WidebandScore(codec=codec, r_factor=None, mos=None, ie_eff_wb=None, reason=reason, source="")


def score_wb(
    codec: str,
    loss_pct: float,
    *,
    burst_r: float = 1.0,
    mode_kbps: float | None = None,
    bitrate_kbps: float | None = None,
    diotic: bool = False,
    bitrate_max_kbps: float | None = None,
    constant_bitrate: bool = False,
) -> WidebandScore:
    """G.107.1 listening-quality score of one wideband stream.

    codec: canonical name ("G722", "AMR-WB", "opus").
    loss_pct: packet loss in percent as the decoder sees it (late discards included).
    burst_r: G.107 BurstR (1 = random loss).
    mode_kbps: the AMR-WB mode, when known (SDP mode-set of one mode, or the payload's frame type).
    bitrate_kbps: the codec bitrate estimated from payload sizes (see `payload_bitrate`): Opus's Ie,wb depends
        on it; with bitrate_max_kbps, the bitrate lies between the two (an SRTP tag of unknown length).
    diotic: both ears (G.113 Table IV.3/IV.4) instead of one (Table IV.1).
    constant_bitrate: Opus sent at a constant bitrate (every payload the same size): the CBR values apply.
    """
    if codec == "AMR-WB":
        return _score_amr_wb(loss_pct, burst_r, mode_kbps, diotic)
    if codec == "opus":
        return _score_opus(loss_pct, burst_r, bitrate_kbps, bitrate_max_kbps, constant_bitrate)
    if codec == "G722":
        return _unscored(codec, "no Ie,wb for G.722 transcribed from G.113 Appendix IV yet")
    return _unscored(codec, f"{codec} is not a wideband codec")


def _score_amr_wb(loss_pct: float, burst_r: float, mode_kbps: float | None, diotic: bool) -> WidebandScore:
    codec = "AMR-WB"
    if mode_kbps is None:
        return _unscored(codec, "AMR-WB mode unknown (Ie,wb depends on it)")
    key = _mode_key(mode_kbps)
    context = "diotic" if diotic else "monotic"
    ie = (_AMR_WB_IE_DIOTIC if diotic else _AMR_WB_IE_MONOTIC).get(key)
    if ie is None:
        return _unscored(codec, f"no published Ie,wb for AMR-WB at {mode_kbps:g} kbit/s ({context})")
    source = _TABLE_IV_3 if diotic else _TABLE_IV_1
    if loss_pct > 0.0:
        bpl = _AMR_WB_BPL_DIOTIC.get(key) if diotic else None
        if bpl is None:
            return _unscored(codec, f"no published Bpl,wb for AMR-WB at {mode_kbps:g} kbit/s ({context})")
        eff = ie_eff(ie, bpl, loss_pct, burst_r)
        source = f"{source}; {_TABLE_IV_4}"
    else:
        eff = ie
    r = r_wb(eff)
    return WidebandScore(codec=codec, r_factor=r, mos=r_wb_to_mos(r), ie_eff_wb=eff, reason=None, source=source)


def _score_opus(loss_pct: float, burst_r: float, bitrate_kbps: float | None, bitrate_max_kbps: float | None,
                constant_bitrate: bool) -> WidebandScore:
    codec = "opus"
    if bitrate_kbps is None:
        return _unscored(codec, "no published Ie,wb for Opus at an unknown bitrate")
    mode = "CBR" if constant_bitrate else "VBR"
    table = _OPUS_WB_CBR if constant_bitrate else _OPUS_WB_VBR
    low, high = round(bitrate_kbps), round(bitrate_max_kbps if bitrate_max_kbps is not None else bitrate_kbps)
    top = max(table)
    if low >= top:  # at or above the highest wideband row: that row, a floor beyond it
        at = f"{low}" if low == high else f"{low}-{high}"
        note = None if low == high == top else (
            f"floor: Opus at {at} kbit/s {mode} scored with the Ie,wb and Bpl of {top} kbit/s {mode}, the highest "
            "wideband rate published; more bits impair the speech no more")
        return _opus_score(table[top], loss_pct, burst_r, f"{_OPUS_SOURCE} ({mode})", note)
    if not any(low <= published <= high for published in table):
        at = f"{low}" if low == high else f"{low}-{high}"
        return _unscored(codec, f"no published Ie,wb for Opus at {at} kbit/s {mode} "
                                "(wideband values: 11-13 kbit/s VBR, 12-15 kbit/s CBR)")
    if low != high:
        return _unscored(codec, f"Opus at {low}-{high} kbit/s: the SRTP tag's length is not in the headers, and "
                                "Ie,wb depends on the bitrate")
    return _opus_score(table[low], loss_pct, burst_r, f"{_OPUS_SOURCE} ({mode})", None)


def _opus_score(row: tuple[float, float], loss_pct: float, burst_r: float, source: str,
                note: str | None) -> WidebandScore:
    ie, bpl = row
    eff = ie_eff(ie, bpl, loss_pct, burst_r)
    r = r_wb(eff)
    return WidebandScore(codec="opus", r_factor=r, mos=r_wb_to_mos(r), ie_eff_wb=eff, reason=None, source=source,
                         note=note)

"""One place that picks the E-model for a stream: G.107.1 for wideband codecs, G.107 for the rest.

The capture's own streams (stream.py) and the outbound ones scored from the far end's RTCP reports (calls.py)
both come here, so one call's two directions are never scored on different models.
"""

from __future__ import annotations

from typing import Final

from homeshore.quality import emodel, emodel_wb
from homeshore.quality.results import QualityScore

NARROWBAND_MODEL: Final = "g107"


def score(codec: str, loss_pct: float, *, burst_r: float = 1.0, one_way_delay_ms: float | None = None,
          mode_kbps: float | None = None, bitrate_kbps: tuple[float, float] | None = None,
          constant_bitrate: bool = False) -> QualityScore:
    """R and MOS (rounded to 2 places) of one call direction, with the model that scored it.

    Wideband codecs get G.107.1 listening quality (no delay term; see emodel_wb), or no MOS and the reason when
    G.113 publishes no Ie,wb for them; mos_note says why there is none, or that a MOS is a floor (Opus above
    its published bitrates, emodel_wb). Codecs neither model knows get mos_kind "unknown" and no model.
    mode_kbps: the AMR-WB mode (amr_wb.py), on which its Ie,wb depends; None when not known.
    bitrate_kbps: Opus's bitrate from its payload sizes, (lowest, highest) when an SRTP tag of unknown length may
    be in them; constant_bitrate: its payloads are all one size (CBR). Opus's Ie,wb depends on both.
    """
    if emodel_wb.is_wideband(codec):
        low, high = bitrate_kbps if bitrate_kbps is not None else (None, None)
        wide = emodel_wb.score_wb(codec, loss_pct, burst_r=burst_r, mode_kbps=mode_kbps, bitrate_kbps=low,
                                  bitrate_max_kbps=high, constant_bitrate=constant_bitrate)
        if wide.r_factor is None or wide.mos is None:
            return QualityScore(None, None, "unknown", emodel_wb.MODEL, wide.reason)
        return QualityScore(round(wide.r_factor, 2), round(wide.mos, 2), "listening", emodel_wb.MODEL, wide.note)
    result = emodel.score(codec, loss_pct, burst_r=burst_r, one_way_delay_ms=one_way_delay_ms)
    if result is None:
        return QualityScore(None, None, "unknown")
    return QualityScore(round(result.r_factor, 2), round(result.mos, 2), result.kind, NARROWBAND_MODEL)

"""ITU-T G.107 (06/2015) E-model: transmission rating R and MOS for one call direction.

Everything except packet loss and one-way delay is held at the G.107 default parameter set (clause 7.7, Table 3):
we observe RTP, not handsets, so SLR, RLR, TELR, room noise and so on are unknowable and the defaults are the
planning convention. Codec impairments (Ie, Bpl) come from ITU-T G.113 Appendix I; where G.113 gives no value the
table says so in `CodecImpairment.source`.

Pure computation: numbers in, frozen dataclasses out, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# G.107 clause 7.7, Table 3: default values. Loudness ratings, STMR, LSTR, TELR, WEPL, Nc, Nfor, Ps, Pr in dB
# (Nc, Nfor in dBm0p, Ps/Pr in dB(A)); delays in ms. T, Ta, Tr are not listed here: they follow the call.
_SLR_DB = 8.0
_RLR_DB = 2.0
_STMR_DB = 15.0
_LSTR_DB = 18.0
_DS_DB = 3.0  # D-value of the telephone, send side
_DR_DB = 3.0  # D-value of the telephone, receive side (enters only via LSTR = STMR + Dr, already given)
_TELR_DB = 65.0
_WEPL_DB = 110.0
_NC_DBM0P = -70.0
_NFOR_DBMP = -64.0
_PS_DBA = 35.0
_PR_DBA = 35.0
_QDU = 1.0
_A = 0.0
# G.107 (06/2015) clause 7.4, eq. 7-27/7-28: the Idd knee; defaults mT = 100 ms, sT = 1.
_IDD_MT_MS = 100.0
_IDD_ST = 1.0


@dataclass(frozen=True)
class CodecImpairment:
    """Equipment impairment of one codec, as the E-model needs it.

    codec: canonical name as in SDP rtpmap (e.g. "PCMA").
    ie: equipment impairment factor Ie at zero loss (R-scale points, narrowband scale).
    bpl: packet-loss robustness factor Bpl (dimensionless, larger = more robust).
    source: where the numbers come from: a G.113 table, or "estimate: <why>".
    """

    codec: str
    ie: float
    bpl: float
    source: str


@dataclass(frozen=True)
class EModelResult:
    """One E-model evaluation.

    r_factor: transmission rating R (G.107 eq. 7-1), clamped to G.107's scale of 0 (extremely bad) to 100: the
        equation alone gives -140 at 63 % burst loss, a figure no table of R knows.
    mos: estimated MOS (G.107 Annex B), 1.0 to 4.5.
    kind: "conversational" when a one-way delay was given, "listening" when delay was unknown and scored as 0 ms.
    ie_eff: effective equipment impairment Ie-eff after packet loss (G.107 eq. 7-29).
    id_: delay impairment Id used, in R-scale points; Id at 0 ms (about 0.15, the listener-echo floor of the
        default parameter set) when the delay was unknown.
    codec: canonical codec name.
    """

    r_factor: float
    mos: float
    kind: str
    ie_eff: float
    id_: float
    codec: str


@dataclass(frozen=True)
class _BasicTerms:
    """Delay-independent terms of G.107 clauses 7.2 and 7.3 for the default parameter set."""

    no_dbm0p: float  # total noise power No
    ro: float  # basic signal-to-noise ratio Ro
    is_: float  # simultaneous impairment factor Is


def _basic_terms() -> _BasicTerms:
    """Ro (G.107 clause 7.2) and Is (clause 7.3) from the default parameters."""
    olr_db = _SLR_DB + _RLR_DB
    # Clause 7.2: circuit noise, send-side room noise, receive-side room noise, noise floor, summed in power.
    nos = _PS_DBA - _SLR_DB - _DS_DB - 100.0 + 0.004 * (_PS_DBA - olr_db - _DS_DB - 14.0) ** 2
    pre = _PR_DBA + 10.0 * math.log10(1.0 + 10.0 ** ((10.0 - _LSTR_DB) / 10.0))
    nor = _RLR_DB - 121.0 + pre + 0.008 * (pre - 35.0) ** 2
    nfo = _NFOR_DBMP + _RLR_DB
    no = 10.0 * math.log10(sum(10.0 ** (n / 10.0) for n in (_NC_DBM0P, nos, nor, nfo)))
    ro = 15.0 - 1.5 * (_SLR_DB + no)

    # Clause 7.3: Is = Iolr + Ist + Iq.
    xolr = olr_db + 0.2 * (64.0 + no - _RLR_DB)
    iolr = 20.0 * ((1.0 + (xolr / 8.0) ** 8) ** (1.0 / 8.0) - xolr / 8.0)
    # STMRo carries a talker-echo term weighted by e^(-T/4). Taken at T = 0 so Is can be computed once: at the
    # default TELR of 65 dB the whole term moves Is by less than 1e-7 between T = 0 and any larger T.
    stmro = -10.0 * math.log10(10.0 ** (-_STMR_DB / 10.0) + 10.0 ** (-_TELR_DB / 10.0))
    ist = (
        12.0 * (1.0 + ((stmro - 13.0) / 6.0) ** 8) ** (1.0 / 8.0)
        - 28.0 * (1.0 + ((stmro + 1.0) / 19.4) ** 35) ** (1.0 / 35.0)
        - 13.0 * (1.0 + ((stmro - 3.0) / 33.0) ** 13) ** (1.0 / 13.0)
        + 29.0
    )
    q = 37.0 - 15.0 * math.log10(_QDU)
    g = 1.07 + 0.258 * q + 0.0602 * q**2
    z = 46.0 / 30.0 - g / 40.0
    y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0
    iq = 15.0 * math.log10(1.0 + 10.0**y + 10.0**z)
    return _BasicTerms(no_dbm0p=no, ro=ro, is_=iolr + ist + iq)


# Computed once at import: Ro and Is do not depend on loss, and (see STMRo above) not measurably on delay.
_DEFAULTS = _basic_terms()


def delay_impairment(one_way_delay_ms: float) -> float:
    """Delay impairment Id = Idte + Idle + Idd (G.107 clause 7.4), in R-scale points.

    one_way_delay_ms: mouth-to-ear delay T. As G.107's defaults do, the echo-path delays follow it:
    Ta = T (absolute delay) and Tr = 2T (round trip of the listener-echo loop).
    Idd uses eq. 7-27/7-28 with the default mT = 100 ms, sT = 1. At 0 ms Id is about 0.15, not 0: listener
    echo at the default WEPL never vanishes entirely.
    """
    if not one_way_delay_ms >= 0.0:  # also rejects NaN
        raise ValueError(f"one_way_delay_ms must be >= 0, got {one_way_delay_ms!r}")
    t_ms = one_way_delay_ms
    ta_ms = t_ms
    tr_ms = 2.0 * t_ms
    ro = _DEFAULTS.ro

    # Talker echo, Idte. G.107 7.4: for T < 1 ms talker echo counts as sidetone, Idte = 0.
    if t_ms < 1.0:
        idte = 0.0
    else:
        roe = -1.5 * (_DEFAULTS.no_dbm0p - _RLR_DB)
        terv = _TELR_DB - 40.0 * math.log10((1.0 + t_ms / 10.0) / (1.0 + t_ms / 150.0)) + 6.0 * math.exp(
            -0.3 * t_ms**2
        )
        # The TERV correction for STMR < 9 dB and the Idtes combination for STMR > 20 dB do not apply at the
        # default STMR of 15 dB.
        re = 80.0 + 2.5 * (terv - 14.0)
        idte = ((roe - re) / 2.0 + math.sqrt((roe - re) ** 2 / 4.0 + 100.0) - 1.0) * (1.0 - math.exp(-t_ms))

    # Listener echo, Idle.
    rle = 10.5 * (_WEPL_DB + 7.0) * (tr_ms + 1.0) ** -0.25
    idle = (ro - rle) / 2.0 + math.sqrt((ro - rle) ** 2 / 4.0 + 169.0)

    # Too-long absolute delay, Idd (eq. 7-27 for Ta <= mT, eq. 7-28 above it).
    if ta_ms <= _IDD_MT_MS:
        idd = 0.0
    else:
        x = math.log10(ta_ms / _IDD_MT_MS) / math.log10(2.0)
        k = 6.0 * _IDD_ST
        idd = 25.0 * ((1.0 + x**k) ** (1.0 / k) - 3.0 * (1.0 + (x / 3.0) ** k) ** (1.0 / k) + 2.0)
    return idte + idle + idd


def ie_eff(ie: float, bpl: float, loss_pct: float, burst_r: float = 1.0) -> float:
    """Effective equipment impairment Ie-eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl) (G.107 eq. 7-29).

    loss_pct: packet-loss probability Ppl in percent, 0 to 100.
    burst_r: burst ratio BurstR; 1 for random loss, > 1 for bursty loss (G.107 clause 7.5).
    """
    if not 0.0 <= loss_pct <= 100.0:
        raise ValueError(f"loss_pct must be within 0..100, got {loss_pct!r}")
    if not burst_r > 0.0 or math.isinf(burst_r):
        raise ValueError(f"burst_r must be a positive number, got {burst_r!r}")
    if not bpl > 0.0:
        raise ValueError(f"bpl must be > 0, got {bpl!r}")
    return ie + (95.0 - ie) * loss_pct / (loss_pct / burst_r + bpl)


R_MIN, R_MAX = 0.0, 100.0  # G.107's scale of R (Annex B maps R < 0 to MOS 1 and R > 100 to 4.5 for this reason)


def r_to_mos(r: float) -> float:
    """MOS from R (G.107 Annex B, eq. B-4): 1 for R < 0, 4.5 for R > 100, the cubic in between.

    The cubic dips to about 0.99 for 0 < R < 6.5; it is floored at 1 so the result stays on the 1-4.5 scale and
    never decreases as R rises.
    """
    if math.isnan(r):
        raise ValueError("r must be a number, got NaN")
    if r < 0.0:
        return 1.0
    if r > 100.0:
        return 4.5
    return max(1.0, 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6)


def default_r() -> float:
    """R for the full G.107 default parameter set (Ro - Is - Id at T = 0, no loss, Ie = 0, A = 0), about 93.2."""
    return _DEFAULTS.ro - _DEFAULTS.is_ - delay_impairment(0.0) + _A


# G.113 (11/2007) Appendix I: Table I.1 gives Ie, Table I.3 gives Bpl for the codec/packet size/PLC combinations
# it measured. Sample-based codecs (G.711, G.722, G.726, L16) have no concealment of their own, so their Bpl
# depends on whether the receiver runs PLC; CELP-family codecs conceal lost frames in the decoder itself.
_G711_BPL_PLC = 25.1  # G.113 Table I.3: G.711 with Appendix I PLC, 10 ms packets, random loss
_G711_BPL_NO_PLC = 4.3  # G.113 Table I.3: G.711 without PLC, random loss
_G711 = "ITU-T G.113 Appendix I, Table I.1 (Ie) and Table I.3 (Bpl 25.1 with PLC, 4.3 without)"
_G729A_VAD = "ITU-T G.113 Appendix I, Table I.3 (G.729A + VAD, 20 ms packets)"
_WIDEBAND = (
    "estimate: wideband codec on the narrowband G.107 scale, which cannot express better-than-G.711 quality, "
    "so Ie is floored at G.711's 0 (G.113 Appendix IV rates it only on the wideband scale)"
)
_G726 = (
    "ITU-T G.113 Appendix I, Table I.1 (ADPCM G.726, Ie); "
    "estimate: Bpl not in G.113, G.711's used (sample-based; Table I.3)"
)


@dataclass(frozen=True)
class _Entry:
    ie: float
    bpl: float  # with receiver PLC, or the codec's own concealment
    bpl_no_plc: float | None  # sample-based codecs only: Bpl when the receiver does not conceal
    source: str


# Lower-case rtpmap name -> canonical name and values.
_CODECS: dict[str, tuple[str, _Entry]] = {
    "pcmu": ("PCMU", _Entry(0.0, _G711_BPL_PLC, _G711_BPL_NO_PLC, _G711)),
    "pcma": ("PCMA", _Entry(0.0, _G711_BPL_PLC, _G711_BPL_NO_PLC, _G711)),
    "l16": (
        "L16",
        _Entry(
            0.0,
            _G711_BPL_PLC,
            _G711_BPL_NO_PLC,
            "estimate: linear PCM, no coding distortion (Ie 0); Bpl as G.711 (G.113 Table I.3)",
        ),
    ),
    "g729": ("G729", _Entry(11.0, 19.0, None, f"{_G729A_VAD}; G729 treated as G.729A+VAD")),
    "g729a": ("G729A", _Entry(11.0, 19.0, None, _G729A_VAD)),
    "g723": (
        "G723",
        _Entry(15.0, 16.1, None, "ITU-T G.113 Appendix I, Table I.3 (G.723.1 6.3 kbit/s + VAD, 30 ms packets)"),
    ),
    "gsm": (
        "GSM",
        _Entry(
            20.0,
            10.0,
            None,
            "ITU-T G.113 Appendix I, Table I.1 (GSM 06.10 full rate, Ie); "
            "estimate: Bpl not in G.113, GSM-EFR's 10 (Table I.3) used",
        ),
    ),
    "amr": (
        "AMR",
        _Entry(
            5.0,
            10.0,
            None,
            "estimate: AMR-NB 12.2 kbit/s is the GSM-EFR algorithm (3GPP TS 26.090), so G.113 Appendix I "
            "GSM-EFR values are used (Ie 5, Table I.1; Bpl 10, Table I.3)",
        ),
    ),
    "g722": (
        "G722",
        _Entry(0.0, _G711_BPL_PLC, _G711_BPL_NO_PLC, f"{_WIDEBAND}; Bpl as G.711 (sample-based ADPCM, Table I.3)"),
    ),
    "amr-wb": ("AMR-WB", _Entry(0.0, 10.0, None, f"{_WIDEBAND}; Bpl as GSM-EFR/AMR (Table I.3)")),
    "opus": (
        "opus",
        _Entry(
            0.0,
            _G711_BPL_PLC,
            None,
            f"{_WIDEBAND}; softphone bitrates assumed; Bpl as G.711 with PLC (Opus has built-in PLC)",
        ),
    ),
    "ilbc": (
        "iLBC",
        _Entry(
            11.0,
            19.0,
            None,
            "estimate: not in G.113; 13.3-15.2 kbit/s narrowband codec placed with G.729A+VAD (Table I.3), "
            "pessimistic for loss since iLBC frames decode independently",
        ),
    ),
    "speex": (
        "speex",
        _Entry(
            11.0,
            19.0,
            None,
            "estimate: not in G.113; narrowband CELP at about 8-15 kbit/s placed with G.729A+VAD (Table I.3)",
        ),
    ),
    "g726-16": ("G726-16", _Entry(50.0, _G711_BPL_PLC, _G711_BPL_NO_PLC, _G726)),
    "g726-24": ("G726-24", _Entry(25.0, _G711_BPL_PLC, _G711_BPL_NO_PLC, _G726)),
    "g726-32": ("G726-32", _Entry(7.0, _G711_BPL_PLC, _G711_BPL_NO_PLC, _G726)),
    "g726-40": ("G726-40", _Entry(2.0, _G711_BPL_PLC, _G711_BPL_NO_PLC, _G726)),
}


def codec_impairment(codec: str, plc: bool = True) -> CodecImpairment | None:
    """Ie and Bpl for a codec named as in SDP rtpmap ("PCMA", "G729", "opus", ...), case-insensitive.

    A trailing "/clock[/channels]" ("opus/48000/2") is ignored. plc says whether the receiver conceals lost
    packets; it changes Bpl only for sample-based codecs (G.711, G.722, G.726, L16), whose decoders have no
    concealment of their own (G.711 without PLC: Bpl 4.3). Returns None for unknown codecs and for non-speech
    payloads (telephone-event, CN).
    """
    key = codec.split("/", 1)[0].strip().lower()
    if key not in _CODECS:
        return None
    name, entry = _CODECS[key]
    bpl = entry.bpl if plc or entry.bpl_no_plc is None else entry.bpl_no_plc
    return CodecImpairment(codec=name, ie=entry.ie, bpl=bpl, source=entry.source)


def mouth_to_ear_ms(rtt_ms: float | None, playout_ms: float, packet_ms: float) -> float | None:
    """The one-way delay the E-model takes from what a receiver knows: half the round trip, plus its jitter
    buffer's playout delay and one packet of packetisation; None when the round trip is unknown."""
    return None if rtt_ms is None else rtt_ms / 2 + playout_ms + packet_ms


def score(
    codec: str,
    loss_pct: float,
    *,
    burst_r: float = 1.0,
    one_way_delay_ms: float | None = None,
    plc: bool = True,
) -> EModelResult | None:
    """E-model score of one call direction: R = Ro - Is - Id - Ie-eff + A (G.107 eq. 7-1), and its MOS.

    loss_pct: packet loss in percent (0-100) as the decoder sees it, including late discards.
    burst_r: G.107 BurstR (1 = random loss).
    one_way_delay_ms: mouth-to-ear delay; None when unknown, then Id is taken at 0 ms and kind is "listening".
    Returns None for an unknown or non-speech codec, never a default score.
    """
    impairment = codec_impairment(codec, plc=plc)
    if impairment is None:
        return None
    eff = ie_eff(impairment.ie, impairment.bpl, loss_pct, burst_r)
    kind = "listening" if one_way_delay_ms is None else "conversational"
    id_ = delay_impairment(0.0 if one_way_delay_ms is None else one_way_delay_ms)
    r = min(R_MAX, max(R_MIN, _DEFAULTS.ro - _DEFAULTS.is_ - id_ - eff + _A))
    return EModelResult(r_factor=r, mos=r_to_mos(r), kind=kind, ie_eff=eff, id_=id_, codec=impairment.codec)

"""RTP payload types and clock rates: the static table of RFC 3551 §6 and clock-rate snapping.

Dynamic payload types (96-127) get their codec from SDP when the signalling is in the capture, or stay unknown;
the clock rate of an unknown stream is then inferred from its timestamps (see `clock.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PayloadFormat:
    codec: str
    clock_hz: int
    channels: int = 1


# RFC 3551 Table 4 (audio) and Table 5 (video).
STATIC_PAYLOAD_TYPES: dict[int, PayloadFormat] = {
    0: PayloadFormat("PCMU", 8000),
    3: PayloadFormat("GSM", 8000),
    4: PayloadFormat("G723", 8000),
    5: PayloadFormat("DVI4", 8000),
    6: PayloadFormat("DVI4", 16000),
    7: PayloadFormat("LPC", 8000),
    8: PayloadFormat("PCMA", 8000),
    # RFC 3551 §4.5.2: G.722 samples at 16 kHz but its RTP clock is 8000 Hz "for historical reasons".
    9: PayloadFormat("G722", 8000),
    10: PayloadFormat("L16", 44100, 2),
    11: PayloadFormat("L16", 44100),
    12: PayloadFormat("QCELP", 8000),
    13: PayloadFormat("CN", 8000),
    14: PayloadFormat("MPA", 90000),
    15: PayloadFormat("G728", 8000),
    16: PayloadFormat("DVI4", 11025),
    17: PayloadFormat("DVI4", 22050),
    18: PayloadFormat("G729", 8000),
    19: PayloadFormat("CN", 8000),  # reserved; old comfort-noise payload type still seen in the wild
    25: PayloadFormat("CelB", 90000),
    26: PayloadFormat("JPEG", 90000),
    28: PayloadFormat("nv", 90000),
    31: PayloadFormat("H261", 90000),
    32: PayloadFormat("MPV", 90000),
    33: PayloadFormat("MP2T", 90000),
    34: PayloadFormat("H263", 90000),
}

COMFORT_NOISE_PAYLOAD_TYPES = frozenset({13, 19})

# Rates seen in practice, for snapping an inferred rate to what the sender almost certainly uses.
STANDARD_CLOCK_RATES_HZ = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 90000)

# How codec names are written in every output: the encoding name as IANA registers it (the "RTP Payload Format
# media types" registry, RFC 4855), whatever case the SDP used (rtpmap names are case-insensitive, RFC 4566 §6).
# So "PCMA" as RFC 3551 registers it, never "pcma", and "opus" (RFC 7587) in the lower case IANA registers.
# A name not in this table is written in upper case.
_REGISTERED_NAMES = {
    name.lower(): name
    for name in (
        "PCMU", "PCMA", "GSM", "GSM-EFR", "GSM-HR-08", "G723", "DVI4", "LPC", "G722", "G7221", "L8", "L16", "L20",
        "L24", "QCELP", "CN", "MPA", "G728", "G729", "G729D", "G729E", "G726-16", "G726-24", "G726-32", "G726-40",
        "AAL2-G726-16", "AAL2-G726-24", "AAL2-G726-32", "AAL2-G726-40", "iLBC", "speex", "opus", "AMR", "AMR-WB",
        "EVS", "SILK", "G719", "telephone-event", "tone", "red", "ulpfec", "t140", "CelB", "JPEG", "nv", "H261",
        "MPV", "MP2T", "H263", "H263-1998", "H263-2000", "H264", "H265", "VP8", "VP9", "AV1",
    )
}  # fmt: skip


def canonical_codec(name: str) -> str:
    """`name` (an SDP rtpmap encoding name) in the case IANA registers it; unregistered names in upper case."""
    name = name.strip()
    return _REGISTERED_NAMES.get(name.lower(), name.upper())


_EVENT_NAMES = frozenset({"telephone-event"})
_COMFORT_NOISE_NAMES = frozenset({"cn"})


def is_event_codec(codec: str | None) -> bool:
    """RFC 4733 telephone-event: timestamps do not advance per packet, so it must stay out of jitter."""
    return codec is not None and codec.lower() in _EVENT_NAMES


def is_comfort_noise_codec(codec: str | None) -> bool:
    return codec is not None and codec.lower() in _COMFORT_NOISE_NAMES


def snap_clock_rate(rate_hz: float, tolerance: float = 0.1) -> int | None:
    """The standard rate within `tolerance` (relative) of `rate_hz`, or None when no standard rate is that close."""
    best = min(STANDARD_CLOCK_RATES_HZ, key=lambda standard: abs(standard - rate_hz))
    return best if abs(best - rate_hz) <= tolerance * best else None

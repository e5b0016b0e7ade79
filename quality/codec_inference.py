"""The codec of a stream whose signalling is not in the capture, from what its headers and flow show.

WebRTC calls carry their SDP over HTTPS, so a capture sees dynamic payload types only. Their clock rate is
inferred from the timestamps (clock.py); with it, 48 kHz on a dynamic payload type whose packets step by one Opus
frame duration (10, 20, 40 or 60 ms) is Opus: WebRTC mandates it (RFC 7874 §3) and no other browser audio codec
uses a 48 kHz clock. The frame step is what tells it from a retransmission (RFC 4588) or FEC stream on the same
flow, whose packets carry the repaired packets' timestamps at irregular steps. Payload types 35-63 count as
dynamic only on a flow that carried STUN or DTLS (RFC 5761 §4; Chrome's red/48000 is 63). 90 kHz is video
(RFC 3551 §5): frames, not voice, never scored as voice.
Names so inferred are only a best reading: results carry `codec_source` "inferred" and tables show "opus?".
"""

from __future__ import annotations

from typing import Final

from homeshore.quality import repair

DYNAMIC_PT_MIN: Final = 96
# RFC 5761 §4: with RTP and RTCP on one port, dynamic payload types may also come from 35-63; Chrome puts
# red/48000/2 (RFC 2198 redundant Opus, which keeps the primary's timestamps) at 63.
MUX_DYNAMIC_PTS: Final = range(35, 64)
OPUS_CLOCK_HZ: Final = 48000
OPUS_FRAME_TS_STEPS: Final = (480, 960, 1920, 2880)  # 10, 20, 40, 60 ms at 48 kHz (RFC 7587 §4.2)
VIDEO_CLOCK_HZ: Final = 90000
VIDEO: Final = "video"

# Why a stream gets no MOS although its codec is known (shown among its problems; never a default score).
UNSCORED: Final = {  # (Opus is scored where published values apply: emodel_wb says why when not, mos_note)
    VIDEO: "video: not scored as voice",
    **repair.UNSCORED,  # retransmission, FEC and redundancy streams (repair.py)
}


def infer_codec(payload_type: int, clock_hz: int | None, nominal_ts_step: int, webrtc_flow: bool) -> str | None:
    """The codec name a stream without SDP or static payload type most likely carries, or None."""
    if clock_hz == VIDEO_CLOCK_HZ:
        return VIDEO
    dynamic = payload_type >= DYNAMIC_PT_MIN or (webrtc_flow and payload_type in MUX_DYNAMIC_PTS)
    if clock_hz == OPUS_CLOCK_HZ and dynamic and nominal_ts_step in OPUS_FRAME_TS_STEPS:
        return "opus"
    return None


def unscored_reason(codec: str) -> str | None:
    return UNSCORED.get(codec.lower())

"""The AMR-WB (G.722.2) mode of a stream, from its SDP `mode-set` or from its RTP payload sizes.

G.113 Appendix IV rates each AMR-WB mode differently (Ie,wb 1 to 41), so the E-model needs the mode, which the
codec name does not carry. Two sources, both without decoding anything:
- SDP (RFC 4867 §8.1): `a=fmtp:<pt> mode-set=2` restricts the sender to the listed modes; a set of one names it.
- The payload size: one AMR-WB speech frame per 20 ms has a fixed number of bits per mode (3GPP TS 26.201 §4,
  Table 2: the mode's bitrate times 20 ms, 132 to 477 bits), and RFC 4867 packs one frame into a fixed number of
  octets in each of its two layouts:
  - bandwidth-efficient (§4.4.1, the default): a 4-bit CMR, a 6-bit table-of-contents entry, the speech bits,
    padded to a whole octet: ceil((10 + bits) / 8);
  - octet-aligned (§4.4.2, `octet-align=1`): a CMR octet, a ToC octet, the speech bits padded to an octet:
    2 + ceil(bits / 8).
  The eighteen sizes are all different, so a size names the mode whichever layout the call negotiated.
Packets of several frames, interleaving (§4.4.2.1) or CRCs (§4.4.2.2) change the sizes; they match no mode here
and leave the mode to the SDP, or unknown. Pure computation, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Final

from homeshore.quality.emodel_wb import AMR_WB_MODES_KBPS

FRAME_MS: Final = 20  # TS 26.201 §4: one AMR-WB frame is 20 ms
# TS 26.201 Table 2, frame types 0-8: speech bits per frame, which is the mode's bitrate times 20 ms.
SPEECH_BITS: Final = (132, 177, 253, 285, 317, 365, 397, 461, 477)
SID_BITS: Final = 40  # frame type 9, comfort noise (TS 26.201 Table 2): no mode


def bandwidth_efficient_bytes(bits: int) -> int:
    """RTP payload bytes of one frame in RFC 4867 §4.4.1 layout: CMR (4 bits) + ToC (6 bits) + speech, padded."""
    return (4 + 6 + bits + 7) // 8


def octet_aligned_bytes(bits: int) -> int:
    """RTP payload bytes of one frame in RFC 4867 §4.4.2 layout: CMR octet + ToC octet + speech padded to octets."""
    return 2 + (bits + 7) // 8


_MODE_BY_PAYLOAD_BYTES: Final[dict[int, float]] = {
    **{bandwidth_efficient_bytes(bits): kbps for bits, kbps in zip(SPEECH_BITS, AMR_WB_MODES_KBPS)},
    **{octet_aligned_bytes(bits): kbps for bits, kbps in zip(SPEECH_BITS, AMR_WB_MODES_KBPS)},
}


def mode_from_payload_bytes(size: int) -> float | None:
    """The AMR-WB mode (kbit/s) of a one-frame payload of `size` bytes, in either RFC 4867 layout; None for a
    comfort-noise frame, several frames, or a size no mode has."""
    return _MODE_BY_PAYLOAD_BYTES.get(size)


def dominant_mode(payload_sizes: Iterable[int]) -> float | None:
    """The mode most of these payloads were sent at (speech frames only), or None when none names a mode."""
    modes = Counter(mode for mode in map(mode_from_payload_bytes, payload_sizes) if mode is not None)
    return modes.most_common(1)[0][0] if modes else None


def mode_from_fmtp(fmtp: str) -> float | None:
    """The one mode an `a=fmtp` parameter string allows (RFC 4867 §8.1 `mode-set=N`), or None when it allows
    several, none is given (all modes allowed), or the value is malformed."""
    for parameter in fmtp.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "mode-set":
            continue
        modes = {text.strip() for text in value.split(",")}
        if len(modes) != 1:
            return None
        (text,) = modes
        if not text.isascii() or not text.isdigit() or int(text) >= len(AMR_WB_MODES_KBPS):
            return None
        return AMR_WB_MODES_KBPS[int(text)]
    return None

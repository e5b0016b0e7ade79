"""Streams that repair other streams: retransmission, FEC and redundancy, named so they are never taken for voice.

WebRTC sends them beside its media, often on the same 5-tuple (BUNDLE) and on SSRCs of their own:
- rtx: RFC 4588 retransmissions (`a=rtpmap:N rtx/90000` with `a=fmtp:N apt=<protected pt>`; its SSRC is the
  second of an `a=ssrc-group:FID <media> <rtx>`, RFC 5576's attribute with the FID semantics). A retransmission
  carries the original packet's timestamp (RFC 4588 §4), so its timestamps jump back and forth and its "jitter"
  would be noise;
- fec: forward error correction on its own SSRC, ULPFEC (RFC 5109, `ulpfec`) or FlexFEC (RFC 8627, `flexfec`,
  `a=ssrc-group:FEC-FR <media> <fec>`, RFC 5956's semantics);
- red: RFC 2198 redundant encoding (`red`): the media itself, each packet carrying the primary block and older
  blocks again; it is the stream's loss and jitter, but the codec inside is not named in the RTP header.
rtx and fec streams are kept out of MOS and out of a call's judgement (calls.py): their loss and jitter are not
the voice's. Without SDP only one kind is told from the headers: a stream of padding-only packets on a WebRTC
flow is a sender's bandwidth probe, which libwebrtc sends on its RTX SSRC (or on SSRC 0 before any video), so it
is labelled rtx, inferred. Pure: names in, labels out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

RTX: Final = "rtx"
FEC: Final = "fec"
RED: Final = "red"
REPAIR_CODECS: Final = frozenset({RTX, FEC})  # on their own SSRC, protecting another stream: no MOS, no judgement
LABELS: Final = frozenset({RTX, FEC, RED})

# rtpmap encoding names (lower case; RFC 4588, RFC 5109, RFC 8627 and its draft name, RFC 2198) -> label
_BY_ENCODING: Final = {"rtx": RTX, "ulpfec": FEC, "flexfec": FEC, "flexfec-03": FEC, "red": RED}
# a=ssrc-group semantics whose later SSRCs repair the first: FID (with RTX) and FEC-FR (RFC 5956)
_BY_GROUP: Final = {"FID": RTX, "FEC-FR": FEC}

UNSCORED: Final = {
    RTX: "rtx (RFC 4588 retransmissions): not voice, no MOS",
    FEC: "fec (forward error correction): not voice, no MOS",
    RED: "red (RFC 2198 redundancy): the codec inside is not named in its headers, no MOS",
}


def label_of_encoding(name: str) -> str | None:
    """rtx, fec or red for an rtpmap encoding name of those payload formats, else None."""
    return _BY_ENCODING.get(name.strip().lower())


def repair_ssrcs(groups: Iterable[tuple[str, tuple[int, ...]]]) -> dict[int, str]:
    """SSRC -> label for the repair SSRCs of `a=ssrc-group` lines ((semantics, ssrcs)): every SSRC after the
    first of a FID or FEC-FR group."""
    found: dict[int, str] = {}
    for semantics, ssrcs in groups:
        label = _BY_GROUP.get(semantics.upper())
        if label is not None:
            found.update(dict.fromkeys(ssrcs[1:], label))
    return found


def is_repair(codec: str) -> bool:
    """A stream that repairs another one (rtx, fec): never voice, never part of a call's judgement."""
    return codec in REPAIR_CODECS

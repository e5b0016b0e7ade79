"""SDP offers and answers (RFC 4566, RFC 8866): per media section, where the RTP goes and what its PTs mean.

Pure: text in, frozen dataclasses out, never raises. Only c=, m= and a few a= lines are read. The origin line
(o=, whose username is often a person's login), s=, i=, u=, e= (e-mail) and p= (phone) are skipped unread.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Mapping

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")  # RFC 4566 §6; sendrecv is the default


@dataclass(frozen=True)
class SdpMedia:
    """One m= section."""

    kind: str  # "audio", "video", "image", ...
    address: str | None  # this section's c= address, else the session-level one (IPv4 or IPv6 text)
    port: int  # 0: stream rejected or disabled (RFC 3264 §6)
    protocol: str  # "RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF", "udptl", ...
    payload_types: tuple[int, ...]  # m= formats in offer order; empty unless the protocol is RTP
    # pt -> (encoding name as written, clock rate in Hz, channels) from a=rtpmap only, read-only; static
    # payload types without an rtpmap line are resolved by codecs.STATIC_PAYLOAD_TYPES
    rtpmap: Mapping[int, tuple[str, int, int]] = field(hash=False)
    rtcp_mux: bool  # a=rtcp-mux (RFC 5761 §5.1.1)
    direction: str  # sendrecv | sendonly | recvonly | inactive, media level over session level
    ptime_ms: float | None  # a=ptime, media level over session level
    # pt -> format parameters as written (a=fmtp, RFC 4566 §6: "mode-set=2; octet-align=1", "apt=111")
    fmtp: Mapping[int, str] = field(default_factory=lambda: types.MappingProxyType({}), hash=False)
    # a=ssrc-group:<semantics> <ssrc> ... (RFC 5576 §4.2), e.g. ("FID", (media SSRC, its RTX SSRC))
    ssrc_groups: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class SdpSession:
    media: tuple[SdpMedia, ...]


class _Section:
    """Mutable accumulator for one m= section while its lines are read."""

    def __init__(self, kind: str, port: int, protocol: str, payload_types: tuple[int, ...]) -> None:
        self.kind = kind
        self.port = port
        self.protocol = protocol
        self.payload_types = payload_types
        self.address: str | None = None
        self.rtpmap: dict[int, tuple[str, int, int]] = {}
        self.rtcp_mux = False
        self.direction: str | None = None
        self.ptime_ms: float | None = None
        self.fmtp: dict[int, str] = {}
        self.ssrc_groups: list[tuple[str, tuple[int, ...]]] = []


def parse_sdp(text: bytes | str) -> SdpSession | None:
    """Parse an SDP body. None unless its first line is v=; malformed lines and m= sections are skipped."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", errors="replace")
    lines = [line.rstrip("\r").strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines or not lines[0].startswith("v="):
        return None
    session_address: str | None = None
    session_direction = "sendrecv"
    session_ptime_ms: float | None = None
    sections: list[_Section] = []
    current: _Section | None = None
    in_media = False  # after the first m=, even a skipped one, lines no longer belong to the session
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:].strip()
        if kind == "m":
            in_media = True
            current = _parse_media_line(value)
            if current is not None:
                sections.append(current)
        elif kind == "c":
            address = _parse_connection(value)
            if not in_media:
                session_address = address
            elif current is not None:
                current.address = address
        elif kind == "a":
            name, _, attr_value = value.partition(":")
            name = name.strip().lower()
            if not in_media:
                if name in DIRECTIONS:
                    session_direction = name
                elif name == "ptime":
                    session_ptime_ms = _parse_ptime(attr_value)
            elif current is not None:
                _apply_media_attribute(current, name, attr_value)
    return SdpSession(
        media=tuple(
            SdpMedia(
                kind=s.kind,
                address=s.address if s.address is not None else session_address,
                port=s.port,
                protocol=s.protocol,
                payload_types=s.payload_types,
                rtpmap=types.MappingProxyType(s.rtpmap),
                rtcp_mux=s.rtcp_mux,
                direction=s.direction or session_direction,
                ptime_ms=s.ptime_ms if s.ptime_ms is not None else session_ptime_ms,
                fmtp=types.MappingProxyType(s.fmtp),
                ssrc_groups=tuple(s.ssrc_groups),
            )
            for s in sections
        )
    )


def _parse_media_line(value: str) -> _Section | None:
    # RFC 4566 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
    parts = value.split()
    if len(parts) < 3:
        return None
    port = _uint(parts[1].partition("/")[0], 65535)
    if port is None:
        return None
    protocol = parts[2]
    payload_types: tuple[int, ...] = ()
    if "RTP" in protocol.upper():  # fmt values are RTP payload types only for RTP profiles (§5.14)
        payload_types = tuple(pt for pt in (_uint(f, 127) for f in parts[3:]) if pt is not None)
    return _Section(parts[0].lower(), port, protocol, payload_types)


def _parse_connection(value: str) -> str | None:
    # RFC 4566 §5.7: c=<nettype> <addrtype> <connection-address>, the address maybe with /ttl/count.
    parts = value.split()
    if len(parts) < 3:
        return None
    return parts[2].split("/")[0] or None


def _apply_media_attribute(section: _Section, name: str, value: str) -> None:
    if name == "rtpmap":
        entry = _parse_rtpmap(value)
        if entry is not None:
            section.rtpmap[entry[0]] = entry[1]
    elif name == "fmtp":
        # RFC 4566 §6: a=fmtp:<format> <format specific parameters>
        pt_text, _, parameters = value.strip().partition(" ")
        pt = _uint(pt_text, 127)
        if pt is not None and parameters.strip():
            section.fmtp[pt] = parameters.strip()[:512]  # bounded: a parameter string is a line, not a document
    elif name == "ssrc-group":
        parts = value.split()
        ssrcs = tuple(ssrc for ssrc in (_uint(text, 0xFFFFFFFF) for text in parts[1:17]) if ssrc is not None)
        if len(ssrcs) >= 2 and len(section.ssrc_groups) < 64:  # bounded, as every list an SDP can grow
            section.ssrc_groups.append((parts[0], ssrcs))
    elif name == "rtcp-mux":
        section.rtcp_mux = True
    elif name in DIRECTIONS:
        section.direction = name
    elif name == "ptime":
        section.ptime_ms = _parse_ptime(value)


def _parse_rtpmap(value: str) -> tuple[int, tuple[str, int, int]] | None:
    # RFC 4566 §6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
    pt_text, _, encoding = value.strip().partition(" ")
    parts = encoding.strip().split("/")
    pt = _uint(pt_text, 127)
    if pt is None or len(parts) < 2 or not parts[0].strip():
        return None
    clock_hz = _uint(parts[1], 10_000_000)
    channels = _uint(parts[2], 255) if len(parts) > 2 else 1  # RFC 4566 §6: audio defaults to one channel
    if not clock_hz or not channels:
        return None
    return pt, (parts[0].strip(), clock_hz, channels)


def _uint(text: str, maximum: int) -> int | None:
    """A plain decimal up to `maximum`, else None (no signs, no non-ASCII digits, no 5000-digit strings)."""
    text = text.strip()
    if not text or len(text) > 10 or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= maximum else None


def _parse_ptime(value: str) -> float | None:
    try:
        ptime_ms = float(value.strip())
    except ValueError:
        return None
    return ptime_ms if 0 < ptime_ms < 10_000 else None

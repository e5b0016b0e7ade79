"""Analyse capture files: the I/O edge between pcap/pcapng files and the engine."""

from __future__ import annotations

from pathlib import Path

from homeshore.quality import fastscan
from homeshore.quality.analyzer import WINDOW_S, Analyzer
from homeshore.quality.pcapfile import CaptureError, CaptureReader
from homeshore.quality.results import CaptureResult


def analyze_capture(path: str | Path, *, window_s: float = WINDOW_S, salt: bytes | None = None,
                    jitter_buffer: str = "adaptive", in_place: bool | None = None) -> CaptureResult:
    """Read `path` as a stream (never whole into memory) and analyse every RTP stream in it.

    `in_place` takes `fastscan`'s shortcut for packets of known RTP streams (classic pcap read in the read
    buffer, other files frame by frame), with the same results; by default only when that module is compiled,
    which is when it is faster.

    Raises CaptureError with a one-line message for a missing, empty, unreadable or non-capture file; a capture cut
    short is analysed up to the cut and says so in `warnings`.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise CaptureError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CaptureError(f"is a directory, not a capture file: {path}") from None
    except OSError as error:
        raise CaptureError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        reader = CaptureReader(handle, str(path))
        analyzer = Analyzer(window_s=window_s, salt=salt, jitter_buffer=jitter_buffer)
        if in_place is None:
            in_place = fastscan.COMPILED
        if not in_place:
            add_frame = analyzer.add_frame
            for time_s, linktype, frame in reader.frames():
                add_frame(time_s, linktype, frame)
        elif not fastscan.analyze_pcap(reader, analyzer):
            fastscan.analyze_frames(reader, analyzer)
        streams = analyzer.finish()
    return CaptureResult(
        name=str(path),
        packets_read=analyzer.packets_read,
        udp_datagrams=analyzer.udp_datagrams,
        undecoded=analyzer.undecoded,
        rtcp_packets=analyzer.rtcp_packets,
        malformed_rtcp=analyzer.malformed_rtcp,
        stun_packets=analyzer.stun_packets,
        dtls_packets=analyzer.dtls_packets,
        sip_messages=analyzer.sip_messages,
        warnings=tuple(reader.warnings),
        streams=tuple(streams),
    )

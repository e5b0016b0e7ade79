"""Results of the call-quality engine: plain frozen records, the same for capture files and live capture."""

from __future__ import annotations

from dataclasses import dataclass, field


def rounded(value: float | None, places: int = 3) -> float | None:
    """A figure for output (JSON, samples): rounded, and None kept as None."""
    return None if value is None else round(value, places)


@dataclass(frozen=True)
class FarEndReport:
    """What the far end said about this stream in RTCP receiver reports (RFC 3550 §6.4.2)."""

    reports: int
    fraction_lost_pct: float  # of the last report
    cumulative_lost: int  # of the last report
    jitter_ms: float | None  # of the last report; None when the clock rate is unknown
    rtt_ms: float | None  # mean of the round-trip times computed from LSR/DLSR (RFC 3550 §6.4.1)


@dataclass(frozen=True)
class QualityScore:
    r_factor: float | None  # on the scale of mos_model: 0-100 (G.107) or 0-129 (G.107.1)
    mos: float | None
    mos_kind: str  # "listening" (no delay known), "conversational", or "unknown" (no data or codec)
    mos_model: str | None = None  # "g107" (narrowband) or "g107.1" (wideband); None when no model applied
    mos_note: str | None = None  # why mos is None (a model applied, no published input), or why it is a floor


@dataclass(frozen=True)
class LossFigures:
    """Loss of one stream or window, from the received map (RFC 3611 §4.7.2 for bursts and gaps)."""

    expected: int
    lost: int
    discarded: int
    burst_density: float
    gap_density: float
    mean_burst_packets: float
    burst_ratio: float
    loss_runs: tuple[tuple[int, int], ...] = ()  # (consecutive packets lost, how many times)

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.lost / self.expected if self.expected else 0.0

    @property
    def effective_loss_pct(self) -> float:
        """Network loss plus jitter-buffer discards: what the listener misses."""
        return 100.0 * (self.lost + self.discarded) / self.expected if self.expected else 0.0


@dataclass(frozen=True)
class WindowResult:
    start_s: float  # Unix time of the window's start (windows are aligned to multiples of their length)
    duration_s: float
    packets: int
    duplicates: int
    reordered: int
    loss: LossFigures
    jitter_ms: float | None  # J at the end of the window
    jitter_max_ms: float | None
    score: QualityScore


@dataclass(frozen=True)
class StreamResult:
    ssrc: int
    src: str  # "addr:port"
    dst: str
    via: str  # "direct" or "turn-channel 0x4001"
    codec: str
    payload_type: int
    clock_hz: int | None
    clock_source: str  # "static", "sdp", "inferred" or "unknown"
    codec_source: str  # where `codec` came from: "sdp", "static", "inferred" (no signalling: a best reading) or "unknown"
    first_time_s: float
    last_time_s: float
    packets: int  # every packet of the stream, duplicates included (as Wireshark counts)
    duplicates: int
    reordered: int
    resets: int
    event_packets: int  # RFC 4733 telephone-event
    comfort_noise_packets: int
    padding_packets: int  # padding-only packets (bandwidth probes): in loss, out of jitter and scores
    loss: LossFigures
    jitter_min_ms: float | None
    jitter_mean_ms: float | None
    jitter_max_ms: float | None
    jitter_last_ms: float | None
    max_delta_ms: float | None
    score: QualityScore
    far_end: FarEndReport | None
    problems: tuple[str, ...]
    windows: tuple[WindowResult, ...] = field(default=())
    codec_mode_kbps: float | None = None  # AMR-WB: the mode its Ie,wb is taken for (amr_wb.py); else None
    kind: str = "unknown"  # "audio" or "video" (what an rtx, fec or red stream carries too); "unknown" clock


@dataclass(frozen=True)
class CaptureResult:
    name: str
    packets_read: int
    udp_datagrams: int
    undecoded: int  # frames that were not UDP over IP (ARP, TCP, fragments, malformed)
    rtcp_packets: int
    malformed_rtcp: int
    stun_packets: int
    dtls_packets: int
    sip_messages: int
    warnings: tuple[str, ...]
    streams: tuple[StreamResult, ...]

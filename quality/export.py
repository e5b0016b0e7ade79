"""Results as JSON-ready dicts: the machine-readable contract of DESIGN.md (snake_case, units in names)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

from homeshore.quality.calls import CallSample
from homeshore.quality.results import CaptureResult, LossFigures, QualityScore, StreamResult, WindowResult, rounded


def _loss(loss: LossFigures) -> dict:
    return {
        "expected": loss.expected,
        "lost": loss.lost,
        "loss_pct": rounded(loss.loss_pct),
        "discarded": loss.discarded,
        "effective_loss_pct": rounded(loss.effective_loss_pct),
        "burst_density": rounded(loss.burst_density, 4),
        "gap_density": rounded(loss.gap_density, 4),
        "mean_burst_packets": rounded(loss.mean_burst_packets),
        "burst_ratio": rounded(loss.burst_ratio),
    }


def _score(score: QualityScore) -> dict:
    """r_factor, mos, mos_kind, mos_model and mos_note: the record's own field names are the JSON contract's."""
    return asdict(score)


def window_slots(stream: StreamResult) -> list[tuple[float, WindowResult | None]]:
    """Every window-length slot from the stream's first window to its last, None where the stream sent nothing
    (a pause, a fax phase, an outage): an empty window is shown, not left out, by the table and the JSON alike."""
    by_start = {window.start_s: window for window in stream.windows}
    if not by_start:
        return []
    first, last = min(by_start), max(by_start)
    duration_s = stream.windows[0].duration_s
    starts = (first + index * duration_s for index in range(round((last - first) / duration_s) + 1))
    return [(start_s, by_start.get(start_s)) for start_s in starts]


def empty_window_dict(start_s: float, duration_s: float) -> dict:
    return {"start_s": start_s, "duration_s": duration_s, "empty": True, "packets": 0}


def window_dict(window: WindowResult) -> dict:
    return {
        "start_s": window.start_s,
        "duration_s": window.duration_s,
        "empty": False,
        "packets": window.packets,
        "duplicates": window.duplicates,
        "reordered": window.reordered,
        **_loss(window.loss),
        "jitter_ms": rounded(window.jitter_ms),
        "jitter_max_ms": rounded(window.jitter_max_ms),
        **_score(window.score),
    }


def stream_dict(stream: StreamResult, *, windows: bool = False) -> dict:
    far_end = stream.far_end
    result = {
        "ssrc": stream.ssrc,
        "src": stream.src,
        "dst": stream.dst,
        "via": stream.via,
        "codec": stream.codec,
        "payload_type": stream.payload_type,
        "clock_hz": stream.clock_hz,
        "clock_source": stream.clock_source,
        "codec_source": stream.codec_source,
        "codec_mode_kbps": stream.codec_mode_kbps,
        "kind": stream.kind,
        "first_time_s": stream.first_time_s,
        "last_time_s": stream.last_time_s,
        "packets": stream.packets,
        **_loss(stream.loss),
        "duplicates": stream.duplicates,
        "reordered": stream.reordered,
        "resets": stream.resets,
        "event_packets": stream.event_packets,
        "comfort_noise_packets": stream.comfort_noise_packets,
        "padding_packets": stream.padding_packets,
        "jitter_min_ms": rounded(stream.jitter_min_ms),
        "jitter_mean_ms": rounded(stream.jitter_mean_ms),
        "jitter_max_ms": rounded(stream.jitter_max_ms),
        "jitter_last_ms": rounded(stream.jitter_last_ms),
        "max_delta_ms": rounded(stream.max_delta_ms),
        "loss_runs": [list(run) for run in stream.loss.loss_runs],
        **_score(stream.score),
        "far_end": None if far_end is None else {
            "reports": far_end.reports,
            "fraction_lost_pct": far_end.fraction_lost_pct,
            "cumulative_lost": far_end.cumulative_lost,
            "jitter_ms": rounded(far_end.jitter_ms),
            "rtt_ms": rounded(far_end.rtt_ms),
        },
        "problems": list(stream.problems),
    }
    if windows:
        duration_s = stream.windows[0].duration_s if stream.windows else 0.0
        result["windows"] = [window_dict(window) if window is not None else empty_window_dict(start_s, duration_s)
                             for start_s, window in window_slots(stream)]
    return result


def capture_dict(capture: CaptureResult, *, windows: bool = False) -> dict:
    return {
        "file": capture.name,
        "packets_read": capture.packets_read,
        "udp_datagrams": capture.udp_datagrams,
        "undecoded": capture.undecoded,
        "rtcp_packets": capture.rtcp_packets,
        "malformed_rtcp": capture.malformed_rtcp,
        "stun_packets": capture.stun_packets,
        "dtls_packets": capture.dtls_packets,
        "sip_messages": capture.sip_messages,
        "warnings": list(capture.warnings),
        "streams": [stream_dict(stream, windows=windows) for stream in capture.streams],
    }


def sample_dict(sample: CallSample) -> dict:
    """One line of `homeshore calls --json`."""
    return {
        "phase": sample.phase,
        "time": datetime.fromtimestamp(sample.time_s, timezone.utc).isoformat(timespec="milliseconds"),
        "call": sample.call,
        "direction": sample.direction,
        "source": sample.source,
        "ssrc": sample.ssrc,
        "codec": sample.codec,
        "clock_hz": sample.clock_hz,
        "packets": sample.packets,
        "lost": sample.lost,
        "lost_total": sample.lost_total,
        "loss_pct": sample.loss_pct,
        "jitter_ms": sample.jitter_ms,
        "jitter_max_ms": sample.jitter_max_ms,
        "rtt_ms": sample.rtt_ms,
        "r_factor": sample.r_factor,
        "mos": sample.mos,
        "mos_model": sample.mos_model,
        "mos_note": sample.mos_note,
    }

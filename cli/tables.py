"""Rich tables built from result dataclasses: pure functions, rendered by the commands."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.table import Table

from homeshore.quality.calls import CallView
from homeshore.quality.live import CaptureStats
from homeshore.quality.results import CaptureResult


def _number(value: float | None, places: int = 2) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _mos(value: float | None) -> str:
    if value is None:
        return "-"
    style = "green" if value >= 4.0 else "yellow" if value >= 3.6 else "red"
    return f"[{style}]{value:.2f}[/]"


def streams_table(capture: CaptureResult) -> Table:
    table = Table(title=f"{capture.name}: {len(capture.streams)} RTP streams in {capture.packets_read} packets",
                  title_justify="left",
                  caption="MOS: ITU-T G.107; (L) listening quality, no round-trip time known from RTCP",
                  caption_justify="left")
    for header, justify in (("source -> destination", "left"), ("SSRC", "left"), ("codec", "left"),
                            ("packets", "right"), ("lost %", "right"), ("jitter mean ms", "right"),
                            ("jitter max ms", "right"), ("MOS", "right"), ("problems", "left")):
        # Figures and identifiers never wrap mid-value; addresses and problems fold when the terminal is narrow.
        wraps = header in ("source -> destination", "problems")
        table.add_column(header, justify=justify, overflow="fold", no_wrap=not wraps)
    for stream in capture.streams:
        codec = f"{stream.codec}?" if stream.codec_source == "inferred" else stream.codec  # a best reading
        codec = codec if stream.clock_hz is None else f"{codec}/{stream.clock_hz}"
        table.add_row(
            f"{stream.src} -> {stream.dst}" + ("" if stream.via == "direct" else f" ({stream.via})"),
            f"0x{stream.ssrc:08X}",
            codec,
            str(stream.packets),
            _number(stream.loss.loss_pct),
            _number(stream.jitter_mean_ms, 3),
            _number(stream.jitter_max_ms, 3),
            _mos(stream.score.mos) + ("" if stream.score.mos_kind != "listening" else " (L)"),
            "; ".join(stream.problems),
        )
    return table


def windows_table(capture: CaptureResult) -> Table:
    table = Table(title=f"{capture.name}: 10-second windows", title_justify="left")
    for header in ("SSRC", "start (UTC)", "packets", "lost", "lost %", "discarded", "jitter ms", "jitter max ms", "MOS"):
        table.add_column(header, justify="left" if header in ("SSRC", "start (UTC)") else "right")
    for stream in capture.streams:
        for window in stream.windows:
            start = datetime.fromtimestamp(window.start_s, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            table.add_row(
                f"0x{stream.ssrc:08X}",
                start,
                str(window.packets),
                str(window.loss.lost),
                _number(window.loss.loss_pct),
                str(window.loss.discarded),
                _number(window.jitter_ms, 3),
                _number(window.jitter_max_ms, 3),
                _mos(window.score.mos),
            )
    return table


_SPARK = "▁▂▃▄▅▆▇█"


def mos_trend(values: tuple[float | None, ...]) -> str:
    """One character per window, MOS 1.0 (lowest bar) to 4.5 (highest); a gap where a window had no score."""
    return "".join(" " if v is None else _SPARK[min(7, max(0, int((v - 1.0) / 3.5 * 8)))] for v in values)


def calls_table(calls: list[CallView], stats: CaptureStats | None, interfaces: tuple[str, ...]) -> Table:
    seen = f"{stats.packets} packets, {stats.drops} dropped by the kernel" if stats else "starting"
    table = Table(title=f"Calls in progress on {', '.join(interfaces)}: {len(calls)} ({seen})", title_justify="left",
                  caption="outbound figures come from the far end's RTCP reports; '-' when it sends none",
                  caption_justify="left")
    for header, justify in (("call", "left"), ("direction", "left"), ("source", "left"), ("codec", "left"),
                            ("packets", "right"), ("loss %", "right"), ("jitter ms", "right"), ("MOS", "right"),
                            ("trend", "left")):
        table.add_column(header, justify=justify, no_wrap=True)
    for call in calls:
        for index, leg in enumerate(call.directions):
            table.add_row(call.call[:8] if index == 0 else "", leg.direction, leg.source, leg.codec, str(leg.packets),
                          _number(leg.loss_pct), _number(leg.jitter_ms), _mos(leg.mos), mos_trend(leg.trend_mos))
    return table

"""Rich tables built from result dataclasses: pure functions, rendered by the commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from rich.table import Table
from rich.text import Text

from homeshore.quality import repair
from homeshore.quality.calls import CallView
from homeshore.quality.export import window_slots
from homeshore.quality.live import CaptureStats
from homeshore.quality.results import CaptureResult


def _number(value: float | None, places: int = 2) -> str:
    return "-" if value is None else f"{value:.{places}f}"


def _mos(value: float | None) -> str:
    if value is None:
        return "-"
    style = "green" if value >= 4.0 else "yellow" if value >= 3.6 else "red"
    return f"[{style}]{value:.2f}[/]"


@dataclass(frozen=True)
class _Column:
    header: str
    justify: str = "right"
    drop_rank: int = 0  # 0: never dropped; otherwise dropped in rank order (1 first) when the table is too wide
    wraps: bool = False  # folds onto more lines when narrow (only "problems"); every other cell stays on one line


_CELL_PADDING = 3  # one space either side and one border line per column
_PROBLEMS_MIN_WIDTH = 16  # what the problems column keeps, however narrow the terminal


def _fitted_table(columns: tuple[_Column, ...], rows: list[list[str | Text]], width: int | None, **options) -> Table:
    """A table of `rows` that fits `width` terminal columns: the least useful columns (by drop rank) are left out
    until the rest fit; the wrapping column (the problems) takes the room left, at least _PROBLEMS_MIN_WIDTH; if
    that is still too wide, the widest one-line column (the addresses) is cut with an ellipsis. Addresses,
    identifiers and figures never break across lines.

    Strings are shown as they are: no rich markup or emoji codes (":1234:" in an IPv6 address would become an
    emoji); a cell that is styled comes as `Text`."""
    cells = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    natural = [
        max([len(column.header)] + [row[index].cell_len for row in cells]) + _CELL_PADDING
        for index, column in enumerate(columns)
    ]
    needed = [min(size, _PROBLEMS_MIN_WIDTH) if column.wraps else size for column, size in zip(columns, natural)]
    kept = list(range(len(columns)))
    for index in sorted((i for i, c in enumerate(columns) if c.drop_rank), key=lambda i: columns[i].drop_rank):
        if width is None or 1 + sum(needed[i] for i in kept) <= width:
            break
        kept.remove(index)
    sizes = {i: natural[i] for i in kept}
    for i in kept:
        if columns[i].wraps:  # all the room the other columns leave, at least _PROBLEMS_MIN_WIDTH
            room = natural[i] if width is None else width - 1 - sum(natural[k] for k in kept if k != i)
            sizes[i] = min(natural[i], max(room, _PROBLEMS_MIN_WIDTH))
    excess = 0 if width is None else 1 + sum(sizes.values()) - width
    if excess > 0:  # the widest column that stays on one line (the addresses) gives way, cut with an ellipsis
        widest = max((i for i in kept if not columns[i].wraps), key=lambda i: sizes[i])
        sizes[widest] = max(sizes[widest] - excess, _CELL_PADDING + 1)
    table = Table(**options)
    for index in kept:
        column = columns[index]
        size = sizes[index] - _CELL_PADDING
        table.add_column(column.header, justify=column.justify, no_wrap=not column.wraps,
                         overflow="fold" if column.wraps else "ellipsis", min_width=size if column.wraps else None,
                         max_width=size)
    for row in cells:
        table.add_row(*(row[index] for index in kept))
    return table


# Dropped first when the terminal is narrow: the mean jitter (the maximum says more about a bad call), then the
# packet count, the codec, the maximum jitter and the SSRC (the addresses name the stream too). Never: addresses,
# loss, MOS and the problems that explain them.
_STREAM_COLUMNS = (
    _Column("source -> destination", "left"),
    _Column("SSRC", "left", drop_rank=5),
    _Column("codec", "left", drop_rank=3),
    _Column("packets", drop_rank=2),
    _Column("lost %"),
    _Column("jitter mean ms", drop_rank=1),
    _Column("jitter max ms", drop_rank=4),
    _Column("MOS"),
    _Column("problems", "left", wraps=True),
)


def streams_table(capture: CaptureResult, width: int | None = None) -> Table:
    """The streams of one capture; `width`: the terminal's columns (None: every column, whatever the width)."""
    rows = []
    for stream in capture.streams:
        codec = f"{stream.codec}?" if stream.codec_source == "inferred" else stream.codec  # a best reading
        codec = codec if stream.clock_hz is None else f"{codec}/{stream.clock_hz}"
        if stream.codec in repair.LABELS and stream.kind != "unknown":
            codec = f"{codec} {stream.kind}"  # what the retransmission, FEC or redundancy carries: "rtx/90000 video"
        rows.append([
            f"{stream.src} -> {stream.dst}" + ("" if stream.via == "direct" else f" ({stream.via})"),
            f"0x{stream.ssrc:08X}",
            codec,
            str(stream.packets),
            _number(stream.loss.loss_pct),
            _number(stream.jitter_mean_ms, 3),
            _number(stream.jitter_max_ms, 3),
            Text.from_markup(_mos(stream.score.mos) + ("" if stream.score.mos_kind != "listening" else " (L)")),
            "; ".join(stream.problems),
        ])
    return _fitted_table(_STREAM_COLUMNS, rows, width,
                         title=Text(f"{capture.name}: {len(capture.streams)} RTP streams in {capture.packets_read} packets"),
                         title_justify="left",
                         caption=_mos_caption(capture), caption_justify="left")


def _mos_caption(capture: CaptureResult) -> str:
    """The models behind the MOS column, why a wideband stream has none, or why its MOS is a floor (mos_note)."""
    models = {stream.score.mos_model for stream in capture.streams}
    notes = dict.fromkeys((s.score.mos is None, f"{s.codec}: {s.score.mos_note}") for s in capture.streams
                          if s.score.mos_note)
    return "; ".join([
        "MOS: ITU-T G.107" + (", G.107.1 for wideband codecs" if "g107.1" in models else ""),
        "(L) listening quality, no round-trip time known from RTCP",
        *(f"no MOS for {note}" if missing else f"MOS for {note}" for missing, note in notes),
    ])


_WINDOW_COLUMNS = (
    _Column("SSRC", "left"),
    _Column("start", "left"),
    _Column("packets"),
    _Column("lost"),
    _Column("lost %", drop_rank=3),
    _Column("discarded", drop_rank=2),
    _Column("jitter ms"),
    _Column("jitter max ms", drop_rank=1),
    _Column("MOS"),
)


def _clock(time_s: float, with_date: bool) -> str:
    return datetime.fromtimestamp(time_s, timezone.utc).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def windows_table(capture: CaptureResult, width: int | None = None) -> Table:
    """Every stream's 10-second windows, each row naming its stream by SSRC (the caption gives each SSRC's
    addresses). A window in which a stream sent nothing (a pause, a fax phase, an outage) is an empty row, not
    left out."""
    starts = [window.start_s for stream in capture.streams for window in stream.windows]
    one_day = len({_clock(start, True)[:10] for start in starts}) <= 1
    day = f" on {_clock(starts[0], True)[:10]}" if starts and one_day else ""
    rows = []
    for stream in capture.streams:
        ssrc = f"0x{stream.ssrc:08X}"
        for start_s, window in window_slots(stream):
            if window is None:
                rows.append([ssrc, _clock(start_s, not one_day), "0", "-", "-", "-", "-", "-", "-"])
                continue
            rows.append([
                ssrc,
                _clock(start_s, not one_day),
                str(window.packets),
                str(window.loss.lost),
                _number(window.loss.loss_pct),
                str(window.loss.discarded),
                _number(window.jitter_ms, 3),
                _number(window.jitter_max_ms, 3),
                Text.from_markup(_mos(window.score.mos)),
            ])
    caption = "\n".join(f"0x{stream.ssrc:08X}: {stream.src} -> {stream.dst}" for stream in capture.streams
                        if stream.windows)
    return _fitted_table(_WINDOW_COLUMNS, rows, width, title=Text(f"{capture.name}: 10-second windows (UTC{day})"),
                         title_justify="left", caption=Text(caption), caption_justify="left")


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

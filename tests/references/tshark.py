"""tshark as the independent reference: runs `tshark -q -z rtp,streams` and parses its table.

A tshark that fails, or prints a table this parser cannot read, raises TsharkFailed rather than returning no
streams: an empty list means tshark ran and found none."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_ROW = re.compile(
    r"^\s*(?P<start>[\d.]+)\s+(?P<end>[\d.]+)\s+(?P<src>\S+)\s+(?P<sport>\d+)\s+(?P<dst>\S+)\s+(?P<dport>\d+)\s+"
    r"(?P<ssrc>0x[0-9A-Fa-f]+)\s+(?P<payload>.*?)\s+(?P<packets>\d+)\s+(?P<lost>-?\d+)\s+\((?P<lost_pct>-?[\d.]+)%\)\s+"
    r"(?P<min_delta>-?[\d.]+)\s+(?P<mean_delta>-?[\d.]+)\s+(?P<max_delta>-?[\d.]+)\s+"
    r"(?P<min_jitter>-?[\d.]+)\s+(?P<mean_jitter>-?[\d.]+)\s+(?P<max_jitter>-?[\d.]+)\s*(?P<problem>X?)\s*$"
)


@dataclass(frozen=True)
class TsharkStream:
    src: str  # "addr:port" ([addr]:port for IPv6), as homeshore writes it
    dst: str
    ssrc: int
    payload: str
    packets: int
    lost: int
    max_delta_ms: float
    mean_jitter_ms: float
    max_jitter_ms: float  # -1 when tshark did not know the clock rate


def _endpoint(address: str, port: str) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def rtp_streams(capture: Path, *, heuristic: bool = True, decode_as: tuple[str, ...] = ()) -> list[TsharkStream]:
    command = ["tshark", "-n", "-q", "-r", str(capture), "-z", "rtp,streams"]
    if heuristic:
        command += ["--enable-heuristic", "rtp_udp"]
    for rule in decode_as:
        command += ["-d", rule]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if completed.returncode != 0:
        raise TsharkFailed(f"{' '.join(command)} exited {completed.returncode}: {completed.stderr.strip()}")
    return [_stream(match) for match in _table_rows(completed.stdout, " ".join(command))]


class TsharkFailed(AssertionError):
    """tshark exited non-zero, or printed no rtp,streams table, or a row this parser cannot read: the reference
    itself failed, which must not pass for "tshark found no stream"."""


def _table_rows(output: str, command: str) -> list[re.Match[str]]:
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if "RTP Streams" in line) + 2  # the title, then the columns
        end = next(i for i in range(start, len(lines)) if lines[i].startswith("===="))
    except StopIteration:
        raise TsharkFailed(f"{command} printed no complete RTP Streams table:\n{output}") from None
    rows = [(line, _ROW.match(line)) for line in lines[start:end] if line.strip()]
    unread = [line for line, match in rows if match is None]
    if unread:
        raise TsharkFailed(f"{command}: rows the parser cannot read: {unread[:3]}")
    return [match for _, match in rows if match is not None]


def _stream(match: re.Match[str]) -> TsharkStream:
    return TsharkStream(
        src=_endpoint(match["src"], match["sport"]),
        dst=_endpoint(match["dst"], match["dport"]),
        ssrc=int(match["ssrc"], 16),
        payload=match["payload"],
        packets=int(match["packets"]),
        lost=int(match["lost"]),
        max_delta_ms=float(match["max_delta"]),
        mean_jitter_ms=float(match["mean_jitter"]),
        max_jitter_ms=float(match["max_jitter"]),
    )

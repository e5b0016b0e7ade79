"""tshark as the independent reference: runs `tshark -q -z rtp,streams` and parses its table."""

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
    output = subprocess.run(command, capture_output=True, text=True, timeout=600).stdout
    streams = []
    for line in output.splitlines():
        match = _ROW.match(line)
        if match:
            streams.append(
                TsharkStream(
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
            )
    return streams

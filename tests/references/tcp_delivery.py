"""TCP payload on a capture, read by tshark: when each byte arrived, and when TCP could hand it to the reader.

The two differ when a segment is lost: the bytes after it arrive, but TCP keeps them in its out-of-order queue
until the retransmission fills the hole, and only then can a program read them, all at once. A count kept by
the program that reads (the speed test's timeline) is the in-order one; the link's rate is the arrivals'.

    delivery = tcp_delivery(capture, src_port=8080)
    arrived = bytes_between(delivery.arrived, start_s, end_s)     # capture times, seconds since the epoch

Sequence numbers are tshark's relative ones (the first payload byte of each direction is 1); every
connection's payload from src_port is followed from its first byte, so the capture must start before the
connections do. A retransmission that repeats bytes already seen adds nothing.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Delivery:
    arrived: list[tuple[float, int]]  # (capture time s, payload bytes not seen before) per data segment
    in_order: list[tuple[float, int]]  # (capture time s, payload bytes this segment made readable in order)


def bytes_between(events: list[tuple[float, int]], start_s: float, end_s: float) -> int:
    """Bytes of the events at times in (start_s, end_s]."""
    return sum(size for time_s, size in events if start_s < time_s <= end_s)


def tcp_delivery(capture: Path, *, src_port: int) -> Delivery:
    fields = ["frame.time_epoch", "tcp.stream", "tcp.seq", "tcp.len"]
    command = ["tshark", "-n", "-r", str(capture), "-Y", f"tcp.srcport == {src_port} && tcp.len > 0", "-T", "fields",
               *(argument for field in fields for argument in ("-e", field))]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if completed.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {completed.returncode}: {completed.stderr.strip()}")
    received: dict[str, list[list[int]]] = {}  # per connection, the byte ranges [first, end) seen, merged, sorted
    arrived, in_order = [], []
    for line in completed.stdout.splitlines():
        time_s, stream, seq, size = line.split("\t")
        ranges = received.setdefault(stream, [])
        before_new, before_readable = _covered(ranges), _readable_end(ranges)
        _add(ranges, int(seq), int(seq) + int(size))
        arrived.append((float(time_s), _covered(ranges) - before_new))
        in_order.append((float(time_s), _readable_end(ranges) - before_readable))
    return Delivery(arrived, in_order)


def _add(ranges: list[list[int]], first: int, end: int) -> None:
    ranges.append([first, end])
    ranges.sort()
    merged = [ranges[0]]
    for current in ranges[1:]:
        if current[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], current[1])
        else:
            merged.append(current)
    ranges[:] = merged


def _covered(ranges: list[list[int]]) -> int:
    return sum(end - first for first, end in ranges)


def _readable_end(ranges: list[list[int]]) -> int:
    """Bytes readable in order: the range that starts at the first payload byte (relative sequence 1)."""
    return ranges[0][1] - 1 if ranges and ranges[0][0] <= 1 else 0

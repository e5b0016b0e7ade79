"""Headless Chromium as the reference browser: a screenshot of a local HTML file and the requests it made.

The requests come from Chromium's own net log (`--log-net-log`), not from a proxy we would have to trust: every
URL request the network stack starts is logged with its initiator. Chromium's own background services (Gaia's
ListAccounts, the component updater) still start requests with every flag of DESIGN.md's recipe; they carry the
initiator "not an origin" and are kept apart from what the page asked for. `--host-resolver-rules` makes every
name lookup fail, so nothing leaves the machine while the log still records each attempt; 127.0.0.1 is left
alone (the rule catches address literals too), so a test can load a page from a server of its own on loopback.

The screenshot is decoded here in pure Python (zlib and the PNG filters), so tests can read pixels without an
imaging library: 8-bit RGB or RGBA, not interlaced, which is what Chromium writes.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 60.0  # Chromium starts in seconds on an idle machine; far longer when the cores are shared
BROWSER_INITIATOR = "not an origin"  # the net log's initiator for requests Chromium makes on its own behalf
FLAGS = (  # DESIGN.md's recipe
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=NetworkTimeServiceQuerying", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@dataclass(frozen=True)
class Request:
    url: str
    initiator: str | None  # the requesting origin ("null" for a file:// page); BROWSER_INITIATOR for Chromium's own


@dataclass(frozen=True)
class Image:
    width: int
    height: int  # rows decoded (a decode may stop early)
    channels: int  # 3 (RGB) or 4 (RGBA)
    rows: tuple[bytes, ...]

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        start = x * self.channels
        return tuple(self.rows[y][start:start + self.channels])

    def colours(self, left: int, top: int, right: int, bottom: int) -> Counter[tuple[int, int, int]]:
        """How many pixels of each RGB colour lie in the box [left, right) x [top, bottom)."""
        counts: Counter[tuple[int, int, int]] = Counter()
        step = self.channels
        for row in self.rows[top:bottom]:
            segment = row[left * step:right * step]
            counts.update(zip(segment[0::step], segment[1::step], segment[2::step]))
        return counts

    def dominant(self, left: int, top: int, right: int, bottom: int) -> tuple[int, int, int]:
        return self.colours(left, top, right, bottom).most_common(1)[0][0]


@dataclass(frozen=True)
class Rendering:
    screenshot: Path
    requests: tuple[Request, ...]  # every URL request in the net log, in order

    @property
    def page_requests(self) -> tuple[str, ...]:
        """URLs the page (or anything but Chromium's own services) asked for; a file:// load is not a request."""
        return tuple(r.url for r in self.requests if r.initiator != BROWSER_INITIATOR
                     and not r.url.startswith("file:"))


def render(chromium: str, page: Path | str, workdir: Path, *, width: int = 1200, height: int = 900,
           timeout_s: float = TIMEOUT_S) -> Rendering:
    """Screenshot `page` (a file, or a URL as text) at width x height; the net log and profile go under `workdir`
    (one per call)."""
    workdir.mkdir(parents=True, exist_ok=True)
    screenshot, netlog = workdir / "screenshot.png", workdir / "netlog.json"
    returncode, output, _ = _run([chromium, *FLAGS, f"--user-data-dir={workdir / 'profile'}",
                                  f"--screenshot={screenshot}", f"--window-size={width},{height}",
                                  f"--log-net-log={netlog}", "--net-log-capture-mode=Default",
                                  _uri(page)], page, timeout_s)
    if returncode != 0 or not screenshot.is_file():
        tail = output.decode(errors="replace")[-2000:]
        raise AssertionError(f"chromium exited {returncode} without a screenshot of {_name(page)}:\n{tail}")
    return Rendering(screenshot, url_requests(read_netlog(netlog)))


def dump_dom(chromium: str, page: Path | str, workdir: Path, *, width: int = 1200, height: int = 900,
             timeout_s: float = TIMEOUT_S) -> str:
    """The page's DOM as Chromium serialises it once loaded (`--dump-dom`), after its scripts have run, laid
    out in a width x height window (as `render` takes its screenshot)."""
    workdir.mkdir(parents=True, exist_ok=True)
    returncode, output, errors = _run([chromium, *FLAGS, f"--user-data-dir={workdir / 'profile'}",
                                       f"--window-size={width},{height}", "--dump-dom", _uri(page)],
                                      page, timeout_s, separate_stderr=True)
    if returncode != 0 or not output.strip():
        raise AssertionError(f"chromium exited {returncode} without a DOM of {_name(page)}:\n"
                             f"{errors.decode(errors='replace')[-2000:]}")
    return output.decode("utf-8")


def _uri(page: Path | str) -> str:
    return page if isinstance(page, str) else page.resolve().as_uri()


def _name(page: Path | str) -> str:
    return page if isinstance(page, str) else page.name


def _run(command: list[str], page: Path | str, timeout_s: float, separate_stderr: bool = False) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of one Chromium run; stderr joins stdout unless kept apart."""
    # Its own session, so a hung browser is ended with its renderers by its process group's id, nothing else.
    process = subprocess.Popen(command, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
                               start_new_session=True)
    try:
        output, errors = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError(f"chromium did not finish {_name(page)} within {timeout_s:.0f} s") from None
    return process.returncode, output, errors or b""


def read_netlog(path: Path) -> dict:
    """The net log as JSON; a log cut short (Chromium killed mid-write) lacks its closing brackets (net-log docs)."""
    text = path.read_text(encoding="utf-8").rstrip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.rstrip(",") + "]}")


def url_requests(netlog: dict) -> tuple[Request, ...]:
    """Each URL_REQUEST_START_JOB event's URL and initiator (redirects start a job of their own, and count)."""
    start_job = netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return tuple(Request(event["params"]["url"], event["params"].get("initiator"))
                 for event in netlog.get("events", [])
                 if event.get("type") == start_job and "url" in event.get("params", {}))


def decode_png(data: bytes, max_rows: int | None = None) -> Image:
    """Pixels of an 8-bit RGB/RGBA PNG (PNG spec, ISO/IEC 15948 clauses 9-11); only the first `max_rows` rows
    when given, since each row is unfiltered from the one above and the top of a page is often all a test needs."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    position, header, compressed = 8, b"", bytearray()
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunk = data[position + 8:position + 8 + length]
        position += 12 + length  # length, type, data, CRC
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            compressed += chunk
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header[:13])
    if depth != 8 or colour_type not in (2, 6) or interlace != 0:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}, interlace {interlace}")
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(bytes(compressed))
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height if max_rows is None else min(height, max_rows)):
        start = y * (stride + 1)
        row = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, channels)
        rows.append(row)
        previous = row
    return Image(width, len(rows), channels, tuple(rows))


def _unfilter(kind: int, row: bytearray, above: bytes, bpp: int) -> bytes:
    """Undo one scanline's filter (PNG spec clause 9.2): 0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth."""
    if kind == 0:
        return bytes(row)
    if kind == 2:
        return bytes((value + up) & 0xFF for value, up in zip(row, above))
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        if kind == 1:
            row[i] = (row[i] + left) & 0xFF
        elif kind == 3:
            row[i] = (row[i] + ((left + above[i]) >> 1)) & 0xFF
        elif kind == 4:
            up_left = above[i - bpp] if i >= bpp else 0
            estimate = left + above[i] - up_left
            distance_left, distance_up, distance_up_left = (abs(estimate - left), abs(estimate - above[i]),
                                                            abs(estimate - up_left))
            if distance_left <= distance_up and distance_left <= distance_up_left:
                predictor = left
            elif distance_up <= distance_up_left:
                predictor = above[i]
            else:
                predictor = up_left
            row[i] = (row[i] + predictor) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
    return bytes(row)

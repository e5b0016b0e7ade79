"""What a candidate's page sends at the end of a check (`POST /check/{id}/finish`), parsed and checked (pure).

The page is the candidate's, so everything in it is the browser's word: anything not exactly as expected is
refused with a one-line reason (BadFigures, answered 400) naming the field, never half-read. The server counts
the speeds itself (receipts); what it takes from here is what only the browser can see: round-trip times of
its own requests, its own byte counts (kept beside the server's, and used only where TLS ends at a proxy), and
what it says of its connection (`navigator.connection`: type and effective type, nothing that fingerprints).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass

MAX_BODY_BYTES = 64 * 1024
MAX_RTT_SAMPLES = 600  # a ping every 50 ms over a 30-s phase
MAX_RTT_MS = 60_000.0
MAX_MBPS = 100_000.0
MAX_BYTES = 1e12
CONNECTION_TYPES = ("bluetooth", "cellular", "ethernet", "mixed", "none", "other", "unknown", "wifi", "wimax")
EFFECTIVE_TYPES = ("slow-2g", "2g", "3g", "4g")
# navigator.connection.type as the schema's `conn` tag (collector/schema.py's CONNECTIONS)
CONN_OF_TYPE = {"ethernet": "wired", "wifi": "wifi", "cellular": "cellular", "wimax": "cellular"}
_KEYS = ("rtt_idle_ms", "rtt_download_ms", "rtt_upload_ms", "download_mbps", "upload_mbps", "download_bytes",
         "upload_bytes", "connection_type", "effective_type", "duration_s")


class BadFigures(ValueError):
    """The page's figures cannot be used; str() is one line."""


@dataclass(frozen=True)
class BrowserFigures:
    rtt_idle_ms: tuple[float, ...]  # fetch round trips on the idle link
    rtt_download_ms: tuple[float, ...]  # while the download ran, after its warm-up
    rtt_upload_ms: tuple[float, ...]
    download_mbps: float | None  # the browser's own count, after the warm-up
    upload_mbps: float | None  # what the browser handed to its network stack, after the warm-up
    download_bytes: int
    upload_bytes: int
    connection_type: str | None  # navigator.connection.type, when the browser has it
    effective_type: str | None
    duration_s: float

    @property
    def conn(self) -> str:
        return CONN_OF_TYPE.get(self.connection_type or "", "unknown")


def median_ms(samples: tuple[float, ...]) -> float | None:
    return statistics.median(samples) if samples else None


def parse_figures(body: bytes) -> BrowserFigures:
    if len(body) > MAX_BODY_BYTES:
        raise BadFigures(f"the figures are larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadFigures("the figures are not JSON") from None
    if not isinstance(data, dict):
        raise BadFigures("the figures must be a JSON object")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise BadFigures(f"unknown figure {unknown[0][:40]!r}")
    return BrowserFigures(
        rtt_idle_ms=_samples(data, "rtt_idle_ms"), rtt_download_ms=_samples(data, "rtt_download_ms"),
        rtt_upload_ms=_samples(data, "rtt_upload_ms"),
        download_mbps=_number(data, "download_mbps", MAX_MBPS, optional=True),
        upload_mbps=_number(data, "upload_mbps", MAX_MBPS, optional=True),
        download_bytes=int(_number(data, "download_bytes", MAX_BYTES, optional=True, whole=True) or 0),
        upload_bytes=int(_number(data, "upload_bytes", MAX_BYTES, optional=True, whole=True) or 0),
        connection_type=_choice(data, "connection_type", CONNECTION_TYPES),
        effective_type=_choice(data, "effective_type", EFFECTIVE_TYPES),
        duration_s=_number(data, "duration_s", 3600.0, optional=True) or 0.0)


def _number(data: dict, key: str, high: float, *, optional: bool = False, whole: bool = False,
            value: object = None, name: str | None = None) -> float | None:
    value = data.get(key) if name is None else value
    name = name or key
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= high or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise BadFigures(f"{name} must be {kind} from 0 to {high:g}")
    return float(value)


def _samples(data: dict, key: str) -> tuple[float, ...]:
    values = data.get(key, [])
    if not isinstance(values, list) or len(values) > MAX_RTT_SAMPLES:
        raise BadFigures(f"{key} must be a list of at most {MAX_RTT_SAMPLES} round-trip times")
    return tuple(_number(data, key, MAX_RTT_MS, value=value, name=f"{key}[{i}]") or 0.0
                 for i, value in enumerate(values))


def _choice(data: dict, key: str, allowed: tuple[str, ...]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if value not in allowed:
        raise BadFigures(f"{key} must be one of {', '.join(allowed)}")
    return value

"""What the speed-test HTTP server lets clients take (SpeedServerLimits) and what it counts (SpeedServerCounters)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpeedServerLimits:
    """What one client, and all clients together, may take. The defaults fit a speedtest-cli run (8 download
    connections at a time, each reading 31.6-MB files for the whole phase; uploads of up to 7 MiB each) and a
    homeshore check (a few phases of 10-20 s), with room to spare, and keep a flood from one address to a few
    threads."""

    connections_per_source: int = 16  # per IPv4 address, or per IPv6 /64 (one home's network); beyond: 429
    connections_total: int = 256  # beyond: 503
    socket_timeout_s: float = 10.0  # a connection with no byte read or written for this long is ended
    connection_max_s: float = 120.0  # any connection older than this is closed (a trickling client included)
    max_head_bytes: int = 8192  # request line and headers together; beyond: 414 (line) or 431 (headers)
    max_upload_bytes_per_request: int = 8 * 1024 * 1024  # above speedtest-cli's largest upload, 7 340 032
    # declared Content-Lengths of one test id together: a 10-s phase at 2.5 Gbit/s, so a fibre home is measured
    max_upload_bytes_per_test: int = 3 * 1024**3
    receipts_max: int = 1024  # receipts kept; the oldest goes first
    receipt_expire_s: float = 600.0  # a receipt is forgotten this long after its test's first upload
    receipt_window_s: float = 120.0  # a test's uploads must start within this of its first; bins beyond clamp


@dataclass(frozen=True)
class SpeedServerCounters:
    """What the server did. bytes_sent and bytes_received count bodies only (downloads and uploads), so they
    compare with what speedtest-cli reports; refusals land in exactly one of refused (a connection),
    malformed, not_found or too_large (a request)."""

    connections: int = 0  # connections admitted
    refused: int = 0  # connections refused: too many from the source (429) or in all (503)
    requests: int = 0  # well-formed requests
    downloads: int = 0  # random files started
    uploads: int = 0  # uploads whose body was read (completely or until the client stopped)
    bytes_sent: int = 0  # download body bytes written to sockets
    bytes_received: int = 0  # upload body bytes read
    aborted: int = 0  # bodies cut by the client closing (speedtest-cli does so at its time limit)
    timeouts: int = 0  # connections ended by socket_timeout_s or connection_max_s (mid-body: in aborted too)
    malformed: int = 0  # 400, 411, 414, 431, 501; HTTP/0.9; a bad test id or query
    not_found: int = 0  # 404
    too_large: int = 0  # 413
    errors: int = 0  # unexpected exceptions in a handler (logged at debug level)

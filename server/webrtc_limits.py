"""What the browser call's server lets clients take (WebrtcLimits) and what it counts (WebrtcCounters)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebrtcLimits:
    """A home makes one call per check, 20 s at 50 packets/s each way; the defaults leave room for a household
    running two checks at once and for 20 candidates checking at the same time (bench/serve_load.py)."""

    peers_per_source: int = 2  # calls in progress per IPv4 address or IPv6 /64; beyond: 429
    peers_total: int = 32  # calls in progress in all; beyond: 503
    max_offer_bytes: int = 16 * 1024  # Chromium's offer with one data channel and its host candidates: ~1 KB
    # The log of a 30-s call: 1,500 sequence numbers and arrival times of ~12 characters each, ~30 KB.
    max_log_bytes: int = 64 * 1024
    max_seconds: int = 30  # the longest call a page may ask for
    connect_timeout_s: float = 10.0  # no ICE pair and DTLS within this: the call is blocked
    log_wait_s: float = 15.0  # after the call's last packet: no arrival log by then, downstream not measured
    results_max: int = 1024  # figures kept for result(); the oldest goes first


@dataclass(frozen=True)
class WebrtcCounters:
    """What the call server did. Each signalling request lands in exactly one of answered, logged, not_found,
    busy, refused, too_large or malformed; each call that got an answer ends in exactly one of completed,
    blocked or abandoned (stopped with the server)."""

    answered: int = 0  # offers answered
    logged: int = 0  # arrival logs taken and scored
    not_found: int = 0  # 404: no such active check, or a log for no call
    busy: int = 0  # 409: an offer for a check whose call is still running
    refused: int = 0  # 429 (too many calls from the source) or 503 (too many in all)
    too_large: int = 0  # 413: an offer or log over its limit
    malformed: int = 0  # 400: bad JSON, a bad offer or SDP, a bad log
    completed: int = 0  # calls that came up and were scored
    blocked: int = 0  # calls whose ICE pair or DTLS never came up within connect_timeout_s
    abandoned: int = 0  # calls ended by stop() before their figures, or not scored (an error, counted too)
    bad_packets: int = 0  # data channel messages that are not call packets (ignored)
    errors: int = 0  # unexpected exceptions (logged at debug level)

"""Which browser checks may be in progress at once, and how many bytes each may move (issue 16, item 6). Pure:
the routes that start a check, carry its bytes and finish it call this with the time, and turn a refusal into
its HTTP status (Refusal.http_status).

A check holds a slot from start() to finish(). A candidate who closes the tab never finishes, so a check older
than check_max_s is forgotten (counted `expired`) the next time anything is decided: the slot cannot leak. Checks
are counted per source as the speed endpoints count connections (speed_protocol.source_key: an IPv4 address, or
an IPv6 /64, one home's network), so a home cannot take every slot by using many addresses of its prefix.
One Admission serves one server's event loop (`homeshore serve` makes it in server/serve.py); it takes no lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from homeshore.server.speed_protocol import source_key


@dataclass(frozen=True)
class AdmissionLimits:
    """The defaults: the target load of one 2-core server (20 candidates at once, bench/serve_load.py), a retry
    while a first attempt still holds its slot, and a check's two 10-s speed phases at 1.2 Gbit/s each way (at
    8 Mbit/s a whole check moves about 25 MB)."""

    checks_per_source: int = 2  # beyond: 429
    checks_total: int = 20  # beyond: 503
    bytes_per_check: int = 3 * 1024**3  # beyond: 413
    check_max_s: float = 300.0  # a check in progress this long is forgotten, its slot freed (browser_checks.CHECK_LIFETIME_S)

    def __post_init__(self) -> None:
        for name in ("checks_per_source", "checks_total", "bytes_per_check"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {getattr(self, name)!r}")
        if not self.check_max_s > 0:
            raise ValueError(f"check_max_s must be more than 0, not {self.check_max_s!r}")


class Refusal(Enum):
    """Why a check may not start or go on, with the HTTP status its route answers."""

    PER_SOURCE = "per_source"
    TOTAL = "total"
    BYTES = "bytes"
    NOT_IN_PROGRESS = "not_in_progress"

    @property
    def http_status(self) -> int:
        return {"per_source": 429, "total": 503, "bytes": 413, "not_in_progress": 409}[self.value]


@dataclass
class AdmissionCounters:
    """Checks admitted and how they ended, and each refusal by reason (every decision lands in one)."""

    admitted: int = 0
    finished: int = 0
    expired: int = 0  # in progress past check_max_s: forgotten
    refused_per_source: int = 0  # start() refused: too many from the source
    refused_total: int = 0  # start() refused: too many in all
    refused_bytes: int = 0  # charge() refused: the check's bytes would pass bytes_per_check
    not_in_progress: int = 0  # charge() for a check that never started, finished or expired


@dataclass
class _Check:
    source: str | None  # None: behind a reverse proxy
    started_s: float
    bytes: int = 0


class Admission:
    def __init__(self, limits: AdmissionLimits = AdmissionLimits()) -> None:
        self.limits = limits
        self.counters = AdmissionCounters()
        self._checks: dict[str, _Check] = {}

    @property
    def in_progress(self) -> int:
        return len(self._checks)

    def start(self, check_id: str, address: str | None, now_s: float) -> Refusal | None:
        """Admit check `check_id` from `address` (None), or say why not. Starting a check already in progress is
        admitted again without a second slot (a page retrying its request). `address` None: the check came
        through a reverse proxy, whose one address every candidate shares, so only the total applies."""
        self._expire(now_s)
        if check_id in self._checks:
            return None
        source = source_key(address) if address is not None else None
        if source is not None and sum(1 for check in self._checks.values()
                                      if check.source == source) >= self.limits.checks_per_source:
            self.counters.refused_per_source += 1
            return Refusal.PER_SOURCE
        if len(self._checks) >= self.limits.checks_total:
            self.counters.refused_total += 1
            return Refusal.TOTAL
        self._checks[check_id] = _Check(source, now_s)
        self.counters.admitted += 1
        return None

    def charge(self, check_id: str, size_bytes: int, now_s: float) -> Refusal | None:
        """Count `size_bytes` more for the check before they are sent or read (None: go on); refused when the
        check is not in progress or would pass its byte budget (the bytes are then not counted)."""
        self._expire(now_s)
        check = self._checks.get(check_id)
        if check is None:
            self.counters.not_in_progress += 1
            return Refusal.NOT_IN_PROGRESS
        if check.bytes + size_bytes > self.limits.bytes_per_check:
            self.counters.refused_bytes += 1
            return Refusal.BYTES
        check.bytes += size_bytes
        return None

    def finish(self, check_id: str) -> None:
        """The check is over (its result stored, or it failed): its slot is free. Finishing twice is harmless."""
        if self._checks.pop(check_id, None) is not None:
            self.counters.finished += 1

    def _expire(self, now_s: float) -> None:
        stale = [check_id for check_id, check in self._checks.items()
                 if now_s - check.started_s >= self.limits.check_max_s]
        for check_id in stale:
            del self._checks[check_id]
        self.counters.expired += len(stale)

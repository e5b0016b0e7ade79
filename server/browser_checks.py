"""Browser checks in progress (pure: times are arguments): one per use of an invite, in memory.

`POST /c/{token}/start` (server/browser_check_http.py) takes one use of the invite and opens a check here; the
check's later requests carry its `check_id` (22 base64url characters of 16 random bytes: unguessable, and
revealing nothing), its speed requests the `test_id` its receipts are kept under. A check lives
CHECK_LIFETIME_S, long enough for its phases and a slow start, and finishes once: a second finish, or one after
it expired, finds nothing. At most one check is in progress per invite (a second Start on the same link, in
another tab, is refused without spending a use), at most max_per_source from one home's address (an IPv4
address or an IPv6 /64, as the speed server's limits count: server/speed_protocol.source_key; not counted behind
a reverse proxy, where every check comes from loopback) and at most max_open in all.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

CHECK_ID_BYTES = 16
CHECK_LIFETIME_S = 300.0


@dataclass(frozen=True)
class CheckPlan:
    """The phases the page runs, in seconds: at 8 Mbit/s the whole check stays within the issue's 40 s."""

    idle_s: float = 2.0
    download_s: float = 8.0
    upload_s: float = 8.0
    call_s: float = 20.0

    def to_json(self) -> dict:
        return {"idle_s": self.idle_s, "download_s": self.download_s, "upload_s": self.upload_s,
                "call_s": self.call_s}


@dataclass
class BrowserCheck:
    check_id: str
    test_id: str  # 32 hex digits: the speed endpoints' test=ID, under which the receipts are kept
    invite_id: str
    reference: str
    district: str | None
    proxied: bool  # the start came from loopback: a reverse proxy's connection
    source: str  # the home's address as the limits count it (speed_protocol.source_key)
    started_at: datetime
    started_s: float
    expires_s: float


def new_check_id(random_bytes: bytes) -> str:
    return base64.urlsafe_b64encode(random_bytes).decode("ascii").rstrip("=")


class CheckBook:
    """The checks in progress, by check id."""

    def __init__(self, *, max_open: int = 64, max_per_source: int = 4, lifetime_s: float = CHECK_LIFETIME_S
                 ) -> None:
        self.max_open = max_open
        self.max_per_source = max_per_source
        self.lifetime_s = lifetime_s
        self._checks: dict[str, BrowserCheck] = {}

    def __len__(self) -> int:
        return len(self._checks)

    def busy(self, invite_id: str, now_s: float) -> bool:
        """True when the invite has a check in progress already."""
        self.expire(now_s)
        return any(check.invite_id == invite_id for check in self._checks.values())

    def full(self, now_s: float) -> bool:
        self.expire(now_s)
        return len(self._checks) >= self.max_open

    def crowded(self, source: str, now_s: float) -> bool:
        """True when `source` has max_per_source checks in progress already (a proxy's loopback never is)."""
        self.expire(now_s)
        return sum(1 for check in self._checks.values() if check.source == source and not check.proxied) \
            >= self.max_per_source

    def open(self, *, invite_id: str, reference: str, district: str | None, proxied: bool, source: str,
             started_at: datetime, now_s: float) -> BrowserCheck:
        check = BrowserCheck(new_check_id(secrets.token_bytes(CHECK_ID_BYTES)), secrets.token_hex(16), invite_id,
                             reference, district, proxied, source, started_at, now_s, now_s + self.lifetime_s)
        self._checks[check.check_id] = check
        return check

    def get(self, check_id: str, now_s: float) -> BrowserCheck | None:
        self.expire(now_s)
        return self._checks.get(check_id)

    def close(self, check_id: str) -> BrowserCheck | None:
        """The check, taken out of progress (None: unknown, expired or finished already)."""
        return self._checks.pop(check_id, None)

    def expire(self, now_s: float) -> None:
        for check_id in [key for key, check in self._checks.items() if now_s > check.expires_s]:
            del self._checks[check_id]

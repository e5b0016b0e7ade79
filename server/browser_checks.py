"""Browser checks in progress (pure: times are arguments): one per use of an invite, in memory.

`POST /c/{token}/start` (server/browser_check_http.py) takes one use of the invite and opens a check here; the
check's later requests carry its `check_id` (22 base64url characters of 16 random bytes: unguessable, and
revealing nothing), its speed requests the `test_id` its receipts are kept under. A check lives
CHECK_LIFETIME_S, long enough for its phases and a slow start, and finishes once: a second finish, or one after
it expired, finds nothing. At most one check is in progress per invite (a second Start on the same link, in
another tab, is refused without spending a use). How many may be in progress from one home's address and in all
is server/admission.py's to decide.
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
    started_at: datetime
    started_s: float
    expires_s: float


def new_check_id(random_bytes: bytes) -> str:
    return base64.urlsafe_b64encode(random_bytes).decode("ascii").rstrip("=")


class CheckBook:
    """The checks in progress, by check id."""

    def __init__(self, *, lifetime_s: float = CHECK_LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._checks: dict[str, BrowserCheck] = {}

    def __len__(self) -> int:
        return len(self._checks)

    def busy(self, invite_id: str, now_s: float) -> bool:
        """True when the invite has a check in progress already."""
        self.expire(now_s)
        return any(check.invite_id == invite_id for check in self._checks.values())

    def open(self, check_id: str, *, invite_id: str, reference: str, district: str | None, proxied: bool,
             started_at: datetime, now_s: float) -> BrowserCheck:
        """Open check `check_id` (new_check_id(), taken before the invite's use, so the admission can hold a
        place for it first)."""
        check = BrowserCheck(check_id, secrets.token_hex(16), invite_id, reference, district, proxied, started_at,
                             now_s, now_s + self.lifetime_s)
        self._checks[check.check_id] = check
        return check

    def get(self, check_id: str, now_s: float) -> BrowserCheck | None:
        self.expire(now_s)
        return self._checks.get(check_id)

    def by_test(self, test_id: str, now_s: float) -> BrowserCheck | None:
        """The check in progress whose speed requests carry `test_id` (None: no browser check's)."""
        self.expire(now_s)
        return next((check for check in self._checks.values() if check.test_id == test_id), None)

    def close(self, check_id: str) -> BrowserCheck | None:
        """The check, taken out of progress (None: unknown, expired or finished already)."""
        return self._checks.pop(check_id, None)

    def expire(self, now_s: float) -> None:
        for check_id in [key for key, check in self._checks.items() if now_s > check.expires_s]:
            del self._checks[check_id]

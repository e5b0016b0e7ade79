"""The server's invites: a small SQLite file (WAL) in its state directory, keyed by the invite id of the token.

What a link stands for lives here, not in the link: the candidate's reference, the postcode district (never a
full postcode: `add` refuses anything but a district) and how many checks it allows. A reference that does not
match the candidate pattern (planning/candidate_ref.py) is refused too, so no name or e-mail address is stored.

A check takes one use atomically: one `UPDATE ... WHERE uses_taken < uses_allowed`, so two browsers opening the
last use at once cannot both get it, whether they reach one server process or two. Each call opens its own
connection (the `invite` command writes while the server reads, and an asyncio server may call from a worker
thread); SQLite waits up to BUSY_TIMEOUT_S for a writer holding the lock.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from homeshore.planning.candidate_ref import CANDIDATE_REF, CANDIDATE_REF_RULE
from homeshore.planning.postcode import PostcodeError, postcode_district

STORE_FILE = "invites.sqlite3"
BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invites (
    invite_id TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    district TEXT,
    created_s INTEGER NOT NULL,
    expires_s INTEGER NOT NULL,
    uses_allowed INTEGER NOT NULL CHECK (uses_allowed >= 1),
    uses_taken INTEGER NOT NULL DEFAULT 0 CHECK (uses_taken >= 0)
)
"""


@dataclass(frozen=True)
class Invite:
    invite_id: str  # hex, as in the token
    reference: str  # the candidate's reference from the recruiter's records
    district: str | None  # postcode district (e.g. "NG5"), when the recruiter gave a postcode
    created_s: int  # unix seconds
    expires_s: int  # unix seconds
    uses_allowed: int
    uses_taken: int = 0

    @property
    def uses_left(self) -> int:
        return max(0, self.uses_allowed - self.uses_taken)


class InviteStore:
    """Invites in `path` (created, with its table, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # 0600 from the start (SQLite gives its -wal and -shm files the same mode): references are personal data.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)

    def add(self, invite: Invite) -> None:
        """Store a new invite; ValueError for a reference or district that may not be stored."""
        if not CANDIDATE_REF.match(invite.reference):
            raise ValueError(CANDIDATE_REF_RULE)
        if invite.district is not None and _district(invite.district) != invite.district:
            raise ValueError(f"{invite.district!r} is not a postcode district: only the district is stored")
        with self._connection() as connection:
            connection.execute("INSERT INTO invites VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (invite.invite_id, invite.reference, invite.district, invite.created_s,
                                invite.expires_s, invite.uses_allowed, invite.uses_taken))

    def get(self, invite_id: str) -> Invite | None:
        with self._connection() as connection:
            row = connection.execute("SELECT * FROM invites WHERE invite_id = ?", (invite_id,)).fetchone()
        return Invite(*row) if row is not None else None

    def take_use(self, invite_id: str, now_s: float) -> bool:
        """Take one use of an unexpired invite; False when none is left (or it expired, or is unknown)."""
        with self._connection() as connection:
            cursor = connection.execute("UPDATE invites SET uses_taken = uses_taken + 1 WHERE invite_id = ? "
                                        "AND uses_taken < uses_allowed AND expires_s > ?", (invite_id, now_s))
        return cursor.rowcount == 1

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            yield connection
        finally:
            connection.close()


def _district(text: str) -> str | None:
    try:
        return postcode_district(text)
    except PostcodeError:
        return None

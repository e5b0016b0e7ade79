"""The durable local store: every sample goes here first, and leaves only when InfluxDB said 2xx (DESIGN.md,
"Durability").

One SQLite file in the state directory, in WAL mode, shared safely by the agent daemon and a `homeshore check`
run at the same time: each write is one `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two
writers queue on the busy timeout instead of failing on a lock upgrade), and readers never block writers.

- `synchronous = FULL`: in WAL mode it fsyncs the WAL at every commit, so a sample is on disk when `append`
  returns, even across a power cut or a laptop that dies on battery; NORMAL would survive a crash of the
  program but could lose the last commits to a power cut. Appends come a few times a minute in batches, so the
  fsync costs nothing that matters.
- Rows are line protocol. Resending one after a crash is harmless: InfluxDB overwrites a point with the same
  series and timestamp, so the spool never needs to know what the server already has.
- The size is bounded: each row counts its line's UTF-8 bytes plus `ROW_OVERHEAD_BYTES` (an estimate of
  SQLite's per-row cost), and an append that would pass `max_bytes` drops the oldest rows (its own included, if
  it alone is too big), counting them in a persistent `dropped` counter for `agent.spool_dropped`. The file
  itself never shrinks (SQLite reuses freed pages), so its size stays near the bound.
- Lines InfluxDB rejects as malformed (400/422) are moved to a quarantine table so they never block the queue;
  it keeps at most a tenth of `max_bytes`, dropping its own oldest rows.
- The directory is created 0700 and the file 0600: a readiness result can carry a candidate's name.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from homeshore.collector.schema import Sample, to_line_protocol

DEFAULT_MAX_BYTES = 200 * 2**20  # agent.spool_max_mb = 200
ROW_OVERHEAD_BYTES = 40  # rowid, created_ns, bytes, record header and B-tree cell pointer, roughly
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for the other process's transaction
_QUARANTINE_SHARE = 10  # the quarantine may hold max_bytes / this

_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never reused, so oldest first is id order
    line TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    line TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    quarantined_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('queue_bytes', 0), ('quarantine_bytes', 0), ('dropped', 0);
-- The byte totals follow every insert and delete, whichever code path or process makes it.
CREATE TRIGGER IF NOT EXISTS queue_in AFTER INSERT ON queue BEGIN
    UPDATE counters SET value = value + NEW.bytes WHERE name = 'queue_bytes'; END;
CREATE TRIGGER IF NOT EXISTS queue_out AFTER DELETE ON queue BEGIN
    UPDATE counters SET value = value - OLD.bytes WHERE name = 'queue_bytes'; END;
CREATE TRIGGER IF NOT EXISTS quarantine_in AFTER INSERT ON quarantine BEGIN
    UPDATE counters SET value = value + NEW.bytes WHERE name = 'quarantine_bytes'; END;
CREATE TRIGGER IF NOT EXISTS quarantine_out AFTER DELETE ON quarantine BEGIN
    UPDATE counters SET value = value - OLD.bytes WHERE name = 'quarantine_bytes'; END;
COMMIT;
"""


@dataclass(frozen=True)
class SpooledRow:
    id: int
    line: str  # line protocol, no trailing newline
    created_ns: int  # when it was appended (Unix time), not the sample's own timestamp


@dataclass(frozen=True)
class SpoolStats:
    rows: int  # waiting to be sent
    bytes: int  # their accounted size (line bytes + ROW_OVERHEAD_BYTES each)
    dropped: int  # rows dropped to keep the bound, since the spool was created
    quarantined: int  # rows InfluxDB refused, kept for inspection
    oldest_created_ns: int | None  # of the rows waiting; None when none


def row_bytes(line: str) -> int:
    return len(line.encode()) + ROW_OVERHEAD_BYTES


class Spool:
    """The SQLite spool at `path`; a context manager. One instance per thread (sqlite3's rule)."""

    def __init__(self, path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        _create_private(self.path)
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)  # its own transaction: executescript commits before it starts
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _transaction(self, mode: str = "IMMEDIATE") -> _Transaction:
        return _Transaction(self._db, mode)

    def append(self, samples: Iterable[Sample], *, now_ns: int | None = None) -> int:
        """Stores the samples in one transaction, durable when this returns; returns how many rows the bound
        dropped (already counted in `stats().dropped`)."""
        created_ns = time.time_ns() if now_ns is None else now_ns
        lines = [to_line_protocol(sample) for sample in samples]
        with self._transaction():
            self._db.executemany(
                "INSERT INTO queue (line, created_ns, bytes) VALUES (?, ?, ?)",
                ((line, created_ns, row_bytes(line)) for line in lines),
            )
            dropped = _trim(self._db, "queue", "queue_bytes", self.max_bytes)
            if dropped:
                self._db.execute("UPDATE counters SET value = value + ? WHERE name = 'dropped'", (dropped,))
        return dropped

    def pending(self, limit: int) -> list[SpooledRow]:
        """The oldest `limit` rows waiting, oldest first."""
        cursor = self._db.execute("SELECT id, line, created_ns FROM queue ORDER BY id LIMIT ?", (limit,))
        return [SpooledRow(*row) for row in cursor]

    def delete(self, ids: Iterable[int]) -> None:
        """After InfluxDB accepted the rows (2xx). Ids already gone (dropped meanwhile) are ignored."""
        with self._transaction():
            # One statement for the whole batch (ids as a JSON array): a flush deletes 5,000 rows at a time, and a
            # statement per row spent a fifth of a replay's time in the sqlite3 module.
            self._db.execute("DELETE FROM queue WHERE id IN (SELECT value FROM json_each(?))",
                             (json.dumps([int(i) for i in ids]),))

    def quarantine(self, ids: Sequence[int], reason: str, *, now_ns: int | None = None) -> None:
        """Moves rows InfluxDB refused as malformed out of the queue, with the server's reason."""
        stamp = time.time_ns() if now_ns is None else now_ns
        with self._transaction():
            for i in ids:
                self._db.execute(
                    "INSERT INTO quarantine (id, line, created_ns, bytes, quarantined_ns, reason) "
                    "SELECT id, line, created_ns, bytes, ?, ? FROM queue WHERE id = ?",
                    (stamp, reason, i),
                )
                self._db.execute("DELETE FROM queue WHERE id = ?", (i,))
            _trim(self._db, "quarantine", "quarantine_bytes", self.max_bytes // _QUARANTINE_SHARE)

    def quarantined(self, limit: int = 100) -> list[tuple[SpooledRow, str]]:
        """The most recently quarantined rows with their reasons, newest first (for `homeshore` diagnostics)."""
        cursor = self._db.execute(
            "SELECT id, line, created_ns, reason FROM quarantine ORDER BY quarantined_ns DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [(SpooledRow(i, line, created), reason) for i, line, created, reason in cursor]

    def stats(self) -> SpoolStats:
        with self._transaction("DEFERRED"):  # one snapshot for all the figures
            rows, oldest = self._db.execute("SELECT count(*), min(created_ns) FROM queue").fetchone()
            counters = dict(self._db.execute("SELECT name, value FROM counters"))
            (quarantined,) = self._db.execute("SELECT count(*) FROM quarantine").fetchone()
        return SpoolStats(rows, counters["queue_bytes"], counters["dropped"], quarantined, oldest)


def _trim(db: sqlite3.Connection, table: str, counter: str, limit_bytes: int) -> int:
    """Deletes the oldest rows of `table` until its bytes fit `limit_bytes`; returns how many."""
    (total,) = db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
    excess = total - limit_bytes
    if excess <= 0:
        return 0
    cutoff, freed = None, 0
    for row_id, size in db.execute(f"SELECT id, bytes FROM {table} ORDER BY id"):
        cutoff, freed = row_id, freed + size
        if freed >= excess:
            break
    return db.execute(f"DELETE FROM {table} WHERE id <= ?", (cutoff,)).rowcount


class _Transaction:
    """BEGIN IMMEDIATE (writes) or DEFERRED (a read snapshot) ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection, mode: str) -> None:
        self._db = db
        self._mode = mode

    def __enter__(self) -> None:
        self._db.execute(f"BEGIN {self._mode}")

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _create_private(path: Path) -> None:
    """The directory (0700) and an empty database file (0600) before SQLite opens it; SQLite gives its -wal
    and -shm files the database file's mode. Existing directories are left as their owner set them (systemd's
    StateDirectory= has its own mode), but a file we own is made private."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)  # mkdir's mode is masked by the umask
    # Never open a database file that exists: closing any descriptor of a file drops every POSIX lock this
    # process holds on it, the locks of SQLite's connections already open here included. Another process then
    # believed itself the last user, checkpointed and deleted the WAL this one was still writing into, and this
    # process's later commits were seen by no one and lost at restart. So the file is created only when missing
    # (O_EXCL), and an existing one is checked and made private by path.
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        status = os.stat(path)
        # POSIX only: Windows has no modes, the user's profile directory is private there already.
        if hasattr(os, "geteuid") and status.st_uid == os.geteuid() and status.st_mode & 0o077:
            os.chmod(path, 0o600)

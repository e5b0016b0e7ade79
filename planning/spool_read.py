"""Reading the agent's spool for a report (`map`, `diagnose`, `candidates`): the file opened read-only, so a report
made on a machine running the agent never holds its write lock nor changes a row; lines that cannot be parsed are
counted, not fatal (a quarantined line is not read)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from homeshore.collector.schema import Sample, from_line_protocol


class SourceError(Exception):
    """The source cannot be read at all; one line naming it."""


def spool_samples(path: Path, measurements: tuple[str, ...], missing: str) -> tuple[list[Sample], int]:
    """(the spool's samples of those measurements, lines that could not be parsed); `missing` says what to do
    when there is no spool at `path` (e.g. "run the agent first")."""
    if not path.is_file():
        raise SourceError(f"no local store at {path} ({missing}, or give spool:FILE)")
    samples, unreadable = [], 0
    where = " OR ".join("line LIKE ?" for _ in measurements)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        try:
            for (line,) in db.execute(f"SELECT line FROM queue WHERE {where}", [f"{m},%" for m in measurements]):
                try:
                    samples.append(from_line_protocol(line))
                except ValueError:
                    unreadable += 1
        finally:
            db.close()
    except sqlite3.Error as error:
        raise SourceError(f"cannot read the local store {path}: {error}") from None
    return samples, unreadable


def unsent_only_note(collector_url: str, what: str) -> str:
    """What the spool of an agent with a collector leaves out: it is an outbox holding only what is not yet sent.
    (The URL comes from a validated configuration, which refuses one carrying credentials.)"""
    return (f"the local store holds only samples not yet sent to the collector {collector_url}; {what} already "
            f"sent are not here: use --from influx --url {collector_url} for all of them")

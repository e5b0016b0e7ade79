"""Where `homeshore diagnose` reads one agent's call windows from: the local spool (a file, opened read-only, as
`map --from spool` does) or the collector (InfluxQL over /query). Both give CallWindows (planning/diagnosis.py)
of `call` points with phase "window" in since <= time <= until.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from homeshore.collector.query import QueryClient, quote_ident
from homeshore.collector.schema import from_line_protocol
from homeshore.planning.diagnosis import CallWindow, window_of
from homeshore.planning.map_source import SourceError


def spool_windows(path: Path, agent: str, since_ns: int, until_ns: int) -> tuple[list[CallWindow], int]:
    """(the agent's call windows in the time range, lines that could not be parsed) from the spool at `path`."""
    if not path.is_file():
        raise SourceError(f"no local store at {path} (run the agent first, or give spool:FILE)")
    windows, unreadable = [], 0
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        try:
            for (line,) in db.execute("SELECT line FROM queue WHERE line LIKE 'call,%'"):
                try:
                    sample = from_line_protocol(line)
                except ValueError:
                    unreadable += 1
                    continue
                if sample.tags.get("agent") == agent and since_ns <= sample.time_ns <= until_ns:
                    window = window_of(sample.tags, sample.fields, sample.time_ns)
                    if window is not None:
                        windows.append(window)
        finally:
            db.close()
    except sqlite3.Error as error:
        raise SourceError(f"cannot read the local store {path}: {error}") from None
    return windows, unreadable


def unsent_only_note(collector_url: str) -> str:
    """What the spool of an agent with a collector leaves out: it is an outbox holding only what is not yet sent."""
    return (f"the local store holds only samples not yet sent to the collector {collector_url}; call windows "
            f"already sent are not here: use --from influx --url {collector_url} for all of them")


def influx_windows(client: QueryClient, agent: str, since_ns: int, until_ns: int) -> list[CallWindow]:
    """Every `call` window point of the agent in the range, its tags grouped. The agent is a bound parameter;
    the times are integers made from datetimes, never user text. Raises QueryError."""
    statement = (f"SELECT * FROM {quote_ident('call')} WHERE {quote_ident('agent')} = $agent AND "
                 f"{quote_ident('phase')} = 'window' AND time >= {since_ns} AND time <= {until_ns} GROUP BY *")
    windows = []
    for series in client.query(statement, params={"agent": agent}):
        for row in series.values:
            values = dict(zip(series.columns, row))
            window = window_of(series.tags, values, int(values.pop("time")))
            if window is not None:
                windows.append(window)
    return windows

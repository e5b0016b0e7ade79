"""Where `homeshore diagnose` reads one agent's call windows from: the local spool (read-only: planning/spool_read.py) or the collector (InfluxQL over /query). Both give CallWindows (planning/diagnosis.py)
of `call` points with phase "window" in since <= time <= until.
"""

from __future__ import annotations

from pathlib import Path

from homeshore.collector.query import QueryClient, quote_ident
from homeshore.planning.diagnosis import CallWindow, window_of
from homeshore.planning.spool_read import spool_samples


def spool_windows(path: Path, agent: str, since_ns: int, until_ns: int) -> tuple[list[CallWindow], int]:
    """(the agent's call windows in the time range, lines that could not be parsed) from the spool at `path`."""
    samples, unreadable = spool_samples(path, ("call",), "run the agent first")
    windows = [window_of(s.tags, s.fields, s.time_ns) for s in samples
               if s.tags.get("agent") == agent and since_ns <= s.time_ns <= until_ns]
    return [window for window in windows if window is not None], unreadable


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

"""Where `homeshore candidates` reads the candidate checks from: the local spool (read-only: planning/spool_read.py) or the collector (InfluxQL over /query). Both give CandidateChecks
(planning/candidates.py) of `readiness` points at or after `since_ns` that carry a candidate reference.
"""

from __future__ import annotations

from pathlib import Path

from homeshore.collector.query import QueryClient, quote_ident
from homeshore.planning.candidates import CandidateCheck, candidate_check
from homeshore.planning.spool_read import spool_samples


def spool_checks(path: Path, since_ns: int) -> tuple[list[CandidateCheck], int]:
    """(the candidate checks since `since_ns`, lines that could not be parsed) from the spool at `path`."""
    samples, unreadable = spool_samples(path, ("readiness",), "run `homeshore check --candidate REF` first")
    checks = [candidate_check(s.tags, s.fields, s.time_ns) for s in samples if s.time_ns >= since_ns]
    return [check for check in checks if check is not None], unreadable


def influx_checks(client: QueryClient, since_ns: int) -> list[CandidateCheck]:
    """Every readiness point since `since_ns` with a candidate, its tags grouped. The time is an integer made
    from a datetime, never user text. Raises QueryError."""
    statement = (f"SELECT * FROM {quote_ident('readiness')} WHERE {quote_ident('candidate')} =~ /./ "
                 f"AND time >= {since_ns} GROUP BY *")
    checks = []
    for series in client.query(statement):
        for row in series.values:
            values = {key: value for key, value in zip(series.columns, row) if value is not None}
            check = candidate_check(series.tags, values, int(values.pop("time")))
            if check is not None:
                checks.append(check)
    return checks

"""Where `homeshore map` reads homes' tests from: the local spool (a file) or the collector (InfluxQL over /query).

Both give the schema's `bandwidth` and `voip_test` points in a time window; planning/home_tests.py turns them
into HomeTests. The spool is opened read-only, so a map drawn on a machine running the agent never holds its
write lock nor changes a row; lines it cannot parse are counted, not fatal (a quarantined line is not read).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from homeshore.collector.query import QueryClient, quote_ident
from homeshore.planning.home_tests import sample_home_tests
from homeshore.planning.map_model import HomeTest
from homeshore.planning.spool_read import SourceError, spool_samples

__all__ = ["SourceError", "influx_tests", "spool_tests", "unsent_only_note"]

MEASUREMENTS = ("bandwidth", "voip_test")
FIELDS = {
    "bandwidth": ("download_mbps", "upload_mbps", "idle_rtt_ms", "loaded_rtt_down_ms", "loaded_rtt_up_ms",
                  "jitter_ms", "loss_pct"),
    "voip_test": ("mos",),
}
TAGS = ("agent", "area", "conn")


def spool_tests(path: Path, since: datetime, until: datetime) -> tuple[list[HomeTest], int]:
    """(tests in since < time <= until, lines that could not be parsed) from the spool at `path`."""
    samples, unreadable = spool_samples(path, MEASUREMENTS, "run `homeshore check` or the agent first")
    records = [(s.measurement, s.tags, s.fields, s.time_ns) for s in samples]
    return sample_home_tests(_in_window(records, since, until)), unreadable


def unsent_only_note(collector_url: str) -> str:
    """What a map from the spool of an agent with a collector leaves out, in one line: the spool is an outbox
    that holds only the samples not yet sent, so the tests already sent are missing; the collector has them.
    (The URL comes from a validated configuration, which refuses one carrying credentials.)"""
    return (f"the local store holds only samples not yet sent to the collector {collector_url}; tests already "
            f"sent are not in this map: use --from influx --url {collector_url} for the whole window")


def influx_tests(client: QueryClient, since: datetime, until: datetime) -> list[HomeTest]:
    """Every bandwidth and voip_test point in the window, grouped by the tags a home's tests carry.

    Times are integers of nanoseconds written into the statement (InfluxQL binds values, not time literals, in
    every version); they come from datetimes, never from user text. Raises QueryError."""
    start_ns, end_ns = _ns(since), _ns(until)
    records: list[tuple[str, dict[str, str], dict[str, Any], int]] = []
    for measurement in MEASUREMENTS:
        columns = ", ".join(quote_ident(name) for name in FIELDS[measurement])
        statement = (f"SELECT {columns} FROM {quote_ident(measurement)} WHERE time > {start_ns} AND "
                     f"time <= {end_ns} GROUP BY {', '.join(quote_ident(tag) for tag in TAGS)}")
        for series in client.query(statement):
            tags = dict(series.tags)
            for row in series.values:
                values = dict(zip(series.columns, row))
                records.append((measurement, tags, values, int(values.pop("time"))))
    return sample_home_tests(records)


def _in_window(records: list[tuple[str, Any, Any, int]], since: datetime, until: datetime) -> Iterator[tuple]:
    start_ns, end_ns = _ns(since), _ns(until)
    return (record for record in records if start_ns < record[3] <= end_ns)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000

"""One flush pass: spooled lines to InfluxDB, in batches, until the spool is empty, the deadline passes, or
the server cannot take more for now.

Per batch (the oldest `batch_size` rows):
- OK: the rows are deleted. No row is ever deleted before a 2xx that covered it (DESIGN.md, "Durability").
- MALFORMED (400/422): the bad lines are found by bisection: each half is written again, a half that is
  accepted is deleted, a half that is refused is split further, and only a line refused on its own is
  quarantined, with the server's reason. Resending lines is harmless because writes are idempotent: the same
  series and timestamp overwrite the point with the same values (DESIGN.md, "Durability"). That matters on
  InfluxDB 1.x, which stores the valid lines of a batch that has a malformed one and answers 400 "partial
  write" (tests/collector/test_flush.py checks it against influxd 1.6), and on InfluxDB 2.x/3.x, which may
  store none of them: either way every valid line ends up stored once.
- TOO_LARGE (413): the batch size is halved for the rest of this pass, and the batch itself is split in halves
  as above until the parts pass; a single line too large is quarantined (no server will ever take it, and it
  would block the queue), so one huge line does not shrink the whole pass to one line per request.
- RETRY or REFUSED: the pass stops and returns that result as `failure`; the rows stay in the spool for the
  next pass (the caller backs off, collector/backoff.py).

Bisection costs about 2·log2(batch) extra writes per malformed line, which is cheap: the schema refuses bad
samples before they reach the spool (collector/schema.py), so malformed lines are rare.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from homeshore.collector.spool import Spool, SpooledRow
from homeshore.collector.writer import WriteOutcome, WriteResult, Writer


@dataclass(frozen=True)
class FlushReport:
    sent: int  # rows delivered (2xx) and deleted
    quarantined: int  # rows moved to quarantine as malformed or too large alone
    batches: int  # batches taken from the spool (bisection's extra writes not counted)
    failure: WriteResult | None  # the RETRY/REFUSED result that stopped the flush; None when emptied or out of time


@dataclass
class _Tally:
    sent: int = 0
    quarantined: int = 0


def flush(spool: Spool, writer: Writer, *, batch_size: int = 5000, deadline_s: float | None = None,
          clock: Callable[[], float] = time.monotonic) -> FlushReport:
    """Sends the spool's rows through `writer`, oldest first.

    `deadline_s` is a point in time on `clock` (monotonic seconds), not a duration: no new batch starts after
    it (the batch under way, and its bisection, is finished)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    tally = _Tally()
    batches = 0
    size = batch_size
    while deadline_s is None or clock() < deadline_s:
        rows = spool.pending(size)
        if not rows:
            break
        batches += 1
        result = writer.write([row.line for row in rows])
        outcome = result.outcome
        if outcome is WriteOutcome.OK:
            spool.delete([row.id for row in rows])
            tally.sent += len(rows)
        elif outcome in (WriteOutcome.MALFORMED, WriteOutcome.TOO_LARGE):
            if outcome is WriteOutcome.TOO_LARGE:
                size = max(1, len(rows) // 2)  # for the batches after this one
            failure = _bisect(spool, writer, rows, result, tally)
            if failure is not None:
                return FlushReport(tally.sent, tally.quarantined, batches, failure)
        else:
            return FlushReport(tally.sent, tally.quarantined, batches, result)
    return FlushReport(tally.sent, tally.quarantined, batches, None)


def _bisect(spool: Spool, writer: Writer, rows: Sequence[SpooledRow], result: WriteResult,
            tally: _Tally) -> WriteResult | None:
    """`rows` were refused together (MALFORMED or TOO_LARGE, in `result`): delivers the halves the server
    takes, quarantines the lines it refuses alone; returns a RETRY/REFUSED that stopped it, else None."""
    if len(rows) == 1:
        spool.quarantine([rows[0].id], result.message or result.outcome.value)
        tally.quarantined += 1
        return None
    middle = len(rows) // 2
    for half in (rows[:middle], rows[middle:]):
        answer = writer.write([row.line for row in half])
        if answer.outcome is WriteOutcome.OK:
            spool.delete([row.id for row in half])  # delivered now: kept progress if a later half fails
            tally.sent += len(half)
        elif answer.outcome in (WriteOutcome.MALFORMED, WriteOutcome.TOO_LARGE):
            failure = _bisect(spool, writer, half, answer, tally)
            if failure is not None:
                return failure
        else:
            return answer
    return None

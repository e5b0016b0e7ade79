"""Delivery: the spool thread, the only one with a `Spool` in this process. It appends what the sources queued
(durable from then on) and ships the spool (collector/flush.py) every `flush_interval_s` +-20 %, after a
failure waiting what `Backoff` says instead. It logs one line when writing starts failing and one when it
recovers, never one per attempt.

Why one `Spool` per process rather than one per thread: opening a second `Spool` in a process (its
`_create_private` opens and closes the database file) drops the POSIX locks SQLite's first connection holds on
that file, and then a `homeshore check` or `agent status` closing its own connection believes it is the last
one, checkpoints and deletes the WAL file that this process is still writing into: what the agent commits
afterwards is invisible to every other process and lost at restart. One connection avoids it whatever the
spool module does, and SQLite's one-thread-per-connection rule holds trivially. A flush pass is cut into
passes of `FLUSH_SLICE_S`, so appends never wait long behind a catch-up.
"""

from __future__ import annotations

import logging
import math
import random
import sqlite3
import threading
import time
from collections.abc import Callable

from homeshore.collector.schema import Sample
from homeshore.collector.spool import Spool
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.runtime import Runtime
from homeshore.probe.agent_schedule import flush_delay_s

log = logging.getLogger("homeshore.agent")

FLUSH_SLICE_S = 1.0  # a flush pass stops starting batches after this, lets queued appends in, and goes on
DROP_LOG_EVERY_S = 60.0


class SpoolThread:
    """The agent's queue and spool thread (a part of `Agent`): any thread appends, one thread stores and
    flushes."""

    runtime: Runtime
    health: Health
    rng: random.Random
    spool_stats: object
    _queue: list[Sample]
    _queue_lock: threading.Lock
    _queue_ready: threading.Event
    _final_deadline_s: float | None
    _last_drop_log_s: float

    def _append(self, samples: list[Sample]) -> None:
        """Hands samples to the spool thread (any thread may call it)."""
        if samples:
            with self._queue_lock:
                self._queue.extend(samples)
            self._queue_ready.set()

    def _take_queue(self) -> list[Sample]:
        with self._queue_lock:
            samples, self._queue = self._queue, []
        return samples

    def _store(self, spool: Spool) -> None:
        """The spool thread: appends what the sources queued, in one transaction."""
        self._queue_ready.clear()
        samples = self._take_queue()
        if samples:
            try:
                dropped = spool.append(samples)
            except sqlite3.Error:
                with self._queue_lock:  # kept for the next attempt (a full disk, a lock held too long)
                    self._queue[:0] = samples
                raise
            self.health.spooled_samples(samples, dropped)
            if dropped and time.monotonic() - self._last_drop_log_s >= DROP_LOG_EVERY_S:
                self._last_drop_log_s = time.monotonic()
                log.warning("spool full (%.1f MB): the oldest samples are being dropped (%d now)",
                            self.runtime.spool_max_bytes / 2**20, dropped)
        self.spool_stats = spool.stats()

    def _run_spool(self, stop: threading.Event) -> None:
        from homeshore.collector.backoff import Backoff
        from homeshore.probe.agent_writer import writer_for

        settings = self.runtime.config.collector
        writer = None
        try:
            writer = writer_for(settings, self.runtime.credentials)
        except ValueError as error:
            log.error("collector: %s; samples stay in the spool", error)
            self.health.update(write_state="failing", last_write_error=str(error), last_write_error_at=time.time())
        if writer is None and not settings.url:
            self.health.update(write_state="not configured", collector="")
            log.info("no collector configured: samples stay in the local spool %s", self.runtime.spool_path)
        elif writer is not None:
            self.health.update(write_state="pending", collector=writer.description)
        interval_s = settings.flush_interval_s
        backoff = Backoff(base_s=min(1.0, interval_s), cap_s=max(1.0, 30 * interval_s), rng=self.rng)
        flusher = Flusher(self.health, writer, settings.batch_size) if writer is not None else None
        try:
            with Spool(self.runtime.spool_path, max_bytes=self.runtime.spool_max_bytes) as spool:
                self._store(spool)
                flush_at = time.monotonic() + flush_delay_s(interval_s, self.rng)
                while not stop.is_set():
                    wait_s = 0.5 if flusher is None else min(0.5, flush_at - time.monotonic())
                    self._queue_ready.wait(max(0.0, wait_s))
                    self._guarded(self._store, spool)
                    if flusher is None or stop.is_set() or time.monotonic() < flush_at:
                        continue
                    failure, more = flusher.flush(spool, deadline_s=time.monotonic() + FLUSH_SLICE_S, stop=stop)
                    if failure is not None:
                        flush_at = time.monotonic() + backoff.delay_s(failure)
                    else:
                        backoff.reset()
                        flush_at = time.monotonic() + (0.0 if more else flush_delay_s(interval_s, self.rng))
                self._guarded(self._store, spool)  # what the sources queued before they stopped
                if flusher is not None and self._final_deadline_s is not None:
                    flusher.flush(spool, deadline_s=self._final_deadline_s, stop=None)
                self._guarded(self._store, spool)
        finally:
            if writer is not None:
                writer.close()

    def _guarded(self, action: Callable[[Spool], None], spool: Spool) -> None:
        try:
            action(spool)
        except sqlite3.Error as error:
            log.error("spool %s: %s", self.runtime.spool_path, error)


class Flusher:
    """One flush pass and its bookkeeping: the write state, one log line per change of it."""

    def __init__(self, health: Health, writer, batch_size: int) -> None:
        self.health = health
        self.writer = writer
        self.batch_size = batch_size
        self.failing_since: float | None = None
        self.failures = 0
        self.last_message = ""

    def flush(self, spool: Spool, *, deadline_s: float, stop: threading.Event | None):
        """One pass until `deadline_s` (monotonic); returns (the failure, a WriteResult, that stopped it or None,
        whether rows are left to send at once)."""
        from homeshore.collector.flush import flush
        from homeshore.collector.writer import WriteOutcome, WriteResult

        health = self.health

        def clock() -> float:  # a stop request ends a regular pass after its current batch
            return math.inf if stop is not None and stop.is_set() else time.monotonic()

        try:
            report = flush(spool, self.writer, batch_size=self.batch_size, deadline_s=deadline_s, clock=clock)
        except (sqlite3.Error, OSError) as error:
            failure = WriteResult(WriteOutcome.RETRY, None, f"spool: {error}")
        else:
            with health.lock:
                health.sent += report.sent
                health.quarantined += report.quarantined
                if report.sent:
                    health.last_write_ok = time.time()
            if report.quarantined:
                log.warning("%d malformed samples refused by the collector were quarantined", report.quarantined)
            failure = report.failure
        if failure is None:
            if self.failing_since is not None:
                log.info("collector writes recovered after %d failed attempts over %.0f s", self.failures,
                         time.monotonic() - self.failing_since)
            self.failing_since, self.failures, self.last_message = None, 0, ""
            if report.sent or health.write_state != "ok":
                health.update(write_state="ok")
            return None, bool(spool.pending(1))
        self.failures += 1
        with health.lock:
            health.write_errors += 1
        health.update(write_state="failing", last_write_error=failure.message, last_write_error_at=time.time())
        kind = failure.outcome.value
        if self.failing_since is None or kind != self.last_message:
            advice = ("check the collector credentials and their WRITE permission"
                      if failure.outcome is WriteOutcome.REFUSED else "will retry")
            log.error("cannot write to %s: %s (%s); samples are kept in the spool", self.writer.description,
                      failure.message, advice)
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_message = kind
        return failure, False

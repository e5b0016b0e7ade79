"""The agent daemon (`homeshore agent run`): sources on their own schedules into the spool, one flusher from the
spool to the collector.

Telegraf's shape (STYLE.md): each source runs on its own thread and its own ticker; a collection that overruns
its interval skips the ticks it covered and says so, runs never stack. Sources hand their samples to one spool
thread, the only one with a `Spool` in this process: it appends them (durable from then on) and ships the
spool (collector/flush.py) every `flush_interval_s` +-20 %, after a failure waiting what `Backoff` says
instead. It logs one line when writing starts failing and one when it recovers, never one per attempt.

Why one `Spool` per process rather than one per thread: opening a second `Spool` in a process (its
`_create_private` opens and closes the database file) drops the POSIX locks SQLite's first connection holds on
that file, and then a `homeshore check` or `agent status` closing its own connection believes it is the last
one, checkpoints and deletes the WAL file that this process is still writing into: what the agent commits
afterwards is invisible to every other process and lost at restart. One connection avoids it whatever the
spool module does, and SQLite's one-thread-per-connection rule holds trivially. A flush pass is cut into
passes of `FLUSH_SLICE_S`, so appends never wait long behind a catch-up.

Sources:
- host: every `host.interval_s`, the link, CPU, memory and traffic of the interface towards the collector;
- calls: live capture (`capture.enabled`) through the call tracker; a capture that cannot start (no
  CAP_NET_RAW) is logged once and shown in the status, and the other sources carry on;
- speed test: a readiness check (probe/check_run.py) at random times around `speedtest.interval_h`
  (probe/agent_schedule.py), never while a call is in progress: it waits for the call to end. It writes what
  `homeshore check` writes (`readiness`, `bandwidth`, `voip_test`: collector/check_samples.py);
- self-metrics: the `agent` measurement every minute, and once more at stop.

Stopping (SIGTERM, SIGINT): sources stop (the capture closes the calls in progress, their end samples are
spooled), a last `agent` sample, one last flush with a deadline, exit 0, all within `STOP_BUDGET_S`. What the
last flush cannot send stays in the spool for the next start. Reloading (SIGHUP): the configuration is read and
validated again; an invalid one is logged and the running one kept; a valid one restarts the parts it changes.

The main thread only waits for signals and rewrites the status file (probe/agent_status.py).
"""

from __future__ import annotations

import logging
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from homeshore.collector.schema import Sample
from homeshore.collector.spool import Spool
from homeshore.probe.agent_writer import WRITE_TIMEOUT_S
from homeshore.probe.agent_config import (AgentConfig, ConfigError, Credentials, collector_credentials,
                                          load_config)
from homeshore.probe.agent_samples import SelfMetrics, agent_sample, common_tags, host_sample
from homeshore.probe.agent_schedule import (SpeedtestAction, first_speedtest_s, flush_delay_s, next_speedtest_s,
                                            next_tick, speedtest_action)
from homeshore.probe.agent_status import WRITE_EVERY_S, write_status

log = logging.getLogger("homeshore.agent")

SELF_METRICS_INTERVAL_S = 60.0
FLUSH_SLICE_S = 1.0  # a flush pass stops starting batches after this, lets queued appends in, and goes on
STOP_BUDGET_S = 4.5  # SIGTERM to exit; systemd's and the limit is 5 s, interpreter exit included
SOURCES_STOP_S = 1.5  # of it, for the sources to stop (the capture loop ticks once a second)
INTERFACE_REFRESH_S = 60.0  # the route to the collector is looked up again this often (Wi-Fi <-> cable)
ROUTE_PROBE_ADDRESS = "192.0.2.1"  # TEST-NET-1: only routed by the default route; connecting sends nothing
DROP_LOG_EVERY_S = 60.0
RESTART_WAIT_S = 5.0  # a source's time to stop when a reload restarts it


class AgentError(Exception):
    """The agent cannot start (state directory unusable); one line."""


@dataclass(frozen=True)
class Runtime:
    """What one configuration resolves to on this machine."""

    config: AgentConfig
    state_dir: Path
    spool_path: Path
    spool_max_bytes: int
    tags: Mapping[str, str]
    credentials: Credentials = field(repr=False)


def resolve(config: AgentConfig, env: Mapping[str, str]) -> Runtime:
    """The state directory (created 0700), the agent's id and the collector's secrets. Raises ConfigError for
    a secret that cannot be read, AgentError for a state directory that cannot be used."""
    from homeshore.probe.agent_state import place_of

    credentials = collector_credentials(config.collector, env) if config.collector.url else Credentials()
    try:
        place = place_of(config, env)
        if not place.state_dir.exists():
            place.state_dir.mkdir(mode=0o700, parents=True)
        name = place.agent_id()
    except (ValueError, OSError) as error:
        raise AgentError(f"state directory: {error}") from None
    return Runtime(config, place.state_dir, place.spool_path, max(1, int(config.agent.spool_max_mb * 2**20)),
                   common_tags(name, config.agent.area, config.agent.site), credentials)


class _Stopped(Exception):
    """Raised inside the capture loop to end it (its `finally` closes the calls in progress)."""


class Health:
    """What the threads report for the status file and the self-metrics; every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spooled: dict[str, int] = {}  # samples appended by this process, per measurement
        self.dropped_here = 0  # rows the spool bound dropped during this process's appends
        self.sent = 0
        self.quarantined = 0
        self.write_errors = 0
        self.write_state = "not configured"  # not configured | pending | ok | failing
        self.collector = ""
        self.last_write_ok: float | None = None
        self.last_write_error: str | None = None
        self.last_write_error_at: float | None = None
        self.speedtest: dict[str, Any] = {"state": "not scheduled", "last_time": None, "last_ok": None,
                                          "last_error": None, "next_time": None}
        self.capture: dict[str, Any] = {"state": "disabled", "interfaces": [], "packets": None, "drops": None,
                                        "error": None, "calls_in_progress": 0}
        self.interface: str | None = None
        self.conn = "unknown"
        self.changed = threading.Event()  # something worth rewriting the status file for

    def update(self, **values: Any) -> None:
        with self.lock:
            for key, value in values.items():
                setattr(self, key, value)
        self.changed.set()

    def set_in(self, table: str, **values: Any) -> None:
        with self.lock:
            getattr(self, table).update(values)
        self.changed.set()

    def spooled_samples(self, samples: list[Sample], dropped: int) -> None:
        with self.lock:
            for sample in samples:
                self.spooled[sample.measurement] = self.spooled.get(sample.measurement, 0) + 1
            self.dropped_here += dropped

    def call_in_progress(self) -> bool:
        with self.lock:
            return self.capture["calls_in_progress"] > 0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "samples_spooled": dict(self.spooled), "dropped_by_bound": self.dropped_here,
                "collector": {"description": self.collector, "state": self.write_state, "sent": self.sent,
                              "quarantined": self.quarantined, "write_errors": self.write_errors,
                              "last_write_ok": self.last_write_ok, "last_write_error": self.last_write_error,
                              "last_write_error_at": self.last_write_error_at},
                "speedtest": dict(self.speedtest), "capture": dict(self.capture),
                "host": {"interface": self.interface, "conn": self.conn},
            }


class _Source:
    """A thread with its own stop event."""

    def __init__(self, name: str, target: Callable[[threading.Event], None]) -> None:
        self.name = name
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(target,), name=f"agent-{name}", daemon=True)

    def _run(self, target: Callable[[threading.Event], None]) -> None:
        try:
            target(self.stop)
        except Exception as error:  # a source must never take the agent down; say which and why
            log.error("%s source failed and stopped: %s: %s", self.name, type(error).__name__, error)


class Agent:
    """The daemon. `run()` blocks in the calling (main) thread until `request_stop()`; the CLI's signal
    handlers call `request_stop()` (SIGTERM, SIGINT) and `request_reload()` (SIGHUP)."""

    def __init__(self, runtime: Runtime, *, config_path: Path | None, env: Mapping[str, str] = os.environ,
                 self_metrics_interval_s: float = SELF_METRICS_INTERVAL_S,
                 speedtest_plan: Callable[[str | None], Any] | None = None,
                 rng: random.Random | None = None) -> None:
        self.runtime = runtime
        self.config_path = config_path
        self.env = env
        self.self_metrics_interval_s = self_metrics_interval_s
        self.speedtest_plan = speedtest_plan
        self.rng = rng if rng is not None else random.Random()  # seeded from the OS: agents never in step
        self.health = Health()
        self.started = time.time()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        self._sources: dict[str, _Source] = {}
        self._final_deadline_s: float | None = None  # set at stop: the spool thread's last flush ends by then
        self._queue: list[Sample] = []  # samples the sources made, waiting for the spool thread
        self._queue_lock = threading.Lock()
        self._queue_ready = threading.Event()
        self.spool_stats = None  # SpoolStats after the spool thread's last operation
        self._last_drop_log_s = -math.inf

    # --- control, from signal handlers -------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._wake.set()

    # --- main thread -----------------------------------------------------------------------------------------
    def run(self) -> int:
        config = self.runtime.config
        log.info("started (pid %d): agent %s, state %s, config from %s", os.getpid(), self.runtime.tags["agent"],
                 self.runtime.state_dir, ", ".join(config.sources) or "defaults")
        self._start_all()
        next_status = 0.0
        while not self._stop.is_set():
            if self._reload.is_set():
                self._reload.clear()
                self._apply_reload()
            now = time.monotonic()
            if now >= next_status or self.health.changed.is_set():
                self.health.changed.clear()
                self._write_status()
                next_status = now + WRITE_EVERY_S
            self._wake.wait(0.5)
            self._wake.clear()
        self._shutdown()
        return 0

    def _shutdown(self) -> None:
        started = time.monotonic()
        log.info("stopping")
        spool_thread = self._sources.pop("spool", None)
        for source in self._sources.values():
            source.stop.set()
        for source in self._sources.values():
            source.thread.join(max(0.0, started + SOURCES_STOP_S - time.monotonic()))
            if source.thread.is_alive():
                log.warning("%s source did not stop in time; its current work is abandoned", source.name)
        self._append([self._self_sample()])  # the last word: counters as they stand
        if spool_thread is not None:
            self._final_deadline_s = started + STOP_BUDGET_S - 0.5
            spool_thread.stop.set()
            self._queue_ready.set()
            spool_thread.thread.join(max(0.0, started + STOP_BUDGET_S - 0.2 - time.monotonic()))
            if spool_thread.thread.is_alive():
                log.warning("exiting with a write in progress; what it did not send stays in the spool")
        stats = self.spool_stats
        log.info("stopped: %s samples waiting in the spool", stats.rows if stats else "unknown")
        self._write_status(stopped=True)

    def _write_status(self, *, stopped: bool = False) -> None:
        runtime = self.runtime
        stats = self.spool_stats
        spool_view: dict[str, Any] | None = None
        if stats is not None:
            spool_view = {"rows": stats.rows, "bytes": stats.bytes, "dropped": stats.dropped,
                          "quarantined": stats.quarantined, "oldest_created_ns": stats.oldest_created_ns,
                          "max_bytes": runtime.spool_max_bytes}
        status = {
            "pid": os.getpid(), "started": self.started, "updated": time.time(), "stopped": stopped,
            "config_sources": list(runtime.config.sources), "agent": runtime.tags.get("agent", ""),
            "area": runtime.config.agent.area, "site": runtime.config.agent.site,
            "state_dir": str(runtime.state_dir), "spool_path": str(runtime.spool_path), "spool": spool_view,
            **self.health.snapshot(),
        }
        try:
            write_status(runtime.state_dir, status)
        except OSError as error:
            log.warning("cannot write the status file in %s: %s", runtime.state_dir, error.strerror or error)

    # --- sources -------------------------------------------------------------------------------------------
    def _start_all(self) -> None:
        for name in ("spool", "host", "self", "capture", "speedtest"):
            self._start(name)

    def _start(self, name: str) -> None:
        config = self.runtime.config
        targets: dict[str, Callable[[threading.Event], None]] = {
            "host": lambda stop: self._ticker(stop, "host", config.host.interval_s, _HostCollector(self)),
            "self": lambda stop: self._ticker(stop, "self-metrics", self.self_metrics_interval_s,
                                              lambda: [self._self_sample()]),
            "capture": self._run_capture,
            "speedtest": self._run_speedtests,
            "spool": self._run_spool,
        }
        if name == "capture" and not config.capture.enabled:
            self.health.set_in("capture", state="disabled", error=None, calls_in_progress=0)
            return
        source = _Source(name, targets[name])
        self._sources[name] = source
        source.thread.start()

    def _restart(self, names: list[str]) -> None:
        for name in names:
            old = self._sources.pop(name, None)
            if old is not None:
                old.stop.set()
                self._queue_ready.set()
                # The spool thread may be in a write that takes its whole timeout: a second Spool beside it
                # is what this module avoids (see the module's docstring), so it gets that long to finish.
                old.thread.join(RESTART_WAIT_S + (WRITE_TIMEOUT_S if name == "spool" else 0.0))
                if old.thread.is_alive():
                    log.warning("%s source is still busy; the new one starts beside it", name)
        for name in names:
            self._start(name)

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

    def _ticker(self, stop: threading.Event, name: str, interval_s: float,
                collect: Callable[[], list[Sample]]) -> None:
        due = time.monotonic() + interval_s
        while not stop.wait(max(0.0, due - time.monotonic())):
            try:
                self._append(collect())
            except (OSError, ValueError) as error:
                log.warning("%s collection failed: %s", name, error)
            tick = next_tick(due, time.monotonic(), interval_s)
            if tick.skipped:
                log.warning("%s collection took longer than its %g s interval: %d tick(s) skipped",
                            name, interval_s, tick.skipped)
            due = tick.due_s

    def _self_sample(self) -> Sample:
        stats = self.spool_stats
        with self.health.lock:
            capture = self.health.capture
            metrics = SelfMetrics(stats.rows if stats else 0, stats.dropped if stats else 0,
                                  self.health.write_errors, capture["packets"], capture["drops"])
        return agent_sample(metrics, self.runtime.tags, time.time_ns())

    def route_target(self) -> str:
        """Where the host sample's interface leads: the collector, else the speed-test server, else the
        default route."""
        config = self.runtime.config
        for url in (config.collector.url, "" if config.speedtest.server == "ookla" else config.speedtest.server):
            host = urlsplit(url).hostname if url else None
            if host:
                return host
        return ROUTE_PROBE_ADDRESS

    def _run_capture(self, stop: threading.Event) -> None:
        from homeshore.probe.agent_samples import call_sample
        from homeshore.quality.calls import CallTracker
        from homeshore.quality.live import CaptureError, LiveCapture, local_addresses
        from homeshore.quality.monitor import monitor_calls

        interface = self.runtime.config.capture.interface
        try:
            capture = LiveCapture(None if interface == "any" else interface)
        except (CaptureError, OSError) as error:
            log.error("live call capture cannot start: %s; the other sources carry on", error)
            self.health.set_in("capture", state=f"failed: {error}", error=str(error), calls_in_progress=0)
            return
        self.health.set_in("capture", state="running", error=None, interfaces=list(capture.interfaces),
                           packets=0, drops=0)
        log.info("live call capture on %s", ", ".join(capture.interfaces))
        tracker = CallTracker(local_addresses())

        def on_samples(calls) -> None:
            tags, conn = self.runtime.tags, self.health.conn
            self._append([call_sample(c, tags, conn) for c in calls])

        def on_tick(tracker: CallTracker, stats) -> None:
            self.health.set_in("capture", packets=stats.packets, drops=stats.drops,
                               calls_in_progress=len(tracker.calls_in_progress()))
            if stop.is_set():
                raise _Stopped

        def sleep(seconds: float) -> None:
            if stop.wait(seconds):
                raise _Stopped

        try:
            monitor_calls(capture, tracker, on_samples=on_samples, on_tick=on_tick, sleep=sleep)
        except _Stopped:
            pass
        except (OSError, CaptureError) as error:
            log.error("live call capture stopped: %s", error)
            self.health.set_in("capture", state=f"failed: {error}", error=str(error))
        finally:
            stats = capture.stats()
            capture.close()
            self.health.set_in("capture", packets=stats.packets, drops=stats.drops, calls_in_progress=0)

    def _run_speedtests(self, stop: threading.Event) -> None:
        settings = self.runtime.config.speedtest
        due = first_speedtest_s(time.monotonic(), settings.interval_h, self.rng)
        self._publish_next_speedtest(due)
        deferred = False
        while not stop.is_set():
            action = speedtest_action(time.monotonic(), due, self.health.call_in_progress())
            if action is SpeedtestAction.WAIT:
                stop.wait(min(1.0, max(0.0, due - time.monotonic())))
                continue
            if action is SpeedtestAction.DEFER:
                if not deferred:
                    log.info("speed test deferred: a call is in progress")
                    self.health.set_in("speedtest", state="deferred: call in progress")
                    deferred = True
                stop.wait(1.0)
                continue
            deferred = False
            self._speedtest(settings.server)
            due = next_speedtest_s(time.monotonic(), settings.interval_h, self.rng)
            self._publish_next_speedtest(due)

    def _publish_next_speedtest(self, due_s: float) -> None:
        self.health.set_in("speedtest", state="scheduled", next_time=time.time() + due_s - time.monotonic())

    def _speedtest(self, server_setting: str) -> None:
        from homeshore.planning.readiness import DEFAULT_POLICY
        from homeshore.probe.agent_samples import speedtest_samples
        from homeshore.probe.check_pipeline import checked_home
        from homeshore.probe.check_run import CheckCannotStart, CheckPlan

        server = None if server_setting == "ookla" else server_setting
        plan = self.speedtest_plan(server) if self.speedtest_plan else CheckPlan(server)
        self.health.set_in("speedtest", state="running")
        log.info("speed test against %s", server_setting)
        try:
            document = checked_home(plan, DEFAULT_POLICY, area=self.runtime.config.agent.area or None)
            self._append(speedtest_samples(document, self.runtime.tags))
        except (CheckCannotStart, OSError, ValueError) as error:
            log.warning("speed test failed: %s", error)
            self.health.set_in("speedtest", last_time=time.time(), last_ok=False, last_error=str(error))
            return
        log.info("speed test done: %s, download %s Mbit/s, upload %s Mbit/s", document["verdict"],
                 document["measurements"]["download_goodput_mbps"], document["measurements"]["upload_goodput_mbps"])
        self.health.set_in("speedtest", last_time=time.time(), last_ok=True, last_error=None)

    # --- the spool thread: appends and flushes ----------------------------------------------------------------
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
        flusher = _Flusher(self, writer, settings.batch_size) if writer is not None else None
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

    # --- reload ----------------------------------------------------------------------------------------------
    def _apply_reload(self) -> None:
        try:
            runtime = resolve(load_config(self.config_path, self.env), self.env)
        except (ConfigError, AgentError) as error:
            log.error("reload refused, the running configuration is kept: %s", error)
            return
        old, new = self.runtime.config, runtime.config
        credentials_changed = runtime.credentials != self.runtime.credentials
        moved = (runtime.state_dir, runtime.spool_path, runtime.spool_max_bytes) != (
            self.runtime.state_dir, self.runtime.spool_path, self.runtime.spool_max_bytes)
        self.runtime = runtime
        names = ["host", "self"]  # cheap: they restart on every reload
        if moved or old.capture != new.capture:
            names.append("capture")
        if moved or old.speedtest != new.speedtest:
            names.append("speedtest")
        if moved or old.collector != new.collector or credentials_changed:
            names.insert(0, "spool")
        self._restart(names)
        log.info("configuration reloaded from %s; restarted: %s", ", ".join(new.sources) or "defaults",
                 ", ".join(names))
        self.health.changed.set()


class _Flusher:
    """One flush pass and its bookkeeping: the write state, one log line per change of it."""

    def __init__(self, agent: Agent, writer, batch_size: int) -> None:
        self.agent = agent
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

        health = self.agent.health

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


class _HostCollector:
    """The host source: a traffic meter running from one tick to the next on the interface in use."""

    def __init__(self, agent: Agent) -> None:
        from homeshore.probe.host_traffic import TrafficMeter

        self.agent = agent
        self._meter_type = TrafficMeter
        self._interface: str | None = None
        self._looked_up_s = -math.inf
        self._meter = self._new_meter()

    def _new_meter(self):
        from homeshore.probe.host import interface_towards

        if time.monotonic() - self._looked_up_s >= INTERFACE_REFRESH_S:
            self._interface = interface_towards(self.agent.route_target())
            self._looked_up_s = time.monotonic()
            self.agent.health.update(interface=self._interface)
        return self._meter_type(self._interface or "").start()

    def __call__(self) -> list[Sample]:
        from homeshore.probe.host import host_context

        reading = self._meter.stop()
        interface = self._interface
        self._meter = self._new_meter()
        context = host_context(interface, traffic=reading if interface else None)
        if not interface and reading.cpu_pct is not None:  # no route: CPU and memory still count
            from homeshore.probe.host_traffic import TrafficReading

            context = host_context(None, traffic=TrafficReading("", reading.duration_s, None, None, reading.cpu_pct))
        sample = host_sample(context, self.agent.runtime.tags, time.time_ns())
        conn = context.link.conn if context.link else "unknown"
        if conn != self.agent.health.conn:
            self.agent.health.update(conn=conn)
        return [sample] if sample is not None else []

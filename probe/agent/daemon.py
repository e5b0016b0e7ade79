"""The agent's main thread: starts the sources, waits for signals, rewrites the status file, reloads and
stops (see the package's docstring for the order of a stop and what a reload restarts)."""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from homeshore.collector.schema import Sample
from homeshore.probe.agent_writer import WRITE_TIMEOUT_S
from homeshore.probe.agent.capture_source import CaptureSource
from homeshore.probe.agent.delivery import SpoolThread
from homeshore.probe.agent.gateway_source import GATEWAY_EVERY_S, GatewayCollector
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.context_history import ContextHistory
from homeshore.probe.agent.host_source import HostCollector, host_interval_s
from homeshore.probe.agent.link_capacity import LinkCapacity, learnt
from homeshore.probe.agent.runtime import AgentError, Runtime, resolve
from homeshore.probe.agent.speedtest_source import SpeedtestSource
from homeshore.probe.agent.status_view import status_view
from homeshore.probe.agent.ticker import Source, run_ticker
from homeshore.probe.agent_config import ConfigError, load_config
from homeshore.probe.agent_samples import SelfMetrics, agent_sample
from homeshore.probe.agent_status import WRITE_EVERY_S, write_status

log = logging.getLogger("homeshore.agent")

SELF_METRICS_INTERVAL_S = 60.0
STOP_BUDGET_S = 4.5  # SIGTERM to exit; systemd's and the limit is 5 s, interpreter exit included
SOURCES_STOP_S = 1.5  # of it, for the sources to stop (the capture loop ticks once a second)
RESTART_WAIT_S = 5.0  # a source's time to stop when a reload restarts it


class Agent(SpoolThread, CaptureSource, SpeedtestSource):
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
        self.context_history = ContextHistory()  # the host source writes it, the capture source reads it
        self.link_capacity = LinkCapacity()  # from the last speed test's `bandwidth` sample (see _append)
        self.started = time.time()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        self._sources: dict[str, Source] = {}
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
        status = status_view(self.runtime, self.health, self.spool_stats, started=self.started,
                             updated=time.time(), stopped=stopped)
        try:
            write_status(self.runtime.state_dir, status)
        except OSError as error:
            log.warning("cannot write the status file in %s: %s", self.runtime.state_dir, error.strerror or error)

    # --- sources -------------------------------------------------------------------------------------------
    def _start_all(self) -> None:
        for name in ("spool", "host", "gateway", "self", "capture", "speedtest"):
            self._start(name)

    def _start(self, name: str) -> None:
        config = self.runtime.config
        targets: dict[str, Callable[[threading.Event], None]] = {
            "host": lambda stop: run_ticker(
                stop, "host", lambda: host_interval_s(self.runtime.config, self.health.call_in_progress()),
                HostCollector(lambda: self.runtime, self.health, self.context_history, lambda: self.link_capacity),
                self._append),
            "gateway": lambda stop: run_ticker(
                stop, "gateway", lambda: max(GATEWAY_EVERY_S, host_interval_s(self.runtime.config,
                                                                              self.health.call_in_progress())),
                GatewayCollector(lambda: self.runtime, self.health, self.context_history), self._append),
            "self": lambda stop: run_ticker(stop, "self-metrics", self.self_metrics_interval_s,
                                            lambda: [self._self_sample()], self._append),
            "capture": self._run_capture,
            "speedtest": self._run_speedtests,
            "spool": self._run_spool,
        }
        if name == "capture" and not config.capture.enabled:
            self.health.set_in("capture", state="disabled", error=None, calls_in_progress=0)
            return
        source = Source(name, targets[name])
        self._sources[name] = source
        source.thread.start()

    def _restart(self, names: list[str]) -> None:
        for name in names:
            old = self._sources.pop(name, None)
            if old is not None:
                old.stop.set()
                self._queue_ready.set()
                # The spool thread may be in a write that takes its whole timeout: a second Spool beside it
                # is what delivery.py avoids (see its docstring), so it gets that long to finish.
                old.thread.join(RESTART_WAIT_S + (WRITE_TIMEOUT_S if name == "spool" else 0.0))
                if old.thread.is_alive():
                    log.warning("%s source is still busy; the new one starts beside it", name)
        for name in names:
            self._start(name)

    def _append(self, samples: list[Sample]) -> None:
        """Hands samples to the spool thread (delivery.py), learning the link's capacity from a speed test's."""
        self.link_capacity = learnt(self.link_capacity, samples)
        super()._append(samples)

    def _self_sample(self) -> Sample:
        stats = self.spool_stats
        with self.health.lock:
            capture = self.health.capture
            metrics = SelfMetrics(stats.rows if stats else 0, stats.dropped if stats else 0,
                                  self.health.write_errors, capture["packets"], capture["drops"])
        return agent_sample(metrics, self.runtime.tags, time.time_ns())

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
        names = ["host", "gateway", "self"]  # cheap: they restart on every reload
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

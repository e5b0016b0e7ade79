"""The agent's scheduling: each source on its own thread, and a ticker for the periodic ones.

Telegraf's shape (STYLE.md): a collection that overruns its interval skips the ticks it covered and says so,
runs never stack (probe/agent_schedule.next_tick).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from homeshore.collector.schema import Sample
from homeshore.probe.agent_schedule import next_tick

log = logging.getLogger("homeshore.agent")


class Source:
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


RECHECK_S = 1.0  # a callable interval is asked this often between ticks, so a shorter one applies at once


def run_ticker(stop: threading.Event, name: str, interval_s: float | Callable[[], float],
               collect: Callable[[], list[Sample]], append: Callable[[list[Sample]], None]) -> None:
    """Calls `collect` every `interval_s` until `stop` and hands what it returns to `append`.

    A callable interval is asked again every RECHECK_S: when it shortens (the host source samples every second
    while a call is up) the next collection comes that much after the last one, not at the old tick."""
    interval = interval_s if callable(interval_s) else (lambda: interval_s)
    recheck_s = RECHECK_S if callable(interval_s) else math.inf
    every_s = interval()
    due = time.monotonic() + every_s
    while not stop.wait(max(0.0, min(due, time.monotonic() + recheck_s) - time.monotonic())):
        due = min(due, due - every_s + interval())
        if time.monotonic() < due:
            continue
        try:
            append(collect())
        except (OSError, ValueError) as error:
            log.warning("%s collection failed: %s", name, error)
        every_s = interval()
        tick = next_tick(due, time.monotonic(), every_s)
        if tick.skipped:
            log.warning("%s collection took longer than its %g s interval: %d tick(s) skipped",
                        name, every_s, tick.skipped)
        due = tick.due_s

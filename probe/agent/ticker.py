"""The agent's scheduling: each source on its own thread, and a ticker for the periodic ones.

Telegraf's shape (STYLE.md): a collection that overruns its interval skips the ticks it covered and says so,
runs never stack (probe/agent_schedule.next_tick).
"""

from __future__ import annotations

import logging
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


def run_ticker(stop: threading.Event, name: str, interval_s: float, collect: Callable[[], list[Sample]],
               append: Callable[[list[Sample]], None]) -> None:
    """Calls `collect` every `interval_s` until `stop` and hands what it returns to `append`."""
    due = time.monotonic() + interval_s
    while not stop.wait(max(0.0, due - time.monotonic())):
        try:
            append(collect())
        except (OSError, ValueError) as error:
            log.warning("%s collection failed: %s", name, error)
        tick = next_tick(due, time.monotonic(), interval_s)
        if tick.skipped:
            log.warning("%s collection took longer than its %g s interval: %d tick(s) skipped",
                        name, interval_s, tick.skipped)
        due = tick.due_s

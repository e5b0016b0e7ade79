"""What the agent's threads report, for the status file and the self-metrics."""

from __future__ import annotations

import threading
from typing import Any

from homeshore.collector.schema import Sample


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

"""The speed-test source: a readiness check (probe/check_run.py) at random times around `speedtest.interval_h`
(probe/agent_schedule.py), never while a call is in progress: it waits for the call to end. It writes what
`homeshore check` writes (`readiness`, `bandwidth`, `voip_test`: collector/check_samples.py)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from homeshore.collector.schema import Sample
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.runtime import Runtime
from homeshore.probe.agent_schedule import SpeedtestAction, first_speedtest_s, next_speedtest_s, speedtest_action

log = logging.getLogger("homeshore.agent")


class SpeedtestSource:
    """The agent's speed-test thread (a part of `Agent`)."""

    runtime: Runtime
    health: Health
    rng: random.Random
    speedtest_plan: Callable[[str | None], Any] | None
    _append: Callable[[list[Sample]], None]

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

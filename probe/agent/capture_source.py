"""The calls source: live capture (`capture.enabled`) through the call tracker. A capture that cannot start
(no CAP_NET_RAW) is logged once and shown in the status, and the other sources carry on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from homeshore.collector.schema import Sample
from homeshore.probe.agent.context_history import ContextHistory
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.runtime import Runtime

log = logging.getLogger("homeshore.agent")


class _Stopped(Exception):
    """Raised inside the capture loop to end it (its `finally` closes the calls in progress)."""


class CaptureSource:
    """The agent's capture thread (a part of `Agent`)."""

    runtime: Runtime
    health: Health
    context_history: ContextHistory
    _append: Callable[[list[Sample]], None]

    def _run_capture(self, stop: threading.Event) -> None:
        from homeshore.planning.cause_policy import CausePolicy
        from homeshore.planning.policy import PolicyError
        from homeshore.planning.policy_file import load_cause_policy
        from homeshore.probe.agent.call_causes import causes_for
        from homeshore.probe.agent_samples import call_sample
        from homeshore.quality.calls import CallTracker
        from homeshore.quality.live import CaptureError, local_addresses, open_capture
        from homeshore.quality.monitor import monitor_calls

        interface = self.runtime.config.capture.interface
        try:
            capture = open_capture(None if interface == "any" else interface)
        except (CaptureError, OSError) as error:
            log.error("live call capture cannot start: %s; the other sources carry on", error)
            self.health.set_in("capture", state=f"failed: {error}", error=str(error), calls_in_progress=0)
            return
        self.health.set_in("capture", state="running", error=None, interfaces=list(capture.interfaces),
                           packets=0, drops=0)
        log.info("live call capture on %s", ", ".join(capture.interfaces))
        tracker = CallTracker(local_addresses())

        policy = CausePolicy()
        if self.runtime.config.host.policy_file:
            try:  # checked when the configuration was loaded; it may have gone since
                policy = load_cause_policy(self.runtime.config.host.policy_file)
            except PolicyError as error:
                log.warning("cause thresholds: %s; the defaults apply", error)

        def on_samples(calls) -> None:
            tags, conn = self.runtime.tags, self.health.conn
            findings = causes_for(calls, self.context_history.figures_over, policy)
            self._append([call_sample(c, tags, conn, finding) for c, finding in zip(calls, findings)])

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

"""The agent daemon (`homeshore agent run`): sources on their own schedules into the spool, one flusher from the
spool to the collector.

Telegraf's shape (STYLE.md): each source runs on its own thread and its own ticker (ticker.py). Sources hand
their samples to one spool thread, the only one with a `Spool` in this process (delivery.py says why).

Sources:
- host: every `host.interval_s` (every second during a call), the link, CPU, memory and traffic of the
  interface towards the collector, Wi-Fi, VPN and the link's use of its capacity (host_source.py,
  link_capacity.py);
- gateway: the home segment, echoes to the default gateway, on the host source's interval but at most once a
  second (gateway_source.py);
- calls: live capture through the call tracker, a cause on each poor window from the host context of its
  seconds (capture_source.py, call_causes.py, context_history.py);
- speed test: a readiness check at random times, never during a call (speedtest_source.py);
- self-metrics: the `agent` measurement every minute, and once more at stop (daemon.py).

Stopping (SIGTERM, SIGINT): sources stop (the capture closes the calls in progress, their end samples are
spooled), a last `agent` sample, one last flush with a deadline, exit 0, all within `STOP_BUDGET_S`. What the
last flush cannot send stays in the spool for the next start. Reloading (SIGHUP): the configuration is read and
validated again; an invalid one is logged and the running one kept; a valid one restarts the parts it changes.

The main thread (daemon.py) only waits for signals and rewrites the status file (status_view.py,
probe/agent_status.py); runtime.py resolves a configuration, health.py holds what the threads report.
"""

from homeshore.probe.agent.daemon import Agent
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.runtime import AgentError, Runtime, resolve

__all__ = ["Agent", "AgentError", "Health", "Runtime", "resolve"]

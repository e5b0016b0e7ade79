"""The status file's content (probe/agent_status.py writes and reads it): pure, from the agent's state."""

from __future__ import annotations

import os
from typing import Any

from homeshore.probe.agent.health import Health
from homeshore.probe.agent.runtime import Runtime


def status_view(runtime: Runtime, health: Health, stats, *, started: float, updated: float,
                stopped: bool) -> dict[str, Any]:
    """What `homeshore agent status` shows; `stats` is the spool's last SpoolStats or None."""
    spool_view: dict[str, Any] | None = None
    if stats is not None:
        spool_view = {"rows": stats.rows, "bytes": stats.bytes, "dropped": stats.dropped,
                      "quarantined": stats.quarantined, "oldest_created_ns": stats.oldest_created_ns,
                      "max_bytes": runtime.spool_max_bytes}
    return {
        "pid": os.getpid(), "started": started, "updated": updated, "stopped": stopped,
        "config_sources": list(runtime.config.sources), "agent": runtime.tags.get("agent", ""),
        "area": runtime.config.agent.area, "site": runtime.config.agent.site,
        "state_dir": str(runtime.state_dir), "spool_path": str(runtime.spool_path), "spool": spool_view,
        **health.snapshot(),
    }

"""The agent's status file: what `homeshore agent status` reads besides the spool itself.

The daemon rewrites one JSON file in its state directory every few seconds and on events (a write failed or
recovered, a speed test ran): written to a temporary file and renamed over the old one, so a reader never sees
half a file, and 0600 like the rest of the state directory. It carries no secrets: the collector is described
by URL and database only.

Whether the agent is running is judged from two facts together: its pid is alive and the file is fresh (a pid
can be reused by another program after a crash; a fresh file from a dead pid cannot happen).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from homeshore.collector.url_hints import with_hint

STATUS_FILE = "agent_status.json"
WRITE_EVERY_S = 2.0  # the daemon's refresh period
STALE_AFTER_S = 15.0  # older than this: the agent is not running (or hung)


def status_path(state_dir: Path) -> Path:
    return Path(state_dir) / STATUS_FILE


def write_status(state_dir: Path, status: dict[str, Any]) -> None:
    """Atomically replaces the status file (temporary file in the same directory, fsync, rename)."""
    directory = Path(state_dir)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{STATUS_FILE}.", dir=directory)  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(status, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, directory / STATUS_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The last status written, or None when there is none (never started here) or it cannot be read."""
    try:
        data = json.loads(status_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check only
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user (the service user)
        return True
    return True


def agent_running(status: dict[str, Any] | None, now_s: float, *, alive=pid_alive) -> bool:
    """The agent that wrote `status` is running: its pid is alive, it did not say it stopped, and the file is
    fresh (`updated` Unix time within STALE_AFTER_S of `now_s`)."""
    if not status or status.get("stopped"):
        return False
    updated = status.get("updated")
    if not isinstance(updated, (int, float)) or now_s - updated > STALE_AFTER_S:
        return False
    return alive(status.get("pid"))


def _iso(unix_s: object) -> str | None:
    if not isinstance(unix_s, (int, float)):
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(unix_s, timezone.utc).isoformat(timespec="seconds")


def _write_error(collector: dict[str, Any]) -> str | None:
    """The writer's last error, with what to try when the URL is the mistake (collector/url_hints.py). The
    writer's description reads "InfluxDB v1 URL database ..." (collector/writer.py)."""
    error = collector.get("last_write_error")
    words = str(collector.get("description") or "").split()
    if not error or len(words) < 3:
        return error
    return with_hint(error, words[2], error)


def status_report(status: dict[str, Any] | None, spool: Any, now_s: float, *, running: bool,
                  state_dir: Path) -> dict[str, Any]:
    """What `homeshore agent status --json` prints (pure): the spool as read now (`spool`: a SpoolStats, or
    None when there is no spool yet) and the daemon's last status file. Times are ISO 8601 UTC.
    When the agent is not running, the capture's `state` says so and `last_state` / `as_of` keep what its last
    status said (a killed agent leaves "running" in its file)."""
    status = status or {}
    collector = status.get("collector") or {}
    speedtest = status.get("speedtest") or {}
    capture = status.get("capture") or {}
    oldest_ns = spool.oldest_created_ns if spool is not None else None
    return {
        "running": running,
        "pid": status.get("pid") if running else None,
        "state_dir": str(state_dir),
        "status_updated": _iso(status.get("updated")),
        "agent": status.get("agent"),
        "spool": {
            "rows": spool.rows if spool is not None else 0,
            "bytes": spool.bytes if spool is not None else 0,
            "dropped": spool.dropped if spool is not None else 0,
            "quarantined": spool.quarantined if spool is not None else 0,
            "oldest_unsent": _iso(oldest_ns / 1e9) if oldest_ns is not None else None,
            "oldest_unsent_age_s": round(now_s - oldest_ns / 1e9, 1) if oldest_ns is not None else None,
        },
        "collector": {
            "description": collector.get("description") or None,
            "state": collector.get("state"),
            "last_write_ok": _iso(collector.get("last_write_ok")),
            "last_write_error": _write_error(collector),
            "last_write_error_at": _iso(collector.get("last_write_error_at")),
            "write_errors": collector.get("write_errors"),
        },
        "speedtest": {
            "state": speedtest.get("state"),
            "last": _iso(speedtest.get("last_time")),
            "last_ok": speedtest.get("last_ok"),
            "last_error": speedtest.get("last_error"),
            "next": _iso(speedtest.get("next_time")) if running else None,
        },
        "capture": {  # a stopped agent captures nothing, whatever its last status said
            "state": capture.get("state") if running else ("not running" if capture else None),
            "last_state": capture.get("state"),
            "as_of": _iso(status.get("updated")),
            "interfaces": capture.get("interfaces") or [],
            "packets": capture.get("packets"),
            "drops": capture.get("drops"),
            "error": capture.get("error"),
        },
    }

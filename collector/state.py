"""Where the agent keeps its state (the spool and its id), pure: the environment and platform are arguments.

The order follows DESIGN.md's `agent.state_dir`: the configured directory, else `$STATE_DIRECTORY` (set by
systemd's `StateDirectory=` for the service), else the platform's per-user data directory, so a `homeshore
check` run by the homeworker and the daemon run by systemd each find theirs without configuration:
- Linux and other Unixes: `$XDG_DATA_HOME/homeshore`, else `~/.local/share/homeshore` (XDG Base Directory
  specification: a relative XDG_DATA_HOME is invalid and ignored);
- macOS: `~/Library/Application Support/homeshore`;
- Windows: `%LOCALAPPDATA%\\homeshore` (local, not roaming: a spool must not follow the user between machines).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Mapping

APP_NAME = "homeshore"
SPOOL_FILE = "spool.sqlite3"


def state_directory(env: Mapping[str, str] = os.environ, *, configured: str = "",
                    platform: str = sys.platform) -> PurePath:
    """The state directory (not created here). A concrete `Path` when `platform` is this machine's, a pure
    path of that platform's flavour otherwise (so tests can ask about Windows on Linux).

    Raises ValueError when nothing locates it (no home directory in the environment)."""
    flavour = PureWindowsPath if platform == "win32" else PurePosixPath
    directory = _locate(env, configured, platform, flavour)
    return Path(directory) if platform == sys.platform else directory


def _locate(env: Mapping[str, str], configured: str, platform: str, flavour: type[PurePath]) -> PurePath:
    home = env.get("USERPROFILE" if platform == "win32" else "HOME", "")
    if configured:
        if configured == "~" or configured.startswith(("~/", "~\\")):
            if not home:
                raise ValueError(f"agent.state_dir {configured!r} starts with ~ but no home directory is set")
            return flavour(home, configured[2:]) if len(configured) > 1 else flavour(home)
        return flavour(configured)
    if env.get("STATE_DIRECTORY"):
        # systemd lists one path per StateDirectory= entry, separated by colons; ours is the first.
        first = env["STATE_DIRECTORY"] if platform == "win32" else env["STATE_DIRECTORY"].split(":")[0]
        return flavour(first)
    if platform == "win32":
        if env.get("LOCALAPPDATA"):
            return flavour(env["LOCALAPPDATA"], APP_NAME)
        if home:
            return flavour(home, "AppData", "Local", APP_NAME)
    elif platform == "darwin":
        if home:
            return flavour(home, "Library", "Application Support", APP_NAME)
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        if xdg and flavour(xdg).is_absolute():
            return flavour(xdg, APP_NAME)
        if home:
            return flavour(home, ".local", "share", APP_NAME)
    raise ValueError("cannot locate the state directory: no home directory in the environment; "
                     "set agent.state_dir (HOMESHORE_AGENT_STATE_DIR)")


def spool_path(state_dir: PurePath) -> PurePath:
    return state_dir / SPOOL_FILE

"""The agent's id: a stable random name for one home, created at first use and kept in the state directory.

Random rather than derived from the machine (hostname, MAC address), so that it says nothing about the person
or the hardware and a reinstall does not need to reproduce it. DESIGN.md: `agent.id` in the configuration
overrides it; empty means this file.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

ID_FILE = "agent_id"
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def agent_id(state_dir: Path, configured: str = "") -> str:
    """The configured id when given, else the one kept in state_dir (created there, 0600, on first use)."""
    if configured:
        if not _VALID.match(configured):
            raise ValueError(f"agent.id {configured!r} must be 1-64 letters, digits, '_', '.' or '-'")
        return configured
    path = state_dir / ID_FILE
    try:
        kept = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        kept = None
    except (OSError, UnicodeDecodeError):
        kept = ""
    if kept and _VALID.match(kept):
        return kept
    if kept is not None:  # damaged (emptied by a full disk, edited): replaced by a new id
        path.unlink(missing_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    new_id = "h-" + secrets.token_hex(8)
    # Written to a file of its own, then linked into place: the id file is never seen half-written, and when
    # two first runs race (the daemon and a check), link() lets one win and the other reads the winner's id.
    draft = state_dir / f".{ID_FILE}.{new_id}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(new_id + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    finally:
        draft.unlink()
    return new_id

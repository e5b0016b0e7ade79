"""Reading a credential a command was given as a file: one line of error naming the option, never the secret."""

from __future__ import annotations

import stat
from pathlib import Path

from homeshore.cli.errors import UsageProblem


def read_secret(path_text: str, option: str) -> str:
    """The file's text, stripped; UsageProblem if it cannot be read, is empty, or others can read it (0600)."""
    path = Path(path_text)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text().strip()
    except OSError as error:
        raise UsageProblem(f"{option}: cannot read {path}: {error.strerror}") from None
    if mode & 0o077:
        raise UsageProblem(f"{option}: {path} can be read by other users (mode {mode:04o}); chmod 600 it")
    if not text:
        raise UsageProblem(f"{option}: {path} is empty")
    return text

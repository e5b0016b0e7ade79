"""Files only their owner may read (passwords, tokens, a candidate's check): a 0700 directory of 0600 files,
each written whole or not at all.

A file is written to a fresh 0600 file beside its place, flushed to disk, and renamed over it (os.replace,
atomic on POSIX): a reader sees the old text or the new, never part of either, and never a moment at a wider
mode. A directory that already exists with a wider mode is tightened: what it holds is as private as its files.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def private_directory(directory: Path) -> Path:
    """`directory` (and its parents) created, at mode 0700."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) != 0o700:
        os.chmod(directory, 0o700)
    return directory


def write_private(path: Path, text: str) -> Path:
    """Replace `path` with `text` (UTF-8), at mode 0600, atomically; OSError when it cannot be written."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path

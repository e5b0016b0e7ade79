"""Browser checks' documents on disk: `<state-dir>/reports/<check_id>.json`, each written whole (a temporary
file renamed over it) and readable by the server's user only (0600), for the recruiter's report."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

REPORTS_DIR = "reports"
_CHECK_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def _path(state_dir: Path, check_id: str) -> Path:
    if not _CHECK_ID.fullmatch(check_id):
        raise ValueError(f"not a check id: {check_id!r}")
    return Path(state_dir) / REPORTS_DIR / f"{check_id}.json"


def save_document(state_dir: Path, check_id: str, document: dict) -> Path:
    path = _path(state_dir, check_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_document(state_dir: Path, check_id: str) -> dict | None:
    try:
        return json.loads(_path(state_dir, check_id).read_text(encoding="utf-8"))
    except (ValueError, FileNotFoundError):
        return None

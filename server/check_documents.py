"""The finished browser checks' documents (the `homeshore check --json` document, one per check) kept in the
server's state directory, `<state-dir>/reports/<check_id>.json`, for the recruiter's report pages.

A check id is 22 characters of base64url (16 random bytes, unpadded) and is checked against that alphabet and
length before it comes near a path, so no id (from a URL or anywhere) can name another file. The directory is
0700 and each file 0600, each written whole or not at all (collector/private_files.py): a document holds the
candidate's reference, and a reader sees the old document or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from homeshore.collector.check_samples import CHECK_ID_CHARS, is_check_id
from homeshore.collector.private_files import private_directory, write_private

__all__ = ["REPORTS_DIR", "CheckDocumentError", "StoredCheck", "is_check_id", "load_document", "save_document",
           "stored_checks"]

REPORTS_DIR = "reports"


class CheckDocumentError(Exception):
    """A stored document cannot be read as a check's document; one line naming the file."""


@dataclass(frozen=True)
class StoredCheck:
    """What the recruiter's list shows of one stored check (only what the document holds)."""

    check_id: str
    time: datetime | None  # the check's own time (the document's "time"), aware; None when it has none
    reference: str | None  # the candidate's reference
    district: str | None  # the postcode district
    verdict: str | None  # PASS, WARN or FAIL


def _path(state_dir: Path, check_id: str) -> Path:
    if not is_check_id(check_id):
        raise ValueError(f"a check id is {CHECK_ID_CHARS} characters of A-Z, a-z, 0-9, - and _, not {check_id!r}")
    return state_dir / REPORTS_DIR / f"{check_id}.json"


def save_document(state_dir: Path, check_id: str, document: dict[str, Any]) -> Path:
    """Keep `document` as the check `check_id`'s (replacing any earlier one); its path. ValueError for a bad id
    or a document that is not a JSON object; OSError when it cannot be written."""
    path = _path(state_dir, check_id)
    if not isinstance(document, dict):
        raise ValueError("a check's document is a JSON object")
    text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    private_directory(path.parent)
    write_private(path, text)
    return path


def load_document(state_dir: Path, check_id: str) -> dict[str, Any] | None:
    """The document of check `check_id`, or None when there is none (an id of the wrong form is none either:
    it cannot have been stored). CheckDocumentError when the file is there but is not a check's document."""
    try:
        path = _path(state_dir, check_id)
    except ValueError:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckDocumentError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise CheckDocumentError(f"{path} does not hold a check's JSON document")
    return document


def stored_checks(state_dir: Path) -> tuple[list[StoredCheck], int]:
    """(every stored check, newest first by its own time, those without a time last; files that could not be
    read). Only files named by a valid check id are read: drafts and anything else in the directory are not."""
    directory = state_dir / REPORTS_DIR
    try:
        names = sorted(entry.name for entry in os.scandir(directory) if entry.is_file())
    except FileNotFoundError:
        return [], 0
    checks, unreadable = [], 0
    for name in names:
        check_id = name.removesuffix(".json")
        if not name.endswith(".json") or not is_check_id(check_id):
            continue
        try:
            document = load_document(state_dir, check_id)
        except CheckDocumentError:
            unreadable += 1
            continue
        if document is not None:
            checks.append(StoredCheck(check_id, _time(document.get("time")), _text(document.get("candidate")),
                                      _text(document.get("area")), _text(document.get("verdict"))))
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    checks.sort(key=lambda check: (check.time or oldest, check.check_id), reverse=True)
    return checks, unreadable


def _time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

"""Reading a policy from its TOML file: one `[policy]` table whose keys are `Policy`'s field names.

Validated once, at load, like Telegraf's `Init()`: a malformed file, a key outside the table, an unknown key, a
wrong type or an out-of-range value raises PolicyError with a one-line message naming the file, the key and,
where it can be found, the line. A file with no keys gives the defaults.

    [policy]
    download_min_mbps = 10
    loaded_rtt_max_ms = 150
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import fields
from pathlib import Path

from homeshore.planning.policy import Policy, PolicyError, check_value

TABLE = "policy"
KEYS = tuple(field.name for field in fields(Policy))


def load_policy(path: str | Path) -> Policy:
    """The policy in the TOML file at `path` (defaults for keys it does not set)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise PolicyError(f"{path}: cannot read the policy file: {reason}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message ends "(at line L, column C)"
        raise PolicyError(f"{path}: malformed TOML: {_one_line(str(error))}") from None
    try:
        return policy_from_document(document)
    except PolicyError as error:
        raise PolicyError(f"{_where(path, text, error.key)}: {error}", error.key) from None


def policy_from_document(document: dict) -> Policy:
    """The policy in an already parsed TOML document holding one `[policy]` table (or nothing)."""
    for key, value in document.items():
        if key != TABLE:
            kind = "table" if isinstance(value, dict) else "key"
            raise PolicyError(f"unknown {kind} {key!r}: the policy file holds one table, [{TABLE}]", key)
    table = document.get(TABLE, {})
    if not isinstance(table, dict):
        raise PolicyError(f"{TABLE} must be a table ([{TABLE}]), not {type(table).__name__}", TABLE)
    values = {}
    for key, value in table.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(KEYS)})"
            raise PolicyError(f"unknown key {key!r} in [{TABLE}]{hint}", key)
        values[key] = check_value(key, value)
    return Policy(**values)


def _where(path: Path, text: str, key: str | None) -> str:
    """`path:line` of the first line assigning or opening `key`, or `path` when it cannot be found."""
    if key is None:
        return str(path)
    name = re.escape(key)
    pattern = re.compile(rf"^[ \t]*(?:[\"']?{name}[\"']?[ \t]*=|\[+\s*[\"']?{name}[\"']?\s*\]+)", re.MULTILINE)
    found = pattern.search(text)
    return f"{path}:{text.count(chr(10), 0, found.start()) + 1}" if found else str(path)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def policy_origin(path: str | Path | None) -> dict[str, str | None]:
    """How a check names the policy that judged it (`policy` in its JSON document): the file's name and the
    SHA-256 of its bytes (which policy exactly, even after an edit), or file and sha256 None for the defaults.
    The name only: a full path can carry a user's name (/home/NAME/...) into a stored result."""
    if path is None:
        return {"file": None, "sha256": None}
    path = Path(path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file: {error.strerror}") from None
    return {"file": path.name, "sha256": digest}

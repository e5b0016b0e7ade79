"""Reading a policy from its TOML file: a `[policy]` table whose keys are `Policy`'s field names, and a
`[cause]` table whose keys are `CausePolicy`'s (planning/cause_policy.py); either may be left out.

Validated once, at load, like Telegraf's `Init()`: a malformed file, a key outside the table, an unknown key, a
wrong type or an out-of-range value raises PolicyError with a one-line message naming the file, the key and,
where it can be found, the line. A file with no keys gives the defaults.

    [policy]
    download_min_mbps = 10
    loaded_rtt_max_ms = 150

    [cause]
    cpu_busy_pct = 80
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import fields
from pathlib import Path

from homeshore.planning.cause_policy import CAUSE_RANGES, CausePolicy
from homeshore.planning.policy import RANGES, Policy, PolicyError, check_value

TABLE = "policy"
CAUSE_TABLE = "cause"
KEYS = tuple(field.name for field in fields(Policy))
CAUSE_KEYS = tuple(field.name for field in fields(CausePolicy))


def load_policy(path: str | Path) -> Policy:
    """The readiness policy in the TOML file at `path` (defaults for keys it does not set)."""
    return load_policies(path)[0]


def load_cause_policy(path: str | Path) -> CausePolicy:
    """The cause thresholds in the TOML file at `path` (defaults for keys it does not set)."""
    return load_policies(path)[1]


def load_policies(path: str | Path) -> tuple[Policy, CausePolicy]:
    """Both tables of the file at `path`, the whole file validated whichever one the caller wants."""
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
        return policies_from_document(document)
    except PolicyError as error:
        raise PolicyError(f"{_where(path, text, error.key)}: {error}", error.key) from None


def policy_from_document(document: dict) -> Policy:
    """The readiness policy in an already parsed TOML document (see `policies_from_document`)."""
    return policies_from_document(document)[0]


def policies_from_document(document: dict) -> tuple[Policy, CausePolicy]:
    """The policies in an already parsed TOML document holding a `[policy]` and a `[cause]` table (or
    neither)."""
    for key, value in document.items():
        if key not in (TABLE, CAUSE_TABLE):
            kind = "table" if isinstance(value, dict) else "key"
            raise PolicyError(f"unknown {kind} {key!r}: the policy file holds two tables, [{TABLE}] and "
                              f"[{CAUSE_TABLE}]", key)
    return (Policy(**_table_values(document, TABLE, KEYS, RANGES)),
            CausePolicy(**_table_values(document, CAUSE_TABLE, CAUSE_KEYS, CAUSE_RANGES)))


def _table_values(document: dict, table_name: str, keys: tuple[str, ...], ranges) -> dict[str, float]:
    table = document.get(table_name, {})
    if not isinstance(table, dict):
        raise PolicyError(f"{table_name} must be a table ([{table_name}]), not {type(table).__name__}", table_name)
    values = {}
    for key, value in table.items():
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (known keys: {', '.join(keys)})"
            raise PolicyError(f"unknown key {key!r} in [{table_name}]{hint}", key)
        values[key] = check_value(key, value, ranges)
    return values


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

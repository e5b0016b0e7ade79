"""The candidate checks for `homeshore candidates` (pure): `readiness` points that carry a candidate reference, as
records a recruiter reads, newest first.

A readiness point keeps one `<criterion>_pass` field per criterion (collector/check_samples.py): 1.0 when it
passed, 0.0 when it warned or failed, so "not passed" lists both. Its area tag is the postcode district already;
a value that still reads as a full postcode is cut to its district here, so no full postcode is ever shown.
Rows stored before the `source` field existed were all `homeshore check` runs and read as "cli".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from homeshore.planning.postcode import PostcodeError, postcode_district

_PASS_SUFFIX = "_pass"
_DAYS = re.compile(r"(\d{1,4})d\Z")


@dataclass(frozen=True)
class CandidateCheck:
    reference: str
    time_ns: int
    area: str  # the postcode district, "" when the check had no postcode
    verdict: str
    not_passed: tuple[str, ...]  # criteria that warned or failed, by name, sorted
    source: str  # "cli", "agent" or "browser" (collector/schema.py CHECK_SOURCES)
    policy: str  # "defaults", or the policy file's name and digest


def candidate_check(tags: Mapping[str, Any], fields: Mapping[str, Any], time_ns: int) -> CandidateCheck | None:
    """The check a readiness point records, or None when it names no candidate (an agent's scheduled test)."""
    reference = fields.get("candidate")
    if not reference:
        return None
    not_passed = tuple(sorted(key[:-len(_PASS_SUFFIX)] for key, value in fields.items()
                              if key.endswith(_PASS_SUFFIX) and value is not None and float(value) == 0.0))
    return CandidateCheck(str(reference), time_ns, _district(str(tags.get("area") or "")),
                          str(fields.get("verdict") or ""), not_passed, str(fields.get("source") or "cli"),
                          str(fields.get("policy") or "defaults"))


def newest_first(checks: Iterable[CandidateCheck]) -> list[CandidateCheck]:
    return sorted(checks, key=lambda check: (-check.time_ns, check.reference))


def parse_since(text: str, now: datetime, zone: tzinfo | None = None) -> datetime:
    """`--since`: `7d` (days before `now`) or a date `2026-12-01` (its midnight in `zone`, local time when None).
    Raises ValueError with the reason."""
    days = _DAYS.match(text.strip())
    if days:
        return now - timedelta(days=int(days.group(1)))
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither a number of days (7d) nor a date (2026-12-01)") from None
    return datetime.combine(day, time(), zone).astimezone(zone)


def _district(area: str) -> str:
    """The district of the area tag; "" for none, or for one that is no postcode (shown as nothing, not guessed)."""
    try:
        return postcode_district(area) if area.strip() else ""
    except PostcodeError:
        return ""

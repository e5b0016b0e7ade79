"""The candidate checks for `homeshore candidates` (pure): `readiness` points that carry a candidate reference, as
records a recruiter reads, newest first.

A readiness point keeps one `<criterion>_pass` field per criterion (collector/check_samples.py): 1.0 when it
passed, 0.0 when it warned or failed, so "not passed" lists both. Its area tag is the postcode district already;
a value that still reads as a full postcode is cut to its district here, so no full postcode is ever shown.
Rows stored before the `source` field existed were all `homeshore check` runs and read as "cli". A browser check's
point names its check id on the server (the recruiters' report, `/r/CHECK_ID`); one not of that form is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from homeshore.collector.check_samples import is_check_id
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
    check_id: str | None = None  # a browser check's id on the server that ran it

    @property
    def report_path(self) -> str | None:
        """Where the server that ran a browser check shows its report to recruiters (`/r/CHECK_ID`)."""
        return f"/r/{self.check_id}" if self.check_id else None


def candidate_check(tags: Mapping[str, Any], fields: Mapping[str, Any], time_ns: int) -> CandidateCheck | None:
    """The check a readiness point records, or None when it names no candidate (an agent's scheduled test)."""
    reference = fields.get("candidate")
    if not reference:
        return None
    not_passed = tuple(sorted(key[:-len(_PASS_SUFFIX)] for key, value in fields.items()
                              if key.endswith(_PASS_SUFFIX) and value is not None and float(value) == 0.0))
    return CandidateCheck(str(reference), time_ns, _district(str(tags.get("area") or "")),
                          str(fields.get("verdict") or ""), not_passed, str(fields.get("source") or "cli"),
                          str(fields.get("policy") or "defaults"), _check_id(fields.get("check_id")))


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


def _check_id(value: Any) -> str | None:
    return value if is_check_id(value) else None

"""planning/candidates.py: a readiness point as a candidate check, by tables of cases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from homeshore.planning.candidates import CandidateCheck, candidate_check, newest_first, parse_since

NOW = datetime(2026, 12, 6, 10, 40, tzinfo=timezone.utc)


@pytest.mark.parametrize(("tags", "fields", "expected"), [
    ({"area": "NG5"}, {"candidate": "R-1", "verdict": "FAIL", "policy": "defaults", "source": "browser",
                       "download_pass": 1.0, "mos_pass": 0.0, "loaded_rtt_pass": 0.0},
     CandidateCheck("R-1", 5, "NG5", "FAIL", ("loaded_rtt", "mos"), "browser", "defaults")),
    # a row from before the source field: a homeshore check
    ({"area": "SW1A"}, {"candidate": "R-2", "verdict": "PASS", "policy": "p.toml sha256:0123", "upload_pass": 1.0},
     CandidateCheck("R-2", 5, "SW1A", "PASS", (), "cli", "p.toml sha256:0123")),
    # a full postcode in the area tag is shown as its district only; no area, or one that is no postcode: none
    ({"area": "NG5 1AB"}, {"candidate": "R-3", "verdict": "WARN", "source": "cli"},
     CandidateCheck("R-3", 5, "NG5", "WARN", (), "cli", "defaults")),
    ({"area": "ng51ab"}, {"candidate": "R-3", "verdict": "WARN"}, CandidateCheck("R-3", 5, "NG5", "WARN", (), "cli",
                                                                                  "defaults")),
    ({}, {"candidate": "R-4", "verdict": "WARN"}, CandidateCheck("R-4", 5, "", "WARN", (), "cli", "defaults")),
    ({"area": "Flat 2"}, {"candidate": "R-4", "verdict": "WARN"}, CandidateCheck("R-4", 5, "", "WARN", (), "cli",
                                                                                  "defaults")),
    # an agent's scheduled test names no candidate
    ({"area": "NG5"}, {"verdict": "PASS", "source": "agent"}, None),
    ({"area": "NG5"}, {"candidate": "", "verdict": "PASS"}, None),
])
def test_a_readiness_point_as_a_candidate_check(tags: dict, fields: dict, expected: CandidateCheck | None) -> None:
    assert candidate_check(tags, fields, 5) == expected


def test_newest_first_then_by_reference() -> None:
    checks = [CandidateCheck(ref, t, "", "PASS", (), "cli", "defaults") for ref, t in
              (("B", 1), ("C", 3), ("A", 3), ("D", 2))]
    assert [c.reference for c in newest_first(checks)] == ["A", "C", "D", "B"]


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - timedelta(days=7)),
    ("0d", NOW),
    (" 30d ", NOW - timedelta(days=30)),
    ("2026-12-01", datetime(2026, 12, 1, tzinfo=timezone.utc)),
])
def test_since_is_days_back_or_a_date_at_midnight(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW, timezone.utc) == expected


def test_a_date_is_midnight_in_the_zone_given() -> None:
    paris = timezone(timedelta(hours=1))
    assert parse_since("2026-12-01", NOW, paris) == datetime(2026, 11, 30, 23, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["7", "7w", "-7d", "yesterday", "2026-13-01", "", "12345d"])
def test_anything_else_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="neither a number of days"):
        parse_since(text, NOW, timezone.utc)

"""server/admission.py, pure: checks in progress per source (an IPv4 address, an IPv6 /64) and in all, bytes per
check, slots freed by finish() and by expiry; every decision in exactly one counter."""

from __future__ import annotations

import dataclasses

import pytest

from homeshore.server.admission import Admission, AdmissionCounters, AdmissionLimits, Refusal

LIMITS = AdmissionLimits(checks_per_source=2, checks_total=3, bytes_per_check=1000, check_max_s=60.0)


def decisions(admission: Admission, steps: list[tuple]) -> list[Refusal | None]:
    """Run ("start", id, address, t) / ("charge", id, bytes, t) / ("finish", id) steps; each one's answer."""
    answers = []
    for step in steps:
        if step[0] == "start":
            answers.append(admission.start(step[1], step[2], step[3]))
        elif step[0] == "charge":
            answers.append(admission.charge(step[1], step[2], step[3]))
        else:
            admission.finish(step[1])
            answers.append(None)
    return answers


CASES = {
    "per address": ([("start", "a", "192.0.2.1", 0), ("start", "b", "192.0.2.1", 1), ("start", "c", "192.0.2.1", 2),
                     ("start", "d", "192.0.2.2", 3)],
                    [None, None, Refusal.PER_SOURCE, None], dict(admitted=3, refused_per_source=1)),
    "an IPv6 /64 is one source": ([("start", "a", "2001:db8:1:2::1", 0), ("start", "b", "2001:db8:1:2:ffff::9", 0),
                                   ("start", "c", "2001:db8:1:2::3", 0), ("start", "d", "2001:db8:1:3::1", 0)],
                                  [None, None, Refusal.PER_SOURCE, None], dict(admitted=3, refused_per_source=1)),
    "an IPv4-mapped address is its IPv4 address": (
        [("start", "a", "::ffff:192.0.2.1", 0), ("start", "b", "192.0.2.1", 0), ("start", "c", "::ffff:192.0.2.1", 0)],
        [None, None, Refusal.PER_SOURCE], dict(admitted=2, refused_per_source=1)),
    "in all": ([("start", "a", "192.0.2.1", 0), ("start", "b", "192.0.2.2", 0), ("start", "c", "192.0.2.3", 0),
                ("start", "d", "192.0.2.4", 0), ("finish", "b"), ("start", "d", "192.0.2.4", 1)],
               [None, None, None, Refusal.TOTAL, None, None], dict(admitted=4, refused_total=1, finished=1)),
    "behind a reverse proxy (no address) only the total counts": (
        [("start", "a", None, 0), ("start", "b", None, 0), ("start", "c", None, 0), ("start", "d", None, 0)],
        [None, None, None, Refusal.TOTAL], dict(admitted=3, refused_total=1)),
    "the same check started twice takes one slot": (
        [("start", "a", "192.0.2.1", 0), ("start", "a", "192.0.2.1", 1), ("start", "b", "192.0.2.1", 2)],
        [None, None, None], dict(admitted=2)),
    "bytes per check": ([("start", "a", "192.0.2.1", 0), ("charge", "a", 600, 1), ("charge", "a", 400, 2),
                         ("charge", "a", 1, 3), ("start", "b", "192.0.2.1", 4), ("charge", "b", 1001, 5),
                         ("charge", "b", 1000, 6)],
                        [None, None, None, Refusal.BYTES, None, Refusal.BYTES, None],
                        dict(admitted=2, refused_bytes=2)),
    "bytes for no check in progress": ([("charge", "x", 1, 0), ("start", "a", "192.0.2.1", 0), ("finish", "a"),
                                        ("charge", "a", 1, 1), ("finish", "a")],
                                       [Refusal.NOT_IN_PROGRESS, None, None, Refusal.NOT_IN_PROGRESS, None],
                                       dict(admitted=1, finished=1, not_in_progress=2)),
    "a check never finished is forgotten after check_max_s": (
        [("start", "a", "192.0.2.1", 0), ("start", "b", "192.0.2.1", 30), ("start", "c", "192.0.2.1", 59.9),
         ("start", "c", "192.0.2.1", 60), ("charge", "a", 1, 60), ("charge", "b", 1, 60)],
        [None, None, Refusal.PER_SOURCE, None, Refusal.NOT_IN_PROGRESS, None],
        dict(admitted=3, expired=1, refused_per_source=1, not_in_progress=1)),
}


@pytest.mark.parametrize("case", CASES)
def test_admission(case: str) -> None:
    steps, expected, counters = CASES[case]
    admission = Admission(LIMITS)
    assert decisions(admission, steps) == expected
    assert admission.counters == AdmissionCounters(**counters)


def test_refusals_answer_with_their_http_status() -> None:
    assert {refusal: refusal.http_status for refusal in Refusal} == {
        Refusal.PER_SOURCE: 429, Refusal.TOTAL: 503, Refusal.BYTES: 413, Refusal.NOT_IN_PROGRESS: 409}


def test_a_flood_of_starts_from_one_address_holds_only_its_share() -> None:
    admission = Admission(AdmissionLimits())
    answers = [admission.start(f"c{n}", "198.51.100.7", n * 0.001) for n in range(10_000)]
    assert answers.count(None) == 2 and admission.in_progress == 2
    assert admission.counters.refused_per_source == 9_998
    assert admission.start("other", "203.0.113.9", 11.0) is None  # everyone else still gets in


@pytest.mark.parametrize("field, value", [("checks_per_source", 0), ("checks_total", -1), ("bytes_per_check", 0),
                                          ("checks_total", 2.5), ("check_max_s", 0.0)])
def test_limits_that_admit_nothing_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(AdmissionLimits(), **{field: value})

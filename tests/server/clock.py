"""A clock the invite tests set by hand (Invites and CandidatePages take the time as a callable)."""

from __future__ import annotations

import pytest

START_S = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.now_s = float(START_S)

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()

"""agent_id: created once, kept, private, overridable."""

from __future__ import annotations

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from homeshore.collector.identity import ID_FILE, agent_id


def test_the_first_call_creates_an_id_every_later_call_returns(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = agent_id(state)
    assert first.startswith("h-") and len(first) == 18
    assert agent_id(state) == first
    assert stat.S_IMODE((state / ID_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_different_homes_get_different_ids(tmp_path: Path) -> None:
    assert len({agent_id(tmp_path / str(n)) for n in range(20)}) == 20


def test_a_configured_id_wins_and_is_validated(tmp_path: Path) -> None:
    assert agent_id(tmp_path, "nottingham-17") == "nottingham-17"
    assert not (tmp_path / ID_FILE).exists()
    with pytest.raises(ValueError, match="agent.id"):
        agent_id(tmp_path, "bad id with spaces")


def test_a_damaged_id_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / ID_FILE).write_text("\n")
    new = agent_id(tmp_path)
    assert new.startswith("h-") and agent_id(tmp_path) == new == (tmp_path / ID_FILE).read_text().strip()


def test_processes_starting_at_once_agree_on_one_id(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        ids = set(pool.map(agent_id, [tmp_path] * 16))
    assert len(ids) == 1

"""`homeshore map --from spool` finds the agent's spool as the agent does (probe/agent_state.py) and says what
that spool can hold. The console script runs as a planner runs it, in a clean environment."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from homeshore.collector.schema import Sample
from homeshore.collector.spool import Spool
from tests.cli.one_line import assert_one_line_exit_2

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
UNTIL = "2026-03-02T12:00:00+00:00"
UNTIL_NS = int(datetime(2026, 3, 2, 11, tzinfo=timezone.utc).timestamp()) * 10**9  # an hour before


def homeshore_map(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.run([str(CONSOLE_SCRIPT), "map", "--from", "spool", "--out", str(tmp_path / "map"), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_bad_agent_config_is_one_line(tmp_path: Path) -> None:
    assert_one_line_exit_2(homeshore_map(tmp_path, "--config", str(tmp_path / "missing.toml")),
                           "missing.toml", "config file not found")
    broken = tmp_path / "agent.toml"
    broken.write_text('[agent]\nstate_dri = "/tmp/x"\n', encoding="utf-8")
    assert_one_line_exit_2(homeshore_map(tmp_path, "--config", str(broken)), "unknown key agent.state_dri")


def agent_with_one_test(tmp_path: Path, collector_url: str) -> Path:
    """An agent.toml whose spool holds one speed test of a home in NG5 (as the agent writes it)."""
    state_dir = tmp_path / "state"
    with Spool(state_dir / "spool.sqlite3") as spool:
        spool.append([Sample("bandwidth", {"agent": "h-1", "area": "NG5", "conn": "wired", "server": "test"},
                             {"download_mbps": 40.0, "upload_mbps": 8.0, "idle_rtt_ms": 20.0}, UNTIL_NS)])
    config = tmp_path / "agent.toml"
    collector = f'[collector]\nurl = "{collector_url}"\n' if collector_url else ""
    config.write_text(f'[agent]\nstate_dir = "{state_dir}"\n{collector}', encoding="utf-8")
    return config


@pytest.mark.parametrize("collector_url", ["http://collector.example.org:8086", ""])
def test_a_map_from_the_spool_of_an_agent_with_a_collector_says_the_spool_holds_only_unsent_samples(
        collector_url: str, tmp_path: Path) -> None:
    config = agent_with_one_test(tmp_path, collector_url)
    result = homeshore_map(tmp_path, "--config", str(config), "--until", UNTIL, "--min-tests", "1",
                           "--min-peak-tests", "0", "--json")
    assert result.returncode == 0, result.stderr
    assert [area["area"] for area in json.loads(result.stdout)["areas"]] == ["NG5"]  # the spool was read
    notes = json.loads(result.stdout)["notes"]
    if collector_url:
        (note,) = notes
        assert "only samples not yet sent" in note and f"--from influx --url {collector_url}" in note, note
        assert result.stderr.splitlines() == [f"homeshore map: {note}"]
    else:
        assert notes == [] and result.stderr == ""

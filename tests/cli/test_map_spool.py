"""`homeshore map --from spool` finds the agent's spool as the agent does (probe/agent_state.py) and says what
that spool can hold. The console script runs as a planner runs it, in a clean environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.one_line import assert_one_line_exit_2

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")


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

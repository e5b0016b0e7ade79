"""One error style across every command: bad input gives one line `homeshore <command>: <message>`, exit 2, as
the installed console script prints it, whether click (usage errors), a command's UsageProblem or the command
itself made the line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.one_line import assert_one_line_exit_2

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")


@pytest.mark.parametrize("args, command, fragment", [
    (["nope"], "homeshore", "No such command 'nope'"),
    (["agent", "run", "--bogus"], "homeshore agent run", "No such option '--bogus'"),
    (["agent", "status", "--config", "/nonexistent.toml"], "homeshore agent status", "config file not found"),
    (["analyze", "/nonexistent.pcap"], "homeshore analyze", "no such file"),
    (["calls", "--iface", "nosuchif0"], "homeshore calls", "nosuchif0"),
    (["check", "--call-seconds", "0"], "homeshore check", "--call-seconds"),
    (["collector", "init", "--url", "http://127.0.0.1:9", "--secrets-dir", "S"], "homeshore collector init",
     "at least one writer"),
    (["collector", "query", "SHOW DATABASES", "--url", "ftp://collector"], "homeshore collector query",
     "http:// or https://"),
    (["map", "--from", "bogus", "--out", "S"], "homeshore map", "expected influx, spool"),
    (["serve", "--http-port", "99999"], "homeshore serve", "--http-port"),
])
def test_every_command_says_homeshore_command_colon_message(args: list[str], command: str, fragment: str,
                                                            tmp_path: Path) -> None:
    args = [str(tmp_path / "s") if arg == "S" else arg for arg in args]
    result = subprocess.run([str(CONSOLE_SCRIPT), *args], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    line = assert_one_line_exit_2(result, fragment)
    assert line.startswith(f"{command}: ") and "Error:" not in line, line
    assert not line[len(command) + 2:].startswith("homeshore"), line  # the prefix once, not twice

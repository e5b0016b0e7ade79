"""The contract every homeshore command keeps on bad input: one line on stderr, no traceback, exit code 2."""

from __future__ import annotations

import subprocess

from homeshore.cli.status import ExitStatus


def assert_one_line_exit_2(result: subprocess.CompletedProcess, *fragments: str, stdout_empty: bool = True) -> str:
    """The single stderr line, after checking it holds every fragment."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == ExitStatus.CANNOT_MEASURE, result
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    if stdout_empty:
        assert result.stdout == "", result.stdout
    return lines[0]

"""The `homeshore` group: its commands load lazily, and each one named is the one that runs."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from homeshore.cli.main import COMMANDS, cli

EXPECTED = {"agent", "analyze", "calls", "check", "candidates", "collector", "diagnose", "invite", "map", "serve"}


def test_every_command_resolves_to_a_click_command_of_its_name() -> None:
    assert set(COMMANDS) == EXPECTED
    context = click.Context(cli)
    for name in EXPECTED:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command)
        assert command.name == name
    assert cli.get_command(context, "nope") is None


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == EXPECTED
    assert "Score every RTP stream" in result.output


def test_one_command_does_not_import_the_others() -> None:
    """`homeshore analyze` must not pay for the agent's, the map's or the speed test's imports."""
    probe = (
        "import sys\n"
        "from homeshore.cli.main import main\n"
        "sys.argv = ['homeshore', 'analyze', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('homeshore.cli.'))))\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    loaded = set(output.strip().splitlines()[-1].split())
    assert "homeshore.cli.analyze" in loaded
    assert not loaded & {"homeshore.cli.agent", "homeshore.cli.map", "homeshore.cli.check", "homeshore.cli.serve",
                         "homeshore.cli.collector", "homeshore.cli.calls", "homeshore.cli.invite"}


def test_an_unknown_command_is_one_line_and_exit_2() -> None:
    result = subprocess.run([sys.executable, "-m", "homeshore.cli.main", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "No such command 'nope'" in result.stderr

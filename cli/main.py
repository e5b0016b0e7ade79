"""The `homeshore` command group."""

from __future__ import annotations

import importlib
import sys

import click

from homeshore import __version__
from homeshore.cli.errors import PROGRAM, error_line
from homeshore.cli.status import ExitStatus

# command name -> (module, attribute): each command's module is imported only when that command runs (or help
# lists them all), so `homeshore analyze` on a small file does not pay for the agent's or the map's imports.
COMMANDS = {
    "agent": ("homeshore.cli.agent", "agent"),
    "analyze": ("homeshore.cli.analyze", "analyze"),
    "calls": ("homeshore.cli.calls", "calls"),
    "candidates": ("homeshore.cli.candidates", "candidates"),
    "check": ("homeshore.cli.check", "check"),
    "collector": ("homeshore.cli.collector", "collector"),
    "diagnose": ("homeshore.cli.diagnose", "diagnose"),
    "invite": ("homeshore.cli.invite", "invite"),
    "map": ("homeshore.cli.map", "map_command"),
    "serve": ("homeshore.cli.serve", "serve"),
}


class LazyGroup(click.Group):
    """click's documented lazy-loading group: commands named in COMMANDS, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        module, attribute = COMMANDS[name]
        command = getattr(importlib.import_module(module), attribute)
        if command.name != name:
            raise RuntimeError(f"{module}.{attribute} is named {command.name!r}, not {name!r}")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="homeshore")
def cli() -> None:
    """Network readiness and call quality for contact-centre homeworkers."""


def main() -> None:
    try:
        status = cli.main(prog_name=PROGRAM, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except click.UsageError as error:  # one line, as every other failure, not click's usage block
        command = error.ctx.command_path if error.ctx is not None else PROGRAM
        click.echo(error_line(command, f"{error.format_message()} (see {command} --help)"), err=True)
        sys.exit(ExitStatus.CANNOT_MEASURE)
    except click.ClickException as error:  # a UsageProblem names its command; click's own (FileError) the program
        click.echo(error_line(getattr(error, "command", PROGRAM), error.format_message()), err=True)
        sys.exit(error.exit_code)
    except BrokenPipeError:
        sys.exit(ExitStatus.OK)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)


if __name__ == "__main__":
    main()

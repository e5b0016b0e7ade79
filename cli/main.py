"""The `homeshore` command group."""

from __future__ import annotations

import sys

import click

from homeshore import __version__
from homeshore.cli.agent import agent
from homeshore.cli.analyze import analyze
from homeshore.cli.calls import calls
from homeshore.cli.check import check
from homeshore.cli.collector import collector
from homeshore.cli.map import map_command
from homeshore.cli.serve import serve
from homeshore.cli.status import ExitStatus


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="homeshore")
def cli() -> None:
    """Network readiness and call quality for contact-centre homeworkers."""


cli.add_command(agent)
cli.add_command(analyze)
cli.add_command(calls)
cli.add_command(check)
cli.add_command(collector)
cli.add_command(map_command)
cli.add_command(serve)


def main() -> None:
    try:
        status = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except click.UsageError as error:  # one line, as every other failure, not click's usage block
        command = error.ctx.command_path if error.ctx is not None else "homeshore"
        click.echo(f"{command}: {error.format_message()} (see {command} --help)", err=True)
        sys.exit(ExitStatus.CANNOT_MEASURE)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except BrokenPipeError:
        sys.exit(ExitStatus.OK)
    sys.exit(status if isinstance(status, int) else ExitStatus.OK)


if __name__ == "__main__":
    main()

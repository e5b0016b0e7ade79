"""User-facing failures: one line on stderr and the exit code of `ExitStatus`, never a traceback.

Every such line reads `homeshore <command>: <message>` (`error_line`), whoever made it: a `UsageProblem` a
command raises, click's own usage errors (cli/main.py) and the lines commands print themselves."""

import click

from homeshore.cli.status import ExitStatus

PROGRAM = "homeshore"


def error_line(command: str, message: str) -> str:
    """`homeshore collector init: <message>` (command: the command path, "homeshore" for the group itself)."""
    return f"{command or PROGRAM}: {message}"


def current_command() -> str:
    """The path of the command running now ("homeshore map"), or "homeshore" outside any command."""
    ctx = click.get_current_context(silent=True)
    return ctx.command_path if ctx is not None else PROGRAM


class UsageProblem(click.ClickException):
    """Bad input the user can fix: a missing or corrupt file, an unknown option value. Remembers the command
    that raised it, for its line."""

    exit_code = ExitStatus.CANNOT_MEASURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.command = current_command()

    def show(self, file=None) -> None:
        click.echo(error_line(self.command, self.format_message()), err=True, file=file)

"""User-facing failures: one line on stderr and the exit code of `ExitStatus`, never a traceback."""

import click

from homeshore.cli.status import ExitStatus


class UsageProblem(click.ClickException):
    """Bad input the user can fix: a missing or corrupt file, an unknown option value."""

    exit_code = ExitStatus.CANNOT_MEASURE

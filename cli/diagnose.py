"""`homeshore diagnose`: why did this call sound bad? The call of an agent around a time, window by window, and its
poor stretches in plain words (planning/diagnosis.py), from the local spool or the collector.

Exit 0 with a diagnosis, 1 when no call is near that time (an answer: nothing to diagnose), 2 for bad input or a
source that cannot be read (one line)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import click

from homeshore.cli.agent import CONFIG_OPTION
from homeshore.cli.errors import UsageProblem
from homeshore.cli.collector_source import collector_options, from_option, read_source
from homeshore.cli.status import ExitStatus

_NS = 1_000_000_000
TIME_HELP = """\b
TIME: HH:MM or HH:MM:SS (today), or ISO-8601 (2026-12-06T10:40, or with an
offset: 2026-12-06T10:40+01:00). A time without an offset, and every time
shown, is in this machine's local time zone (the TZ environment variable,
else /etc/localtime); TZ=Europe/London homeshore diagnose ... to choose one.
"""


def _zone_name() -> str:
    return datetime.now().astimezone().tzname() or "local time"


@click.command("diagnose", epilog=TIME_HELP)
@click.option("--agent", required=True, metavar="ID", help="The agent (the homeworker's machine) as it tags samples.")
@click.option("--at", "at_text", required=True, metavar="TIME", help="When the call sounded bad (see below).")
@click.option("--within", "within_min", type=click.FloatRange(min=0.1, max=1440), default=15.0, show_default=True,
              help="Minutes either side of TIME to look for the call.")
@from_option
@collector_options
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@CONFIG_OPTION
def diagnose(agent: str, at_text: str, within_min: float, source: str, url: str | None, database: str,
             retention_policy: str, username: str, password_file: str | None, token_file: str | None,
             as_json: bool, config_path: Path | None) -> int:
    """Why a call sounded bad: the call of an agent around TIME, window by window (MOS, jitter, loss per
    direction) and the cause of its poor windows, in plain words first."""
    from homeshore.planning.diagnosis import diagnose as diagnosis_of
    from homeshore.planning.diagnosis import CALL_SPAN_S, parse_at
    from homeshore.planning.diagnosis_source import influx_windows, spool_windows

    try:
        at = parse_at(at_text, date.today())
    except ValueError as error:
        raise UsageProblem(f"--at: {error}") from None
    at_ns = int(at.timestamp()) * _NS
    within_ns = round(within_min * 60 * _NS)
    influx = dict(url=url, database=database, retention_policy=retention_policy, username=username,
                  password_file=password_file, token_file=token_file)
    reach_ns = within_ns + CALL_SPAN_S * _NS  # the call found near TIME, whole
    since_ns, until_ns = at_ns - reach_ns, at_ns + reach_ns
    windows, notes = read_source(
        source, influx, config_path, what="call windows",
        from_spool=lambda path: spool_windows(path, agent, since_ns, until_ns),
        from_collector=lambda client: influx_windows(client, agent, since_ns, until_ns))
    diagnosis = diagnosis_of(windows, at_ns, within_ns)
    if as_json:
        from homeshore.cli.diagnose_view import document

        click.echo(json.dumps(document(agent, at_ns, diagnosis, None, notes)))
    elif diagnosis is None:
        when = datetime.fromtimestamp(at_ns // _NS).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"no call of agent {agent} within {within_min:g} min of {when} ({_zone_name()})")
    else:
        _render(diagnosis)
    for note in notes:
        click.echo(f"homeshore diagnose: {note}", err=True)
    return ExitStatus.OK if diagnosis is not None else ExitStatus.FAILED


def _render(diagnosis) -> None:
    from rich.console import Console

    from homeshore.cli.diagnose_view import windows_table
    from homeshore.planning.diagnosis import summary_lines

    console = Console()
    for line in summary_lines(diagnosis, None):
        console.print(line, markup=False, highlight=False)
    console.print()
    console.print(windows_table(diagnosis, None, _zone_name()))

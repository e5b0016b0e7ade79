"""`homeshore candidates`: the candidate checks (readiness results with a candidate reference), newest first, from
the local spool or the collector, with each browser check's report on the server (`/r/CHECK_ID`; a URL with
`--base-url`, as `homeshore invite` takes it). Exit 0 with the list, even an empty one; 2 for bad input or a
source that cannot be read (one line)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from homeshore.cli.agent import CONFIG_OPTION
from homeshore.cli.collector_source import collector_options, from_option, read_source
from homeshore.cli.errors import UsageProblem
from homeshore.cli.invite import base_url
from homeshore.cli.status import ExitStatus

_NS = 1_000_000_000


@click.command("candidates")
@click.option("--since", "since_text", default="7d", show_default=True, metavar="7d|DATE",
              help="Checks in the last N days, or since a date (2026-12-01, local midnight).")
@from_option
@collector_options
@click.option("--base-url", "base_url_text", envvar="HOMESHORE_BASE_URL", metavar="https://HOST",
              help="Where recruiters reach `homeshore serve`: browser checks' reports are shown as URLs there "
              "(env HOMESHORE_BASE_URL; without it, their paths).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@CONFIG_OPTION
def candidates(since_text: str, source: str, url: str | None, database: str, retention_policy: str,
               username: str, password_file: str | None, token_file: str | None, base_url_text: str | None,
               as_json: bool, config_path: Path | None) -> int:
    """The candidate checks, newest first: reference, time, area (postcode district), verdict, the criteria
    not passed, where the check ran (cli, agent, browser) and the policy that judged it."""
    from homeshore.planning.candidates import newest_first, parse_since
    from homeshore.planning.candidates_source import influx_checks, spool_checks

    try:
        since = parse_since(since_text, datetime.now().astimezone())
    except ValueError as error:
        raise UsageProblem(f"--since: {error}") from None
    since_ns = int(since.timestamp()) * _NS
    base = base_url(base_url_text) if base_url_text is not None else None
    influx = dict(url=url, database=database, retention_policy=retention_policy, username=username,
                  password_file=password_file, token_file=token_file)
    checks, notes = read_source(source, influx, config_path, what="checks",
                                from_spool=lambda path: spool_checks(path, since_ns),
                                from_collector=lambda client: influx_checks(client, since_ns))
    checks = newest_first(checks)
    if as_json:
        from homeshore.cli.candidates_view import document

        click.echo(json.dumps(document(checks, since_ns, None, notes, base)))
    elif not checks:
        click.echo(f"no candidate checks since {since.strftime('%Y-%m-%d %H:%M')}")
    else:
        from rich.console import Console

        from homeshore.cli.candidates_view import checks_table, report_lines

        console = Console()
        table, legend = checks_table(checks, None, datetime.now().astimezone().tzname() or "local time")
        console.print(table)
        for line in legend + report_lines(checks, base):
            console.print(line, markup=False, highlight=False)
    for note in notes:
        click.echo(f"homeshore candidates: {note}", err=True)
    return ExitStatus.OK

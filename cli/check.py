"""`homeshore check`: is this home ready for call work? One run, a verdict per criterion, a report, a stored result.

Everything the user typed is checked before the first packet leaves (a bad URL, postcode, policy file or report
path costs no 60-second test). The measurement modules are imported when the command runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from homeshore.cli.agent import CONFIG_OPTION
from homeshore.cli.errors import UsageProblem
from homeshore.cli.status import ExitStatus
from homeshore.planning.candidate_ref import CANDIDATE_REF, CANDIDATE_REF_RULE


def _server(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value.lower() == "ookla":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{value!r} is not a server URL (e.g. http://collector.example.org:8080), "
                                 "nor 'ookla'")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        raise click.BadParameter(f"{value!r} has an invalid port") from None
    return value.rstrip("/")


def _candidate(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not CANDIDATE_REF.match(value):
        raise click.BadParameter(CANDIDATE_REF_RULE)
    return value


def _area(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from homeshore.planning.postcode import PostcodeError, postcode_district

    if value is None:
        return None
    try:
        return postcode_district(value)
    except PostcodeError as error:
        raise click.BadParameter(str(error)) from None


def _report_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None and not value.parent.is_dir():
        raise click.BadParameter(f"{value}: the directory {value.parent} does not exist")
    return value


@click.command()
@click.option("--server", metavar="URL", callback=_server,
              help="URL of the contact centre's `homeshore serve` (default: speedtest.net, speeds only).")
@click.option("--candidate", metavar="REF", callback=_candidate, help="Candidate reference, kept with the result.")
@click.option("--postcode", metavar="PC", callback=_area,
              help="The home's postcode; only its district (e.g. NG5) is kept.")
@click.option("--quick", is_flag=True, help="A shorter check (under 20 s) with the same measurements.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (DESIGN.md's contract).")
@click.option("--report", "report", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              callback=_report_path, metavar="FILE.html", help="Write a self-contained HTML report here.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.toml",
              help="Readiness policy ([policy] table) instead of the defaults.")
@click.option("--call-seconds", type=click.FloatRange(min=2, max=600), default=None, metavar="S",
              help="Length of the synthetic call (default 30, 5 with --quick).")
@CONFIG_OPTION
@click.pass_context
def check(ctx: click.Context, server: str | None, candidate: str | None, postcode: str | None, quick: bool,
          as_json: bool, report: Path | None, policy_file: Path | None, call_seconds: float | None,
          config_path: Path | None) -> None:
    """Check whether this home's broadband can take calls: speeds, round trip idle and under load, jitter,
    loss and a synthetic G.711 call, each judged against the readiness policy.

    The result is kept in the agent's spool (the state directory of the agent's configuration), which the
    agent sends to the collector.

    Exit code 0 pass (warnings included), 1 fail, 2 could not measure (server unreachable or stopped answering
    mid-check, bad input).
    """
    import dataclasses

    from homeshore.planning.policy import PolicyError
    from homeshore.planning.policy_file import load_policy, policy_origin
    from homeshore.planning.readiness import DEFAULT_POLICY
    from homeshore.probe.agent_config import ConfigError, load_config
    from homeshore.probe.check_pipeline import checked_home
    from homeshore.probe.check_run import CheckCannotStart, CheckPlan

    try:
        policy = load_policy(policy_file) if policy_file is not None else DEFAULT_POLICY
        origin = policy_origin(policy_file)
    except PolicyError as error:
        raise UsageProblem(str(error)) from None
    try:
        config = load_config(config_path)  # where the result is kept: checked before anything is measured
    except ConfigError as error:
        raise UsageProblem(str(error)) from None
    plan = CheckPlan.quick(server) if quick else CheckPlan(server)
    if call_seconds is not None:
        plan = dataclasses.replace(plan, call_s=call_seconds)

    try:
        with _progress(enabled=not as_json and sys.stderr.isatty()) as progress:
            document = checked_home(plan, policy, candidate=candidate, area=postcode, progress=progress,
                                    policy_origin=origin)
    except CheckCannotStart as error:
        click.echo(f"homeshore check: {error}", err=True)
        ctx.exit(ExitStatus.CANNOT_MEASURE)

    stored = _store(document, config)
    if report is not None:
        _write_report(report, document)
    if as_json:
        click.echo(json.dumps(document))
    else:
        from rich.console import Console

        from homeshore.cli.check_view import verdict_panel

        Console().print(verdict_panel(document))
        if report is not None:
            click.echo(f"report written to {report}")
    click.echo(f"homeshore check: {stored}", err=True)
    if document["verdict"] == "FAIL":
        ctx.exit(ExitStatus.FAILED)
    ctx.exit(ExitStatus.CANNOT_MEASURE if document["could_not_measure"] else ExitStatus.OK)


def _write_report(path: Path, document: dict) -> None:
    from homeshore.cli.check_report import render_check_report

    try:
        path.write_text(render_check_report(document), encoding="utf-8")
    except OSError as error:
        raise UsageProblem(f"cannot write the report {path}: {error.strerror}") from None


def _store(document: dict, config) -> str:
    """Keep the result in the local store, the spool of the agent `config` describes (probe/agent_state.py);
    what happened, in words for the user."""
    import sqlite3

    from homeshore.collector.check_samples import check_samples
    from homeshore.collector.spool import Spool
    from homeshore.probe.agent_state import place_of

    try:
        place = place_of(config)
        samples = check_samples(document, agent=place.agent_id(), source="cli")
        path = place.spool_path
        with Spool(path) as spool:
            spool.append(samples)
    except (OSError, ValueError, sqlite3.Error) as error:  # the measurement stands; only keeping it failed
        return f"could not keep the result in the local store: {error}"
    return f"result kept in the local store {path} (it reaches the collector once one is configured)"


class _progress:
    """Per-phase progress bars on stderr (rich), or nothing; used as `with _progress(...) as progress:` where
    progress(phase, fraction, note) is what run_check calls."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars = None
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        if not self.enabled:
            return lambda phase, fraction, note: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bars = Progress(TextColumn("{task.description:<26}"), BarColumn(), TimeRemainingColumn(),
                              console=Console(stderr=True), transient=True)
        self._bars.start()
        return self.update

    def update(self, phase: str, fraction: float, note: str) -> None:
        descriptions = {"call": "synthetic call (idle link)", "download": "download + RTT under load",
                        "upload": "upload + RTT under load"}
        if phase not in self._tasks:
            self._tasks[phase] = self._bars.add_task(descriptions.get(phase, phase), total=1.0)
        self._bars.update(self._tasks[phase], completed=min(1.0, max(0.0, fraction)))

    def __exit__(self, *exc_info) -> None:
        if self._bars is not None:
            self._bars.stop()

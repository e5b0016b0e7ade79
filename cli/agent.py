"""`homeshore agent`: the daemon (`agent run`) and its state (`agent status`).

`agent run` stays in the foreground (systemd or launchd runs it) and logs to stderr, one line per event,
each starting `homeshore agent:`. A bad configuration stops it before anything runs: one line naming the file
and the key, exit 2. SIGTERM and SIGINT stop it (exit 0 within 5 s); SIGHUP reloads the configuration.

`agent status` reads the spool directly and the status file the daemon keeps in its state directory. Exit
code: 0 when the agent is running and its last write to the collector succeeded (or no collector is
configured), 1 when it is not running or its writes are failing (so a monitoring check can call it), 2 for a
bad configuration.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click

from homeshore.cli.errors import error_line
from homeshore.cli.status import ExitStatus

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
    help="The agent's TOML configuration (default: /etc/homeshore/agent.toml, then "
         "$XDG_CONFIG_HOME/homeshore/agent.toml; HOMESHORE_<SECTION>_<KEY> overrides either).")


@click.group()
def agent() -> None:
    """The monitoring agent that runs on a homeworker's machine."""


def _fail(ctx: click.Context, message: str) -> None:
    click.echo(error_line(ctx.command_path, message), err=True)
    ctx.exit(ExitStatus.CANNOT_MEASURE)


@agent.command("run")
@CONFIG_OPTION
@click.option("--self-metrics-interval", "self_metrics_s", type=click.FloatRange(min=0.1), default=60.0,
              hidden=True, help="Seconds between `agent` samples (tests).")
@click.option("--quick-speedtest", is_flag=True, hidden=True, help="Speed tests of 15 s instead of 50 s (tests).")
@click.pass_context
def run(ctx: click.Context, config_path: Path | None, self_metrics_s: float, quick_speedtest: bool) -> None:
    """Run the agent in the foreground until SIGTERM or Ctrl-C (SIGHUP reloads the configuration)."""
    from homeshore.probe.agent import Agent, AgentError, resolve
    from homeshore.probe.agent_config import ConfigError, load_config
    from homeshore.probe.check_run import CheckPlan

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="homeshore agent: %(message)s", force=True)
    try:
        runtime = resolve(load_config(config_path), os.environ)
    except (ConfigError, AgentError) as error:
        _fail(ctx, str(error))
    daemon = Agent(runtime, config_path=config_path, self_metrics_interval_s=self_metrics_s,
                   speedtest_plan=CheckPlan.quick if quick_speedtest else None)
    handlers = {signal.SIGTERM: daemon.request_stop, signal.SIGINT: daemon.request_stop,
                signal.SIGHUP: daemon.request_reload}
    previous = {number: signal.signal(number, lambda _n, _f, act=act: act()) for number, act in handlers.items()}
    try:
        code = daemon.run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    logging.shutdown()
    if any(thread.daemon and thread.is_alive() for thread in threading.enumerate()):
        # A speed test or a write still running: the process must still exit now (their work is in the spool
        # or is abandoned), and interpreter teardown under a running sqlite3 or socket call is not worth risking.
        sys.stderr.flush()
        os._exit(code)
    ctx.exit(code)


@agent.command("status")
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def status(ctx: click.Context, config_path: Path | None, as_json: bool) -> None:
    """Spool depth, oldest unsent sample, last successful write, last speed test and capture health.

    Exit code 0 running and writing, 1 not running or writes failing, 2 bad configuration."""
    import sqlite3

    from homeshore.collector.spool import Spool
    from homeshore.probe.agent_state import agent_place
    from homeshore.probe.agent_status import agent_running, read_status, status_report

    try:
        place = agent_place(config_path)
    except ValueError as error:
        _fail(ctx, str(error))
    stats = None
    state_dir, path = place.state_dir, place.spool_path
    if path.exists():
        try:
            with Spool(path) as spool:
                stats = spool.stats()
        except (sqlite3.Error, OSError) as error:
            _fail(ctx, f"cannot read the spool {path}: {error}")
    now = time.time()
    kept = read_status(state_dir)
    running = agent_running(kept, now)
    report = status_report(kept, stats, now, running=running, state_dir=state_dir)
    if as_json:
        click.echo(json.dumps(report))
    else:
        from rich.console import Console

        Console().print(status_panel(report))
    healthy = running and report["collector"]["state"] != "failing"
    ctx.exit(ExitStatus.OK if healthy else ExitStatus.FAILED)


def status_panel(report: dict):
    """The rich rendering of `status_report` (pure)."""
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    spool, collector = report["spool"], report["collector"]
    speedtest, capture = report["speedtest"], report["capture"]
    table.add_row("agent", f"running (pid {report['pid']})" if report["running"] else "not running")
    table.add_row("state", report["state_dir"])
    oldest = f", oldest unsent {spool['oldest_unsent']}" if spool["oldest_unsent"] else ""
    table.add_row("spool", f"{spool['rows']} samples waiting{oldest}; {spool['dropped']} dropped, "
                           f"{spool['quarantined']} quarantined")
    if collector["description"]:
        table.add_row("collector", f"{collector['description']}: {collector['state']}")
        table.add_row("last write", collector["last_write_ok"] or "none yet")
        if collector["last_write_error"]:
            table.add_row("last error", f"{collector['last_write_error_at']}: {collector['last_write_error']}")
    else:
        table.add_row("collector", "none configured: samples stay in the local spool")
    last = speedtest["last"] or "none yet"
    if speedtest["last"]:
        last += " ok" if speedtest["last_ok"] else f" failed: {speedtest['last_error']}"
    table.add_row("speed test", f"last {last}; next {speedtest['next'] or 'unknown'}")
    where = ", ".join(capture["interfaces"])
    last = (f"{capture['last_state'] or 'unknown'}" + (f" on {where}" if where else "")
            + (f", {capture['packets']} packets, {capture['drops']} dropped" if capture["packets"] is not None
               else ""))
    if not report["running"] and capture["last_state"]:
        last = f"not running (last status {capture['as_of']}: {last})"
    table.add_row("capture", last)
    return Panel(table, title="homeshore agent", expand=False)

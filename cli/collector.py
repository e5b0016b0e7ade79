"""`homeshore collector`: set up the InfluxDB a contact centre's agents write to, and query it.

`init` provisions a collector (collector/provision.py says what, provision_v1.py / provision_v2.py how), writes
each generated password or token to its own 0600 file in --secrets-dir (0700) and prints, for each writer, the
agent's [collector] section. Secrets are never printed: the snippet names the file to copy. Running it again
creates nothing and reports every object `present`.

`query` runs one InfluxQL request over /query and prints a table (or JSON), for IT support.

Every failure is one line and exit 2: bad options, an admin secret file others can read, the collector not
reachable (the line names the URL), credentials refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from homeshore.cli.errors import UsageProblem, current_command, error_line
from homeshore.cli.secret_files import read_secret
from homeshore.collector.url_hints import with_hint


@click.group()
def collector() -> None:
    """Provision and query the InfluxDB collector."""


def _secret(file_text: str | None, option: str, env_name: str) -> str:
    if file_text:
        return read_secret(file_text, option)
    return os.environ.get(env_name, "")


def _failure(error: Exception, url: str) -> UsageProblem:
    kind = getattr(error, "kind", "")
    if kind == "unauthorized":
        return UsageProblem(f"the collector at {url} refused the admin credentials")
    if kind == "no_admin":
        return UsageProblem(f"the collector at {url} has no admin user yet: create one first with "
                            "CREATE USER \"admin\" WITH PASSWORD '...' WITH ALL PRIVILEGES "
                            "(e.g. influx -execute), then run init with --admin-user admin")
    if kind == "forbidden":
        return UsageProblem(f"the collector at {url}: the admin credentials lack the rights needed ({error})")
    if kind == "unreachable":
        return UsageProblem(with_hint(str(error), url, str(error)))
    return UsageProblem(with_hint(f"the collector at {url}: {error}", url, str(error)))


@collector.command()
@click.option("--url", required=True, metavar="URL", help="The collector, e.g. https://collector.example.org:8086.")
@click.option("--api", type=click.Choice(["v1", "v2"]), default="v1", show_default=True,
              help="v1: InfluxDB 1.x; v2: InfluxDB 2.x (influxdb-client).")
@click.option("--database", default="homeshore", show_default=True, metavar="NAME",
              help="The database (v1) or the raw bucket (v2; the hourly one is NAME_hourly).")
@click.option("--writer", "writers", multiple=True, metavar="NAME",
              help="A write-only user (v1) or token (v2), one per agent or per site; repeat the option.")
@click.option("--reader", default="grafana", show_default=True, metavar="NAME",
              help="The read-only user or token for Grafana and the CLI.")
@click.option("--secrets-dir", required=True, metavar="DIR",
              help="Where each new password or token is written, one 0600 file per user (DIR is made 0700).")
@click.option("--admin-user", default="", metavar="NAME", help="v1: an admin user to provision with.")
@click.option("--admin-password-file", default=None, metavar="FILE",
              help="v1: a 0600 file holding the admin's password (else $HOMESHORE_ADMIN_PASSWORD).")
@click.option("--org", default="", metavar="ORG", help="v2: the organization.")
@click.option("--admin-token-file", default=None, metavar="FILE",
              help="v2: a 0600 file holding an operator or all-access token (else $HOMESHORE_ADMIN_TOKEN).")
@click.option("--json", "as_json", is_flag=True, help="Print what was created or already present as JSON.")
def init(url: str, api: str, database: str, writers: tuple[str, ...], reader: str, secrets_dir: str,
         admin_user: str, admin_password_file: str | None, org: str, admin_token_file: str | None,
         as_json: bool) -> None:
    """Provision a collector: storage, retention, downsampling and write-only credentials for agents."""
    from homeshore.collector.provision import PlanError, agent_snippet_v1, agent_snippet_v2, v1_plan, v2_plan
    from homeshore.collector.provision_v1 import SecretStore

    try:
        plan = v1_plan(database, writers, reader) if api == "v1" else v2_plan(org, database, writers, reader)
    except PlanError as error:
        raise UsageProblem(str(error)) from None
    store = SecretStore(Path(secrets_dir))
    if api == "v1":
        outcomes = _init_v1(url, plan, store, admin_user,
                            _secret(admin_password_file, "--admin-password-file", "HOMESHORE_ADMIN_PASSWORD"))
    else:
        token = _secret(admin_token_file, "--admin-token-file", "HOMESHORE_ADMIN_TOKEN")
        if not token:
            raise UsageProblem("--api v2 needs an admin token: --admin-token-file FILE or $HOMESHORE_ADMIN_TOKEN")
        outcomes = _init_v2(url, plan, store, token)

    files = {o.name: o.secret_file for o in outcomes if o.kind in ("user", "authorization")}
    snippets = {}
    for user in plan.users:
        if user.role == "writer":
            snippets[user.name] = (agent_snippet_v1(url, database, user.name, files.get(user.name, ""))
                                   if api == "v1" else
                                   agent_snippet_v2(url, org, database, user.name, files.get(user.name, "")))
    if as_json:
        click.echo(json.dumps({"url": url, "api": api, "secrets_dir": str(store.directory),
                               "objects": [o.__dict__ for o in outcomes], "agent_config": snippets}, indent=2))
        return
    for outcome in outcomes:
        where = f"  ({outcome.secret_file})" if outcome.secret_file else ""
        click.echo(f"{outcome.status:<9} {outcome.kind.replace('_', ' ')} {outcome.name}{where}")
    for user in plan.users:
        if files.get(user.name) == "":
            click.echo(f"note: {user.name} existed before and {store.directory} has no secret for it; "
                       "its agents keep the one they have", err=True)
    for snippet in snippets.values():
        click.echo("")
        click.echo(snippet, nl=False)


def _init_v1(url: str, plan, store, admin_user: str, admin_password: str):
    from homeshore.collector.provision import PlanError
    from homeshore.collector.provision_v1 import provision_v1
    from homeshore.collector.query import QueryClient, QueryError

    if admin_password and not admin_user:
        raise UsageProblem("an admin password was given without --admin-user")
    try:
        client = QueryClient(url, database="", username=admin_user, password=admin_password)
    except ValueError as error:
        raise UsageProblem(f"--url: {error}") from None
    try:
        return provision_v1(client, plan, store)
    except QueryError as error:
        raise _failure(error, client.url) from None
    except PlanError as error:
        raise UsageProblem(str(error)) from None
    except OSError as error:
        raise UsageProblem(f"--secrets-dir: cannot write to {store.directory}: {error.strerror}") from None


def _init_v2(url: str, plan, store, token: str):
    from influxdb_client import InfluxDBClient

    from homeshore.collector.provision_v2 import ProvisionError, provision_v2

    if not url.startswith(("http://", "https://")):
        raise UsageProblem(f"--url must be http:// or https://HOST[:PORT], not {url!r}")
    client = InfluxDBClient(url=url, token=token, org=plan.org, timeout=30_000, retries=False)
    try:
        return provision_v2(client, plan, store)
    except ProvisionError as error:
        problem = (_failure(error, url) if error.kind in ("unreachable", "unauthorized")
                   else UsageProblem(with_hint(str(error), url, str(error))))
        raise problem from None
    except OSError as error:
        raise UsageProblem(f"--secrets-dir: cannot write to {store.directory}: {error.strerror}") from None
    finally:
        client.close()


@collector.command()
@click.argument("influxql")
@click.option("--url", required=True, metavar="URL", help="The collector.")
@click.option("--database", default="homeshore", show_default=True, metavar="NAME")
@click.option("--retention-policy", default="", metavar="RP", help="e.g. hourly; empty: the default (raw).")
@click.option("--username", default="", metavar="NAME", help="v1: a user with READ, e.g. grafana.")
@click.option("--password-file", default=None, metavar="FILE", help="v1: a 0600 file holding its password.")
@click.option("--token-file", default=None, metavar="FILE", help="v2/v3: a 0600 file holding a read token.")
@click.option("--json", "as_json", is_flag=True, help="Print the series as JSON.")
def query(influxql: str, url: str, database: str, retention_policy: str, username: str,
          password_file: str | None, token_file: str | None, as_json: bool) -> None:
    """Run an InfluxQL query against the collector and print the result."""
    from rich.console import Console

    from homeshore.cli.query_view import series_table
    from homeshore.collector.query import QueryClient, QueryError

    password = read_secret(password_file, "--password-file") if password_file else ""
    token = read_secret(token_file, "--token-file") if token_file else ""
    try:
        client = QueryClient(url, database=database, retention_policy=retention_policy, username=username,
                             password=password, token=token)
        series = client.query(influxql)
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    except QueryError as error:
        raise UsageProblem(str(error) if error.kind == "unreachable" else f"the collector at {url}: {error}") \
            from None
    if as_json:
        click.echo(json.dumps([{"name": s.name, "tags": dict(s.tags), "columns": list(s.columns),
                                "values": [list(v) for v in s.values]} for s in series]))
        return
    console = Console()
    for one in series:
        console.print(series_table(one))
    if not series:
        click.echo("no results")


@collector.command()
@click.option("--url", required=True, metavar="URL", help="The collector.")
@click.option("--webhook", required=True, metavar="URL",
              help="Where each incident is POSTed as JSON when it starts and when it ends.")
@click.option("--state-file", required=True, metavar="FILE",
              help="The open incidents, kept across restarts so an incident is sent once.")
@click.option("--database", default="homeshore", show_default=True, metavar="NAME")
@click.option("--username", default="", metavar="NAME", help="v1: a user with READ, e.g. grafana.")
@click.option("--password-file", default=None, metavar="FILE", help="v1: a 0600 file holding its password.")
@click.option("--token-file", default=None, metavar="FILE", help="v2/v3: a 0600 file holding a read token.")
@click.option("--once", is_flag=True, help="Evaluate once and exit (e.g. from cron).")
@click.option("--interval", "interval_s", type=float, default=None, metavar="S",
              help="Seconds between evaluations (default 30, Grafana's group interval).")
def alerts(url: str, webhook: str, state_file: str, database: str, username: str, password_file: str | None,
           token_file: str | None, once: bool, interval_s: float | None) -> None:
    """Evaluate the alert rules (dashboards/provisioning/alerting) and POST each incident to a webhook when it starts
    and when it ends."""
    import time

    from homeshore.collector.alert_rules import GROUP_INTERVAL
    from homeshore.collector.alert_webhook import check_webhook_url, load_state, run_once
    from homeshore.collector.query import QueryClient, QueryError

    if once and interval_s is not None:
        raise UsageProblem("give --once or --interval, not both")
    if interval_s is not None and not interval_s > 0:
        raise UsageProblem(f"--interval must be a positive number of seconds, not {interval_s:g}")
    period_s = interval_s if interval_s is not None else float(GROUP_INTERVAL.rstrip("s"))
    state_path = Path(state_file)
    if not state_path.parent.is_dir():
        raise UsageProblem(f"--state-file: the directory {state_path.parent} does not exist")
    password = read_secret(password_file, "--password-file") if password_file else ""
    token = read_secret(token_file, "--token-file") if token_file else ""
    try:
        check_webhook_url(webhook)
        load_state(state_path)
        client = QueryClient(url, database=database, username=username, password=password, token=token)
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    while True:
        started_s = time.monotonic()
        try:
            evaluation, problems = run_once(client, webhook, state_path, int(time.time() * 1000))
        except QueryError as error:
            problem = UsageProblem(str(error) if error.kind == "unreachable" else f"the collector at {url}: {error}")
            if once:
                raise problem from None
            problem.show()  # a collector down for a while does not end the evaluator: try again next period
        except OSError as error:  # the state file's directory not writable
            raise UsageProblem(f"--state-file {state_path}: {error.strerror or error}") from None
        else:
            for line in problems:
                click.echo(error_line(current_command(), line), err=True)
            click.echo(f"{evaluation.firing} firing, {evaluation.sent} new incidents sent, {evaluation.resolved} "
                       f"resolved, {evaluation.failed} failed")
            if once:
                if evaluation.failed:
                    raise SystemExit(1)
                return
        time.sleep(max(0.0, period_s - (time.monotonic() - started_s)))

"""Reading the collector or the agent's spool for a report command (`map`, `diagnose`): the options turned into a
client, and every failure into one line (a UsageProblem, exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from homeshore.cli.errors import UsageProblem
from homeshore.cli.secret_files import read_secret

T = TypeVar("T")


def read_collector(influx: dict, read: Callable[..., T]) -> T:
    """`read(client)` on a QueryClient made from the --url, --database, --retention-policy, --username,
    --password-file and --token-file options (`influx`, by option name with underscores)."""
    from homeshore.collector.query import QueryClient, QueryError

    if not influx["url"]:
        raise UsageProblem("--from influx needs --url (the collector) and a reader's credentials")
    password = read_secret(influx["password_file"], "--password-file") if influx["password_file"] else ""
    token = read_secret(influx["token_file"], "--token-file") if influx["token_file"] else ""
    try:
        client = QueryClient(influx["url"], database=influx["database"],
                             retention_policy=influx["retention_policy"], username=influx["username"],
                             password=password, token=token)
        return read(client)
    except ValueError as error:
        raise UsageProblem(f"--url: {error}") from None
    except QueryError as error:
        raise UsageProblem(str(error) if error.kind == "unreachable"
                           else f"the collector at {influx['url']}: {error}") from None


def agent_spool(config_path: Path | None) -> tuple[Path, str]:
    """(the agent's spool, its collector's URL or "") as the agent's configuration says (probe/agent_state.py)."""
    from homeshore.probe.agent_state import agent_place

    try:
        place = agent_place(config_path)
    except ValueError as error:
        raise UsageProblem(f"--from spool: {error}") from None
    return place.spool_path, place.config.collector.url


def collector_options(command: Callable[..., T]) -> Callable[..., T]:
    """The options `read_collector` takes (--url, --database, --retention-policy, --username, --password-file,
    --token-file), as one decorator for every command that reads the collector."""
    import click

    for option in reversed((
        click.option("--url", default=None, metavar="URL", help="--from influx: the collector."),
        click.option("--database", default="homeshore", show_default=True, metavar="NAME", help="--from influx."),
        click.option("--retention-policy", default="", metavar="RP",
                     help="--from influx: e.g. hourly (default: raw)."),
        click.option("--username", default="", metavar="NAME", help="--from influx: a user with READ, e.g. grafana."),
        click.option("--password-file", default=None, metavar="FILE",
                     help="--from influx: a 0600 file with its password."),
        click.option("--token-file", default=None, metavar="FILE", help="--from influx: a 0600 file with a read token."),
    )):
        command = option(command)
    return command

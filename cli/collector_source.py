"""Reading the collector or the agent's spool for a report command (`map`, `diagnose`, `candidates`): the options
turned into a client, and every failure into one line (a UsageProblem, exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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


def read_source(source: str, influx: dict, config_path: Path | None, *, what: str,
                from_spool: Callable[[Path], tuple[list[Any], int]],
                from_collector: Callable[[Any], list[Any]]) -> tuple[list[Any], list[str]]:
    """(what `--from SOURCE` holds, notes for stderr): `from_spool(path)` on spool:FILE or the agent's spool
    (noting when that spool is an outbox of unsent samples, naming `what` it lacks), `from_collector(client)`
    on influx."""
    from homeshore.planning.spool_read import SourceError, unsent_only_note

    kind, _, argument = source.partition(":")
    if kind == "spool":
        path, collector = (Path(argument), "") if argument else agent_spool(config_path)
        try:
            found, unreadable = from_spool(path)
        except SourceError as error:
            raise UsageProblem(f"--from {source}: {error}") from None
        notes = [f"{path}: {unreadable} lines could not be read"] if unreadable else []
        return found, notes + ([unsent_only_note(collector, what)] if collector else [])
    if kind == "influx" and not argument:
        return read_collector(influx, from_collector), []
    raise UsageProblem(f"--from {source!r}: expected influx, spool or spool:FILE")


def from_option(command: Callable[..., T]) -> Callable[..., T]:
    """`--from influx|spool[:FILE]`, which `read_source` reads."""
    import click

    return click.option("--from", "source", default="spool", show_default=True, metavar="influx|spool[:FILE]",
                        help="The collector (--url ...) or this machine's local store (the agent's spool).")(command)


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

"""`homeshore serve`: the measurement server a contact centre runs next to its collector.

It runs the speed-test HTTP server (server/speed_http.py), the candidate links `homeshore invite` prints (`GET
/c/TOKEN` on the same port, judged against the invite secret and store in `--state-dir`, the same default as
`invite`'s, and the browser checks they start, judged by `--policy` as `homeshore check` judges and kept in
that directory's spool) and the UDP reflector (server/reflector.py) on one bind address and one event loop
(server/serve.py), says in one line where each listens, and runs until SIGTERM or Ctrl-C; then it prints each
one's counters on a line of its own (HTTP, UDP reflector, candidate links, browser checks) and exits 0. A server
asked to stop has done its job, so SIGINT and SIGTERM are both a clean stop (0), unlike Ctrl-C during a
measurement (130, cli/status.py), which loses a result.

Options are checked before anything listens, and a port in use or an address that is not this machine's is
reported as one line, exit 2 (UsageProblem), never a traceback. Port 0 means any free port; the line printed
at start names the ports really used. The server needs the `server` extra (aiohttp, aiortc), which the agent
does not install: without it, that is one line and exit 2 too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from pathlib import Path

import click

from homeshore.cli.errors import UsageProblem
from homeshore.cli.invite import server_invites, server_state_dir, state_dir_option

MAX_TEST_LENGTH_S = 60  # speedtest-cli would run each phase this long: more is a typo, not a test
NEEDS_EXTRA = "it needs the server extra: pip install 'homeshore[server]'"
_EXTRA_MODULES = ("aiohttp", "aiortc")


def _port(option: str, text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageProblem(f"{option} must be a port number from 0 to 65535, not {text!r}")
    return port


def _bind_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageProblem(f"--bind must be an IP address of this machine (e.g. :: or 0.0.0.0), "
                           f"not {text!r}") from None


def _where(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _counter_line(name: str, counters) -> str:
    return f"{name}: " + " ".join(f"{key}={value}" for key, value in dataclasses.asdict(counters).items())


@click.command()
@click.option("--bind", "bind_text", default="::", show_default=True, metavar="ADDR",
              help="Address to listen on; '::' takes IPv4 and IPv6.")
@click.option("--http-port", "http_port_text", default="8080", show_default=True, metavar="PORT",
              help="TCP port of the speed-test HTTP server (0: any free port).")
@click.option("--udp-port", "udp_port_text", default="8610", show_default=True, metavar="PORT",
              help="UDP port of the latency reflector (0: any free port).")
@click.option("--test-length", "test_length_text", default="10", show_default=True, metavar="S",
              help="Seconds per download and upload phase that speedtest-cli is told to run.")
@state_dir_option
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.toml",
              help="Readiness policy ([policy] table) the browser checks are judged by, as `check --policy`.")
def serve(bind_text: str, http_port_text: str, udp_port_text: str, test_length_text: str,
          state_dir_text: str | None, policy_file: Path | None) -> None:
    """Run the speed-test HTTP endpoints, the candidate links and the UDP reflector until SIGTERM or Ctrl-C."""
    bind = _bind_address(bind_text)
    http_port = _port("--http-port", http_port_text)
    udp_port = _port("--udp-port", udp_port_text)
    if not test_length_text.isdigit() or not 1 <= int(test_length_text) <= MAX_TEST_LENGTH_S:
        raise UsageProblem(f"--test-length must be whole seconds from 1 to {MAX_TEST_LENGTH_S}, "
                           f"not {test_length_text!r}")
    state_dir = server_state_dir(state_dir_text)
    policy, origin = _policy(policy_file)

    try:
        for name in _EXTRA_MODULES:
            __import__(name)
        from homeshore.server.browser_check_http import BrowserCheckHttp
        from homeshore.server.serve import ListenError, listen, serve as run_server
    except ImportError as error:
        if (error.name or "").partition(".")[0] in _EXTRA_MODULES:
            raise UsageProblem(NEEDS_EXTRA) from None
        raise

    invites = server_invites(state_dir)
    try:
        listening = listen(bind, http_port, udp_port)
    except ListenError as error:
        raise UsageProblem(f"cannot listen on {error.transport} {_where(bind, error.port)}: {error.strerror}") \
            from None

    def started() -> None:
        click.echo(f"homeshore serve: HTTP on {_where(bind, listening.http_port)}, "
                   f"UDP reflector on {_where(bind, listening.udp_port)}")

    try:
        checks = BrowserCheckHttp(invites, state_dir, policy=policy, policy_origin=origin)
        counters = asyncio.run(run_server(listening, invites, test_length_s=int(test_length_text), checks=checks,
                                          on_started=started))
    finally:
        listening.close()
    click.echo(_counter_line("homeshore serve: HTTP", counters.http))
    click.echo(_counter_line("homeshore serve: UDP reflector", counters.reflector))
    click.echo(_counter_line("homeshore serve: candidate links", counters.links))
    click.echo(_counter_line("homeshore serve: browser checks", counters.checks))


def _policy(policy_file: Path | None):
    """The readiness policy and its origin, read as `homeshore check` reads them; one line, exit 2, if bad."""
    from homeshore.planning.policy import PolicyError
    from homeshore.planning.policy_file import load_policy, policy_origin
    from homeshore.planning.readiness import DEFAULT_POLICY

    try:
        return (load_policy(policy_file) if policy_file is not None else DEFAULT_POLICY), policy_origin(policy_file)
    except PolicyError as error:
        raise UsageProblem(str(error)) from None

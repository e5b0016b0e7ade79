"""`homeshore serve`: the measurement server a contact centre runs next to its collector.

It runs the speed-test HTTP server (server/speed_http.py), the candidate links `homeshore invite` prints (`GET
/c/TOKEN` on the same port, judged against the invite secret and store in `--state-dir`, the same default as
`invite`'s, and the browser checks they start, judged by `--policy` as `homeshore check` judges and kept in
that directory's spool), the recruiters' pages (`GET /r/`, for the token in the state directory's
`recruiter_token`, whose path it prints) and the UDP reflector (server/reflector.py) on one bind address and one
event loop (server/serve.py), says in one line where each listens, and runs until SIGTERM or Ctrl-C; then it
prints each one's counters on a line of its own (HTTP, UDP reflector, candidate links, recruiter pages, browser
checks, check admission) and exits 0. A server asked to stop has done its job, so SIGINT and SIGTERM are both a
clean stop (0), unlike Ctrl-C during a measurement (130, cli/status.py), which loses a result.

With `--tls-cert FILE --tls-key FILE` the HTTP port serves HTTPS only (server/tls.py); a file that cannot be read,
is no PEM certificate or key, or a key that is not the certificate's is one line, exit 2. Behind a reverse proxy
that ends TLS the server runs without them (README.md).

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


def _count(option: str, text: str, most: int) -> int:
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise UsageProblem(f"{option} must be a whole number from 1 to {most}, not {text!r}")
    return int(text)


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
@click.option("--tls-cert", "tls_cert", type=click.Path(path_type=Path), metavar="FILE",
              help="Serve HTTPS with this PEM certificate (and its chain); needs --tls-key.")
@click.option("--tls-key", "tls_key", type=click.Path(path_type=Path), metavar="FILE",
              help="The certificate's PEM private key, without a passphrase.")
# The defaults of server/admission.py's AdmissionLimits (not imported here: the CLI loads no server module
# before it runs; test_serve checks they agree).
@click.option("--checks-per-address", "per_address_text", default="2", show_default=True, metavar="N",
              help="Browser checks in progress at once from one address (IPv6: one /64); behind a reverse proxy "
              "every candidate has the proxy's.")
@click.option("--checks-total", "total_text", default="20", show_default=True, metavar="N",
              help="Browser checks in progress at once in all.")
@click.option("--check-megabytes", "megabytes_text", default="3072", show_default=True, metavar="MB",
              help="Bytes one browser check may move, downloads and uploads together, in MB (2**20 bytes).")
@state_dir_option
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.toml",
              help="Readiness policy ([policy] table) the browser checks are judged by, as `check --policy`.")
def serve(bind_text: str, http_port_text: str, udp_port_text: str, test_length_text: str,
          tls_cert: Path | None, tls_key: Path | None, per_address_text: str, total_text: str, megabytes_text: str,
          state_dir_text: str | None, policy_file: Path | None) -> None:
    """Run the speed-test HTTP endpoints, the candidate links and their browser checks, the recruiters' pages and
    the UDP reflector until SIGTERM or Ctrl-C."""
    bind = _bind_address(bind_text)
    http_port = _port("--http-port", http_port_text)
    udp_port = _port("--udp-port", udp_port_text)
    if not test_length_text.isdigit() or not 1 <= int(test_length_text) <= MAX_TEST_LENGTH_S:
        raise UsageProblem(f"--test-length must be whole seconds from 1 to {MAX_TEST_LENGTH_S}, "
                           f"not {test_length_text!r}")
    admission_limits = dict(checks_per_source=_count("--checks-per-address", per_address_text, 1000),
                            checks_total=_count("--checks-total", total_text, 100_000),
                            bytes_per_check=_count("--check-megabytes", megabytes_text, 1024**2) * 1024**2)
    state_dir = server_state_dir(state_dir_text)
    policy, origin = _policy(policy_file)

    try:
        for name in _EXTRA_MODULES:
            __import__(name)
        from homeshore.server.admission import Admission, AdmissionLimits
        from homeshore.server.browser_check_http import BrowserCheckHttp
        from homeshore.server.serve import ListenError, listen, serve as run_server
    except ImportError as error:
        if (error.name or "").partition(".")[0] in _EXTRA_MODULES:
            raise UsageProblem(NEEDS_EXTRA) from None
        raise

    tls = _tls(tls_cert, tls_key)
    invites = server_invites(state_dir)
    recruiter, token_path = _recruiter_pages(state_dir)
    try:
        listening = listen(bind, http_port, udp_port)
    except ListenError as error:
        raise UsageProblem(f"cannot listen on {error.transport} {_where(bind, error.port)}: {error.strerror}") \
            from None

    def started() -> None:
        click.echo(f"homeshore serve: {'HTTP' if tls is None else 'HTTPS'} on {_where(bind, listening.http_port)}, "
                   f"UDP reflector on {_where(bind, listening.udp_port)}")
        click.echo(f"homeshore serve: candidates' results for recruiters at /r/, with the token in {token_path}")

    try:
        checks = BrowserCheckHttp(invites, state_dir, policy=policy, policy_origin=origin,
                                  admission=Admission(AdmissionLimits(**admission_limits)))
        counters = asyncio.run(_serve_with_calls(run_server, listening, invites, recruiter, checks,
                                                 test_length_s=int(test_length_text), tls=tls, on_started=started))
    finally:
        listening.close()
    click.echo(_counter_line("homeshore serve: HTTP", counters.http))
    click.echo(_counter_line("homeshore serve: UDP reflector", counters.reflector))
    click.echo(_counter_line("homeshore serve: candidate links", counters.links))
    click.echo(_counter_line("homeshore serve: recruiter pages", counters.recruiter))
    click.echo(_counter_line("homeshore serve: browser checks", counters.checks))
    click.echo(_counter_line("homeshore serve: check admission", counters.admission))
    click.echo(_counter_line("homeshore serve: browser calls", counters.calls))


async def _serve_with_calls(run_server, listening, invites, recruiter, checks, **options):
    """serve() with the browser checks' test calls (server/webrtc_call.py), made on the server's event loop,
    their scored figures handed to the checks as the policy reads a call (server/call_summary.py)."""
    from homeshore.server.call_summary import call_summary
    from homeshore.server.webrtc_call import WebrtcCall

    calls = WebrtcCall(checks.is_active, loopback_is_proxy=True)

    async def call_result(check_id: str):
        # The page posts its arrival log before it finishes the check; a moment's grace for the scoring.
        figures = await calls.result(check_id, wait_s=CALL_RESULT_WAIT_S)
        return None if figures is None else call_summary(figures)

    checks.call_result = call_result
    return await run_server(listening, invites, recruiter, checks=checks, calls=calls, **options)


CALL_RESULT_WAIT_S = 5.0


def _tls(cert: Path | None, key: Path | None):
    """The TLS context for --tls-cert and --tls-key (server/tls.py), None without them; one line for a bad pair."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageProblem("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
    from homeshore.server.tls import TlsError, server_context

    try:
        return server_context(cert, key)
    except TlsError as error:
        raise UsageProblem(str(error)) from None


def _recruiter_pages(state_dir):
    """The recruiters' pages (server/recruiter_pages.py) and the file of their token, made on first serve."""
    from homeshore.server.recruiter_access import TOKEN_FILE, recruiter_token
    from homeshore.server.recruiter_pages import RecruiterPages
    from homeshore.server.secret_file import SecretFileError

    try:
        return RecruiterPages(state_dir, recruiter_token(state_dir)), state_dir / TOKEN_FILE
    except SecretFileError as error:
        raise UsageProblem(str(error)) from None


def _policy(policy_file: Path | None):
    """The readiness policy and its origin, read as `homeshore check` reads them; one line, exit 2, if bad."""
    from homeshore.planning.policy import PolicyError
    from homeshore.planning.policy_file import load_policy, policy_origin
    from homeshore.planning.readiness import DEFAULT_POLICY

    try:
        return (load_policy(policy_file) if policy_file is not None else DEFAULT_POLICY), policy_origin(policy_file)
    except PolicyError as error:
        raise UsageProblem(str(error)) from None

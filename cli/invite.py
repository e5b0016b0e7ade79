"""`homeshore invite REF`: a link a recruiter sends a candidate, for a connection check in the browser.

The link (`BASE/c/TOKEN`) is opaque: the token is a random invite id and its expiry, signed with the server's
secret (server/invite_token.py); the reference and the postcode district stay in the server's invite store,
in the state directory the server uses (`--state-dir`, the same default as the agent's: collector/state.py).
Every option is checked before anything is written; a bad one is one line, exit 2.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import click

from homeshore.cli.errors import UsageProblem
from homeshore.planning.candidate_ref import CANDIDATE_REF, CANDIDATE_REF_RULE

MAX_LIFETIME_S = 90 * 86400  # a link older than a hiring round is a link someone forgot to revoke
MAX_USES = 100
_LIFETIME = re.compile(r"(\d{1,6})([dhm])")
_UNIT_S = {"d": 86400, "h": 3600, "m": 60}
_LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def lifetime_s(text: str) -> int:
    """`7d`, `48h` or `90m` in seconds; UsageProblem outside 1 minute to 90 days."""
    match = _LIFETIME.fullmatch(text.strip().lower())
    if match is None:
        raise UsageProblem(f"--expires must be a whole number of days, hours or minutes (7d, 48h, 90m), "
                           f"not {text!r}")
    seconds = int(match[1]) * _UNIT_S[match[2]]
    if not 0 < seconds <= MAX_LIFETIME_S:
        raise UsageProblem(f"--expires must be more than 0 and at most 90 days (90d), not {text!r}")
    return seconds


def base_url(text: str) -> str:
    """The server's public address, without a trailing slash; https unless it is this machine (for tests)."""
    try:
        parts = urlsplit(text.strip())
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageProblem(f"--base-url must be the server's address, e.g. https://checks.example.org, "
                           f"not {text!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise UsageProblem(f"--base-url must not carry a query, fragment or user name: {text!r}")
    if parts.scheme == "http" and not _is_local(parts.hostname):
        raise UsageProblem(f"--base-url must be https:// ({text!r}): the link carries the candidate's token and "
                           "the check's results over the internet (http is accepted for localhost only)")
    return text.strip().rstrip("/")


def _is_local(host: str) -> bool:
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reference(text: str) -> str:
    if not CANDIDATE_REF.match(text):
        raise UsageProblem(f"REF {text!r}: {CANDIDATE_REF_RULE}")
    return text


def _district(text: str | None) -> str | None:
    from homeshore.planning.postcode import PostcodeError, postcode_district

    if text is None:
        return None
    try:
        return postcode_district(text)
    except PostcodeError as error:
        raise UsageProblem(f"--postcode: {error}") from None


def server_state_dir(text: str | None) -> Path:
    """The server's state directory: `--state-dir` when given, else the agent's (collector/state.py); `homeshore
    serve` takes the same, so the links `invite` writes are the ones the server reads."""
    from homeshore.collector.state import state_directory

    if text is not None:
        return Path(text)
    try:
        return Path(state_directory())
    except ValueError as error:
        raise UsageProblem(f"{error}; or give --state-dir") from None


def server_invites(state_dir: Path):
    """The server's invites (server/invites.py) in state_dir, its secret and store created on first use;
    UsageProblem, one line, when either cannot be used."""
    from homeshore.server.invite_secret import SecretFileError, invite_secret
    from homeshore.server.invite_store import STORE_FILE, InviteStore
    from homeshore.server.invites import Invites

    try:
        return Invites(invite_secret(state_dir), InviteStore(state_dir / STORE_FILE))
    except SecretFileError as error:
        raise UsageProblem(str(error)) from None
    except (OSError, sqlite3.Error) as error:
        raise UsageProblem(f"cannot open the invite store in {state_dir}: {error}") from None


# `homeshore serve` takes the same option, so the two commands agree on where the invites are.
state_dir_option = click.option(
    "--state-dir", "state_dir_text", envvar="HOMESHORE_STATE_DIR", metavar="DIR",
    help="The server's state directory: its invite secret and store (env HOMESHORE_STATE_DIR).")


@click.command()
@click.argument("reference", metavar="REF")
@click.option("--postcode", metavar="PC", help="The candidate's postcode; only its district is kept.")
@click.option("--expires", "expires_text", default="7d", show_default=True, metavar="7d|48h|90m",
              help="How long the link works (at most 90d).")
@click.option("--uses", "uses_text", default="1", show_default=True, metavar="N",
              help=f"How many checks the link allows (1 to {MAX_USES}).")
@click.option("--base-url", "base_url_text", envvar="HOMESHORE_BASE_URL", metavar="https://HOST",
              help="Where candidates reach `homeshore serve` (env HOMESHORE_BASE_URL).")
@state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print {link, expires, uses} as JSON.")
def invite(reference: str, postcode: str | None, expires_text: str, uses_text: str, base_url_text: str | None,
           state_dir_text: str | None, as_json: bool) -> None:
    """Print a link for a candidate's connection check in the browser."""
    reference = _reference(reference)
    district = _district(postcode)
    seconds = lifetime_s(expires_text)
    if not uses_text.isdigit() or not 1 <= int(uses_text) <= MAX_USES:
        raise UsageProblem(f"--uses must be a whole number from 1 to {MAX_USES}, not {uses_text!r}")
    if base_url_text is None:
        raise UsageProblem("give --base-url https://HOST (where candidates reach homeshore serve), "
                           "or set HOMESHORE_BASE_URL")
    base = base_url(base_url_text)
    state_dir = server_state_dir(state_dir_text)
    invites = server_invites(state_dir)
    try:
        token, created = invites.create(reference, district, seconds, int(uses_text))
    except (OSError, sqlite3.Error) as error:
        raise UsageProblem(f"cannot write the invite store in {state_dir}: {error}") from None
    link = f"{base}/c/{token}"
    expires = datetime.fromtimestamp(created.expires_s, timezone.utc).isoformat().replace("+00:00", "Z")
    if as_json:
        click.echo(json.dumps({"link": link, "expires": expires, "uses": created.uses_allowed}))
    else:
        click.echo(link)
        click.echo(f"expires {expires}; allows {created.uses_allowed} check(s)")

"""`homeshore invite` as the installed console script: the link it prints opens on the server's side as VALID,
says nothing about the candidate, and the store keeps the district only; every bad option is one line, exit 2."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homeshore.server.invite_secret import SECRET_FILE, invite_secret
from homeshore.server.invite_store import STORE_FILE, InviteStore
from homeshore.server.invite_token import InviteStatus
from homeshore.server.invites import Invites
from tests.cli.one_line import assert_one_line_exit_2

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
LINK = re.compile(r"^https://checks\.example\.org/c/([A-Za-z0-9_-]{76})$")


def invite(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("HOMESHORE_BASE_URL", "HOMESHORE_STATE_DIR")}
    return subprocess.run([str(CONSOLE_SCRIPT), "invite", *args], capture_output=True, text=True,
                          env={**environment, **(env or {})}, timeout=60)


def test_the_link_opens_as_valid_and_the_store_keeps_only_the_district(tmp_path: Path) -> None:
    before_s = time.time()
    result = invite("R-2026/0042", "--postcode", "ng5 1ab", "--expires", "48h", "--uses", "2",
                    "--base-url", "https://checks.example.org/", "--state-dir", str(tmp_path))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    link, expiry_line = result.stdout.splitlines()
    token = LINK.match(link)[1]
    assert expiry_line.startswith("expires 20") and expiry_line.endswith("allows 2 check(s)")
    raw = base64.urlsafe_b64decode(token)
    assert b"0042" not in raw and b"NG5" not in raw and b"1AB" not in raw

    invites = Invites(invite_secret(tmp_path), InviteStore(tmp_path / STORE_FILE))
    opened = invites.check(token)
    assert opened.status is InviteStatus.VALID
    assert (opened.invite.reference, opened.invite.district, opened.invite.uses_allowed) == ("R-2026/0042",
                                                                                             "NG5", 2)
    assert before_s + 48 * 3600 - 1 <= opened.invite.expires_s <= time.time() + 48 * 3600
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(STORE_FILE))
    assert b"R-2026/0042" in stored and b"1AB" not in stored.upper()
    assert oct((tmp_path / SECRET_FILE).stat().st_mode & 0o777) == "0o600"


def test_json_gives_link_expiry_and_uses_and_the_base_url_may_come_from_the_environment(tmp_path: Path) -> None:
    result = invite("R-7", "--json", "--expires", "90m", env={"HOMESHORE_BASE_URL": "https://checks.example.org",
                                                               "HOMESHORE_STATE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"link", "expires", "uses"} and printed["uses"] == 1
    token = LINK.match(printed["link"])[1]
    invite_row = InviteStore(tmp_path / STORE_FILE).get(base64.urlsafe_b64decode(token)[1:17].hex())
    assert invite_row.district is None and invite_row.expires_s - invite_row.created_s == 90 * 60
    assert printed["expires"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(invite_row.expires_s))


def test_http_is_accepted_for_this_machine_only(tmp_path: Path) -> None:
    for base in ("http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"):
        result = invite("R-1", "--base-url", base, "--state-dir", str(tmp_path))
        assert result.returncode == 0 and result.stdout.startswith(f"{base}/c/"), result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["jane.doe@example.com"], "never a name or phone number"),
    (["R 1", "--postcode", "NOT A POSTCODE"], "--postcode: 'NOT A POSTCODE' is not a UK postcode"),
    (["R-1", "--expires", "0d"], "--expires must be more than 0 and at most 90 days"),
    (["R-1", "--expires", "91d"], "--expires must be more than 0 and at most 90 days"),
    (["R-1", "--expires", "2w"], "--expires must be a whole number of days, hours or minutes"),
    (["R-1", "--uses", "0"], "--uses must be a whole number from 1 to 100"),
    (["R-1", "--uses", "many"], "--uses must be a whole number from 1 to 100"),
    (["R-1", "--base-url", "http://checks.example.org"], "must be https:// ('http://checks.example.org'): the "
                                                         "link carries the candidate's token"),
    (["R-1", "--base-url", "ftp://checks.example.org"], "--base-url must be the server's address"),
    (["R-1", "--base-url", "https://checks.example.org:99999"], "--base-url must be the server's address"),
    (["R-1", "--base-url", "https://checks.example.org/?x=1"], "must not carry a query"),
    (["R-1", "--base-url", ""], "--base-url must be the server's address"),
], ids=["email-ref", "postcode", "expires-0", "expires-91d", "expires-weeks", "uses-0", "uses-word",
        "http-remote", "ftp", "bad-port", "query", "empty-url"])
def test_a_bad_option_is_one_line_and_exit_2_and_writes_nothing(tmp_path: Path, args: list[str],
                                                                  fragment: str) -> None:
    full = [*args] if "--base-url" in args else [*args, "--base-url", "https://checks.example.org"]
    line = assert_one_line_exit_2(invite(*full, "--state-dir", str(tmp_path / "state")), fragment)
    assert line.startswith("homeshore invite: ")
    assert not (tmp_path / "state").exists()


def test_no_base_url_says_how_to_give_one(tmp_path: Path) -> None:
    assert_one_line_exit_2(invite("R-1", "--state-dir", str(tmp_path)), "homeshore invite: give --base-url",
                           "HOMESHORE_BASE_URL")


def test_a_secret_others_can_read_is_refused_and_no_link_printed(tmp_path: Path) -> None:
    invite_secret(tmp_path)
    (tmp_path / SECRET_FILE).chmod(0o644)
    assert_one_line_exit_2(invite("R-1", "--base-url", "https://checks.example.org", "--state-dir", str(tmp_path)),
                           "homeshore invite: ", "can be read by other users (mode 0644)")


def test_a_state_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert_one_line_exit_2(invite("R-1", "--base-url", "https://checks.example.org",
                                  "--state-dir", str(tmp_path / "file" / "state")), "cannot create")

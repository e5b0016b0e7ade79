"""`homeshore collector init` against a real influxd 1.6 with authentication on, run as a user would run it
(the installed console script): what it creates, that the write-only user really cannot read, that a second run
changes nothing, the agent's config snippet, and one-line failures with exit 2."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.cli.one_line import assert_one_line_exit_2
from tests.references.influxd import InfluxServer, closed_port

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")


def homeshore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONSOLE_SCRIPT), "collector", *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


@pytest.fixture(scope="module")
def influx():
    with InfluxServer(auth=True) as server:
        yield server


@pytest.fixture(scope="module")
def provisioned(influx: InfluxServer, tmp_path_factory: pytest.TempPathFactory):
    """One init with two writers (per site and per agent) and the default reader; returns (result, secrets dir)."""
    root = tmp_path_factory.mktemp("init")
    admin_file = root / "admin.password"
    admin_file.write_text(influx.admin[1] + "\n")
    admin_file.chmod(0o600)
    secrets = root / "secrets"
    args = ["init", "--url", influx.url, "--writer", "site-mansfield", "--writer", "agent-0042",
            "--secrets-dir", str(secrets), "--admin-user", influx.admin[0], "--admin-password-file", str(admin_file)]
    result = homeshore(*args)
    assert result.returncode == 0, result.stderr
    return result, secrets, args


def test_init_creates_database_policies_cqs_users_and_secret_files(influx: InfluxServer, provisioned) -> None:
    result, secrets, _args = provisioned
    assert "homeshore" in [row["name"] for row in influx.rows("SHOW DATABASES")]
    policies = {row["name"]: row for row in influx.rows('SHOW RETENTION POLICIES ON "homeshore"')}
    assert (policies["raw"]["duration"], policies["raw"]["default"]) == ("2160h0m0s", True)
    assert (policies["hourly"]["duration"], policies["hourly"]["default"]) == ("43800h0m0s", False)
    cqs = {row["name"] for row in influx.rows("SHOW CONTINUOUS QUERIES")}
    assert {f"cq_hourly_{m}" for m in ("bandwidth", "voip_test", "call", "host", "readiness", "agent")} <= cqs
    for user, privilege in (("site-mansfield", "WRITE"), ("agent-0042", "WRITE"), ("grafana", "READ")):
        assert influx.rows(f'SHOW GRANTS FOR "{user}"') == [{"database": "homeshore", "privilege": privilege}]
        path = secrets / f"{user}.password"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        password = path.read_text().strip()
        assert len(password) >= 30 and password not in result.stdout + result.stderr  # never printed
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert "created   database homeshore" in result.stdout


def password(secrets: Path, user: str) -> str:
    return (secrets / f"{user}.password").read_text().strip()


def test_the_writer_writes_and_cannot_read(influx: InfluxServer, provisioned) -> None:
    _result, secrets, _args = provisioned
    writer = ("site-mansfield", password(secrets, "site-mansfield"))
    assert influx.write(["host,agent=a1 cpu_pct=12"], "homeshore", credentials=writer).status == 204
    refused = influx.request("POST", "/query", {"q": "SELECT * FROM host", "db": "homeshore"}, b"", writer)
    assert refused.status == 403 and "not authorized" in refused.body
    assert influx.write(["host,agent=a1 cpu_pct=12"], "homeshore",
                        credentials=("site-mansfield", "wrong-password")).status == 401


def test_the_reader_reads_and_cannot_write(influx: InfluxServer, provisioned) -> None:
    _result, secrets, _args = provisioned
    reader = ("grafana", password(secrets, "grafana"))
    assert influx.write(["host,agent=r1 cpu_pct=33"], "homeshore").status == 204
    answer = influx.request("POST", "/query", {"q": "SELECT cpu_pct FROM host WHERE agent = 'r1'",
                                              "db": "homeshore"}, b"", reader)
    assert answer.status == 200 and json.loads(answer.body)["results"][0]["series"][0]["values"][0][1] == 33
    assert influx.write(["host,agent=r1 cpu_pct=1"], "homeshore", credentials=reader).status == 403


def test_the_printed_snippets_are_the_agents_collector_section(influx: InfluxServer, provisioned) -> None:
    result, secrets, _args = provisioned
    blocks = result.stdout.split("\n\n")[1:]
    configs = {tomllib.loads(block)["collector"]["username"]: (block, tomllib.loads(block)["collector"])
               for block in blocks}
    assert set(configs) == {"site-mansfield", "agent-0042"}  # one per writer, none for the reader
    block, config = configs["agent-0042"]
    assert config == {"url": influx.url, "api": "v1", "database": "homeshore", "retention_policy": "",
                      "username": "agent-0042", "password_file": "/etc/homeshore/collector.password"}
    assert str(secrets / "agent-0042.password") in block  # says which file to copy


def test_a_second_run_changes_nothing(influx: InfluxServer, provisioned) -> None:
    _result, secrets, args = provisioned
    before = {user: password(secrets, user) for user in ("site-mansfield", "agent-0042", "grafana")}
    again = homeshore(*args, "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert {o["status"] for o in report["objects"]} == {"present"}
    assert len(report["objects"]) == 1 + 2 + 6 + 3
    assert {user: password(secrets, user) for user in before} == before
    writer = ("site-mansfield", before["site-mansfield"])
    assert influx.write(["host,agent=a1 cpu_pct=13"], "homeshore", credentials=writer).status == 204
    assert tomllib.loads(report["agent_config"]["agent-0042"])["collector"]["username"] == "agent-0042"


def one_line_exit_2(result: subprocess.CompletedProcess, *fragments: str) -> str:
    return assert_one_line_exit_2(result, *fragments, stdout_empty=False)


def test_wrong_admin_password_is_one_line(influx: InfluxServer, tmp_path: Path) -> None:
    result = homeshore("init", "--url", influx.url, "--writer", "w", "--secrets-dir", str(tmp_path / "s"),
                       "--admin-user", "admin", env={"HOMESHORE_ADMIN_PASSWORD": "guess"})
    line = one_line_exit_2(result, influx.url, "refused the admin credentials")
    assert "guess" not in line and not (tmp_path / "s").exists()


def test_unreachable_collector_is_one_line_naming_the_url(tmp_path: Path) -> None:
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}"
        one_line_exit_2(homeshore("init", "--url", url, "--writer", "w", "--secrets-dir", str(tmp_path / "s")),
                        f"cannot reach the collector at {url}")


def test_an_admin_password_file_others_can_read_is_refused(influx: InfluxServer, tmp_path: Path) -> None:
    loose = tmp_path / "admin.password"
    loose.write_text(influx.admin[1])
    os.chmod(loose, 0o644)
    one_line_exit_2(homeshore("init", "--url", influx.url, "--writer", "w", "--secrets-dir", str(tmp_path / "s"),
                              "--admin-user", "admin", "--admin-password-file", str(loose)),
                    "can be read by other users", "chmod 600")


@pytest.mark.parametrize("args, fragment", [
    (["--secrets-dir", "S"], "at least one writer"),
    (["--writer", "bad name", "--secrets-dir", "S"], "writer 'bad name'"),
    (["--writer", "w"], "--secrets-dir"),
    (["--writer", "w", "--secrets-dir", "S", "--api", "v3"], "v3"),
    (["--writer", "w", "--secrets-dir", "S", "--api", "v2"], "--org"),
    (["--writer", "w", "--secrets-dir", "S", "--api", "v2", "--org", "cc"], "admin token"),
])
def test_bad_options_are_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    args = [str(tmp_path / "s") if arg == "S" else arg for arg in args]
    one_line_exit_2(homeshore("init", "--url", "http://127.0.0.1:9", *args), fragment)


def test_query_prints_a_table_for_the_reader(influx: InfluxServer, provisioned, tmp_path: Path) -> None:
    _result, secrets, _args = provisioned
    assert influx.write(["host,agent=q9 cpu_pct=44"], "homeshore").status == 204
    base = ["query", "SELECT cpu_pct FROM host WHERE agent = 'q9'", "--url", influx.url, "--username", "grafana",
            "--password-file", str(secrets / "grafana.password")]
    table = homeshore(*base)
    assert table.returncode == 0 and "cpu_pct" in table.stdout and "44" in table.stdout, table
    as_json = json.loads(homeshore(*base, "--json").stdout)
    assert as_json[0]["columns"] == ["time", "cpu_pct"] and as_json[0]["values"][0][1] == 44
    writer = homeshore("query", "SELECT * FROM host", "--url", influx.url, "--username", "agent-0042",
                       "--password-file", str(secrets / "agent-0042.password"))
    one_line_exit_2(writer, "not authorized")


def test_init_on_a_fresh_collector_with_no_admin_says_to_create_one_first(tmp_path: Path) -> None:
    with InfluxServer(auth=True, create_admin=False) as fresh:
        result = homeshore("init", "--url", fresh.url, "--writer", "w", "--secrets-dir", str(tmp_path / "s"))
        line = one_line_exit_2(result, "no admin user yet", "WITH ALL PRIVILEGES", "--admin-user")
        assert line.count("CREATE USER") == 1 and not (tmp_path / "s").exists()


def test_query_table_shows_rfc3339_times_as_influxdb_spells_them_and_never_cuts_the_time_column(
        influx: InfluxServer, provisioned) -> None:
    _result, secrets, _args = provisioned
    fields = ",".join(f"field_with_a_long_name_{i}={i}.5" for i in range(6))
    second_ns = (time.time_ns() // 10**9 - 3600) * 10**9  # inside the raw policy's 90 days
    written_ns = [second_ns + 123_400_000, second_ns + 10**9, second_ns + 2 * 10**9 + 1]
    assert influx.write([f"host,agent=q10 {fields} {ns}" for ns in written_ns], "homeshore").status == 204
    influxql = "SELECT /field_with/ FROM host WHERE agent = 'q10'"
    # the reference: InfluxDB's own RFC 3339 spelling, asked for without epoch=
    reply = influx.request("POST", "/query", {"q": influxql, "db": "homeshore"}, b"", True)
    expected = [row[0] for row in json.loads(reply.body)["results"][0]["series"][0]["values"]]
    assert len(expected) == 3 and expected[0].endswith(".1234Z")
    base = ["query", influxql, "--url", influx.url, "--username", "grafana",
            "--password-file", str(secrets / "grafana.password")]
    table = homeshore(*base, env={"COLUMNS": "80"})
    assert table.returncode == 0, table
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    for time_text in expected:
        assert time_text in table.stdout, table.stdout
    assert "…" not in table.stdout and "5.5" in table.stdout  # the other columns fold, none is cut
    as_json = json.loads(homeshore(*base, "--json").stdout)
    assert [row[0] for row in as_json[0]["values"]] == written_ns  # scripts keep epoch nanoseconds

"""`homeshore candidates` end to end: checks stored as `homeshore check`, the agent and the browser store them
(check documents through collector/check_samples.py) in a real spool and, through the real V1Writer, in a real
influxd; the console script run as a recruiter runs it. The expected rows are the test's own plan."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from homeshore.collector.check_samples import check_samples
from homeshore.collector.schema import Sample
from tests.cli.one_line import assert_one_line_exit_2
from tests.cli.stored import influx_holding, run_report, spool_holding, stored_fixtures
from tests.references.influxd import closed_port

NOW = datetime.now(timezone.utc).replace(microsecond=0)
POLICY = {"file": "centre-policy.toml", "sha256": "0123456789abcdef" * 4}


def _document(reference: str | None, age: timedelta, verdict: str, area: str | None,
              statuses: dict[str, str], policy: dict | None = None) -> dict:
    return {"verdict": verdict, "could_not_measure": False, "server": "http://collector.example.org:8080",
            "method": "selfhosted", "time": (NOW - age).isoformat(), "candidate": reference, "area": area,
            "criteria": [{"name": name, "status": status} for name, status in statuses.items()],
            "measurements": {"download_goodput_mbps": 31.2, "upload_goodput_mbps": 9.5},
            "host": {"conn": "wired"}, "policy": policy}


# (reference, age, verdict, area, criteria, policy, source): what is stored, in no particular order.
PLAN = [
    ("R-2026/0042", timedelta(hours=2), "FAIL", "NG5", {"download": "PASS", "jitter": "FAIL", "mos": "FAIL"},
     None, "browser"),
    ("R-2026/0040", timedelta(days=3), "PASS", "SW1A", {"download": "PASS", "mos": "PASS"}, POLICY, "cli"),
    ("R-2026/0041", timedelta(days=1), "WARN", "LS6", {"download": "PASS", "loaded_rtt": "WARN"}, None, "cli"),
    (None, timedelta(hours=1), "PASS", "NG5", {"download": "PASS"}, None, "agent"),  # a scheduled test: no candidate
    ("R-2026/0007", timedelta(days=12), "FAIL", "NG5", {"download": "FAIL"}, None, "cli"),  # before --since 7d
]
# The rows expected for --since 7d: newest first, the criteria that did not pass, the policy by name and digest.
EXPECTED = [
    ("R-2026/0042", timedelta(hours=2), "NG5", "FAIL", ["jitter", "mos"], "browser", "defaults"),
    ("R-2026/0041", timedelta(days=1), "LS6", "WARN", ["loaded_rtt"], "cli", "defaults"),
    ("R-2026/0040", timedelta(days=3), "SW1A", "PASS", [], "cli", "centre-policy.toml sha256:0123456789ab"),
]
OLD_ROW = ("R-2026/0039", timedelta(days=4))  # stored before readiness had a source field: read as cli


def stored_samples() -> list[Sample]:
    samples = []
    for reference, age, verdict, area, statuses, policy, source in PLAN:
        samples += check_samples(_document(reference, age, verdict, area, statuses, policy), agent="h-1",
                                 source=source)
    (old,) = [s for s in check_samples(_document(OLD_ROW[0], OLD_ROW[1], "PASS", "NG5", {}), agent="h-1",
                                       source="cli") if s.measurement == "readiness"]
    samples.append(Sample("readiness", old.tags, {k: v for k, v in old.fields.items() if k != "source"}, old.time_ns))
    return samples


def expected_rows() -> list[dict]:
    rows = [{"reference": ref, "time": (NOW - age).isoformat(), "area": area, "verdict": verdict, "not_passed": bad,
             "source": source, "policy": policy, "report": None}
            for ref, age, area, verdict, bad, source, policy in EXPECTED]
    rows.append({"reference": OLD_ROW[0], "time": (NOW - OLD_ROW[1]).isoformat(), "area": "NG5", "verdict": "PASS",
                  "not_passed": [], "source": "cli", "policy": "defaults", "report": None})
    return rows


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return run_report(tmp_path, "candidates", *args)


spool_file, influx = stored_fixtures(stored_samples)


def test_the_spool_and_influxdb_list_the_same_checks_the_plan_expects(spool_file: Path, influx,
                                                                       tmp_path: Path) -> None:
    local = run(tmp_path, "--from", f"spool:{spool_file}", "--json")
    remote = run(tmp_path, "--from", "influx", "--url", influx.url, "--json")
    assert local.returncode == 0 and remote.returncode == 0, (local.stderr, remote.stderr)
    document, from_influx = json.loads(local.stdout), json.loads(remote.stdout)
    # `since` is each run's own now less 7 days: the two runs may be a second apart.
    for each in (document, from_influx):
        since = datetime.fromisoformat(each.pop("since"))
        assert NOW - timedelta(days=7) <= since <= datetime.now(timezone.utc) - timedelta(days=7)
    assert document == from_influx
    assert document["checks"] == expected_rows()


def test_since_a_date_or_more_days_reaches_older_checks(spool_file: Path, influx, tmp_path: Path) -> None:
    day = (NOW - timedelta(days=13)).date().isoformat()
    for source in (f"spool:{spool_file}", "influx"):
        wide = json.loads(run(tmp_path, "--from", source, "--url", influx.url, "--since", "30d", "--json").stdout)
        dated = json.loads(run(tmp_path, "--from", source, "--url", influx.url, "--since", day, "--json").stdout)
        assert [c["reference"] for c in wide["checks"]] == [c["reference"] for c in dated["checks"]] == [
            "R-2026/0042", "R-2026/0041", "R-2026/0040", "R-2026/0039", "R-2026/0007"]
        assert dated["since"] == f"{day}T00:00:00+00:00"
        recent = json.loads(run(tmp_path, "--from", source, "--url", influx.url, "--since", "2d", "--json").stdout)
        assert [c["reference"] for c in recent["checks"]] == ["R-2026/0042", "R-2026/0041"]


def test_every_check_on_one_line_in_80_columns_policies_named_below(spool_file: Path, tmp_path: Path) -> None:
    result = run(tmp_path, "--from", f"spool:{spool_file}")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines if re.match(r"R-2026/\d{4} ", line)]
    want = [[ref, (NOW - age).strftime("%Y-%m-%d %H:%M"), area, verdict, ", ".join(bad) or "–", source,
             "P1" if policy != "defaults" else policy] for ref, age, area, verdict, bad, source, policy in EXPECTED]
    want.insert(3, [OLD_ROW[0], (NOW - OLD_ROW[1]).strftime("%Y-%m-%d %H:%M"), "NG5", "PASS", "–", "cli",
                    "defaults"])
    assert sorted(rows, key=lambda row: row[1], reverse=True) == rows == want
    assert lines[-1] == "P1: centre-policy.toml sha256:0123456789ab"


def test_never_a_full_postcode(tmp_path: Path) -> None:
    """An area tag holding a whole postcode (no check writes one; a store could hold one) shows as its district."""
    document = _document("R-2026/0050", timedelta(hours=1), "PASS", "NG5 1AB", {"download": "PASS"})
    path = tmp_path / "spool.sqlite3"
    spool_holding(path, check_samples(document, agent="h-1", source="browser"))
    for extra in ((), ("--json",)):
        result = run(tmp_path, "--from", f"spool:{path}", *extra)
        assert result.returncode == 0 and "NG5" in result.stdout, result
        assert "1AB" not in result.stdout and "1AB" not in result.stderr


def test_no_checks_is_one_line_and_exit_0(spool_file: Path, tmp_path: Path) -> None:
    result = run(tmp_path, "--from", f"spool:{spool_file}", "--since", "0d")
    assert result.returncode == 0 and result.stdout.startswith("no candidate checks since "), result


def test_an_agent_spool_with_a_collector_says_it_holds_only_unsent_checks(spool_file: Path,
                                                                          tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstate_dir = "{spool_file.parent}"\n[collector]\nurl = "http://c.example:8086"\n',
                      encoding="utf-8")
    result = run(tmp_path, "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (note,) = document["notes"]
    assert "only samples not yet sent" in note and "--from influx --url http://c.example:8086" in note
    assert result.stderr == f"homeshore candidates: {note}\n"
    assert document["checks"] == expected_rows()


@pytest.mark.parametrize(("args", "fragment"), [
    (("--since", "7w"), "--since: '7w' is neither a number of days (7d) nor a date"),
    (("--since", "2026-02-30"), "--since: '2026-02-30' is neither"),
    (("--from", "influx"), "--from influx needs --url"),
    (("--from", "csv:x.csv"), "expected influx, spool or spool:FILE"),
    (("--from", "spool:/nonexistent/spool.sqlite3"), "no local store at /nonexistent"),
    (("--from", "influx", "--url", "ftp://x"), "--url: collector URL must be http"),
    (("--from", "influx", "--url", "http://127.0.0.1:1", "--password-file", "/nonexistent"),
     "--password-file: cannot read /nonexistent"),
    (("--json", "extra"), "unexpected extra argument"),
    (("--base-url", "http://checks.example.org"), "--base-url must be https://"),
    (("--base-url", "checks.example.org"), "--base-url must be the server's address"),
])
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], fragment: str, tmp_path: Path) -> None:
    assert_one_line_exit_2(run(tmp_path, *args), fragment)


def test_an_unreachable_collector_is_one_line_naming_it(tmp_path: Path) -> None:
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}"
        assert_one_line_exit_2(run(tmp_path, "--from", "influx", "--url", url), f"cannot reach the collector at {url}")


CHECK_ID = "Qm9yZWFsaXMtMjAyNi0xMg"  # 22 base64url characters, as homeshore serve makes them


def browser_check_samples() -> list[Sample]:
    """A browser check stored with its check id on the server, and a CLI check (no report on any server)."""
    browser = _document("R-2026/0060", timedelta(hours=1), "WARN", "NG5", {"download": "PASS", "jitter": "WARN"})
    cli = _document("R-2026/0061", timedelta(hours=2), "PASS", "LS6", {"download": "PASS"})
    return (check_samples(browser, agent="srv-1", source="browser", check_id=CHECK_ID)
            + check_samples(cli, agent="h-1", source="cli"))


def test_a_browser_checks_report_is_named_with_the_servers_base_url(tmp_path: Path) -> None:
    spool = spool_holding(tmp_path / "spool.sqlite3", browser_check_samples())
    with influx_holding(browser_check_samples()) as server:
        for source in (f"spool:{spool}", "influx"):
            where = ("--from", source, "--url", server.url)
            bare = json.loads(run(tmp_path, *where, "--json").stdout)["checks"]
            assert [(c["reference"], c["report"]) for c in bare] == [("R-2026/0060", f"/r/{CHECK_ID}"),
                                                                      ("R-2026/0061", None)]
            based = json.loads(run(tmp_path, *where, "--json", "--base-url", "https://checks.example.org/").stdout)
            assert [c["report"] for c in based["checks"]] == [f"https://checks.example.org/r/{CHECK_ID}", None]
    table = run(tmp_path, "--from", f"spool:{spool}", "--base-url", "https://checks.example.org")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[-2:] == ["Reports (the recruiters' token of homeshore serve needed):",
                                              f"R-2026/0060  https://checks.example.org/r/{CHECK_ID}"]
    assert max(len(line) for line in table.stdout.splitlines()) <= 80


def test_a_check_id_not_of_its_form_is_refused_when_stored_and_not_shown_when_read() -> None:
    from homeshore.planning.candidates import candidate_check

    with pytest.raises(ValueError, match="check_id '../x' is not 22 base64url characters"):
        check_samples(_document("R-1", timedelta(0), "PASS", "NG5", {}), agent="s", source="browser",
                      check_id="../x")
    fields = {"candidate": "R-1", "verdict": "PASS", "check_id": "../../invite_secret"}  # a store could hold one
    assert candidate_check({}, fields, 0).report_path is None

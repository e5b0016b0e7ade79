"""`homeshore diagnose` end to end: an agent's call written as the agent writes it (CallSamples, the cause rules,
agent_samples.call_sample, the schema) into a real spool and, through the real V1Writer, into a real influxd; the
console script run as IT runs it. The expected windows and periods come from the test's own plan of the call,
not from the code under test."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from homeshore.collector.schema import Sample
from homeshore.planning.cause import HostFigures
from homeshore.planning.cause_policy import CausePolicy
from homeshore.probe.agent.call_causes import causes_for
from homeshore.probe.agent_samples import call_sample, common_tags
from homeshore.quality.calls import END, FROM_CAPTURE, FROM_RTCP, INBOUND, OUTBOUND, WINDOW, CallSample
from tests.cli.one_line import assert_one_line_exit_2
from tests.cli.stored import run_report, spool_holding, stored_fixtures
from tests.references.influxd import closed_port

DAY = datetime(2026, 12, 6, tzinfo=timezone.utc)
START_S = int(DAY.replace(hour=10, minute=37).timestamp())  # the call's first window: 10:37:00 UTC
WINDOWS = 30  # 10:37:00 .. 10:41:50
UPLOAD = range(8, 25)  # 10:38:20 .. 10:41:10: iperf3 fills the uplink
FAR_END = range(26, 29)  # 10:41:20 .. 10:41:50: the far end reports loss on what we send
CALL_KEY = "5f2a9c81d4e07b36"  # as the tracker's salted hash looks
SSID_HASH = "a3f9e2d1c0b4a59687e6d5c4b3a29180"
SECRET_WORDS = (CALL_KEY, SSID_HASH, "192.0.2", "203.0.113", "sip:", "+44")
CLEAN_HOST = HostFigures(cpu_pct=22.0, upload_use=0.12, download_use=0.2, gateway_rtt_ms=1.8,
                         gateway_jitter_ms=0.4, gateway_loss_pct=0.0)
SATURATED_HOST = HostFigures(cpu_pct=30.0, upload_use=0.97, download_use=0.2, gateway_rtt_ms=38.0,
                             gateway_jitter_ms=9.0, gateway_loss_pct=0.0)


def _sample(index: int, direction: str, key: str = CALL_KEY, start_s: int = START_S) -> CallSample:
    """Window `index` of one direction: clean, or poor where the plan says (inbound while the upload is full,
    as the queue delays what the router sends back too; outbound as the far end reports it)."""
    time_s = float(start_s + 10 * index)
    if direction == INBOUND:
        loss, jitter, mos = (4.0, 12.0, 3.1) if index in UPLOAD else (0.0, 3.0, 4.3)
        return CallSample(WINDOW, time_s, key, INBOUND, FROM_CAPTURE, 0x1234, "PCMA", 500, int(loss * 5), 0, loss,
                          jitter, jitter + 2, 40.0, 80.0, mos, 8000)
    loss, jitter, mos = (5.0, 31.0, 3.3) if index in FAR_END else (0.0, 4.0, 4.3)
    return CallSample(WINDOW, time_s, key, OUTBOUND, FROM_RTCP, 0x5678, "PCMA", 500, int(loss * 5), 0, loss, jitter,
                      None, 40.0, 80.0, mos, 8000)


def agent_samples(agent: str = "h-1", key: str = CALL_KEY, start_s: int = START_S) -> list[Sample]:
    """The call as the agent stores it: causes from the real rules over the planned host figures."""
    calls = [_sample(i, d, key, start_s) for i in range(WINDOWS) for d in (INBOUND, OUTBOUND)]
    calls.append(CallSample(END, start_s + 10.0 * WINDOWS, key, INBOUND, FROM_CAPTURE, 0x1234, "PCMA", 15000, 340,
                            340, 2.2, 3.0, 14.0, 40.0, 85.0, 4.0, 8000))

    def host_over(from_s: float, _to_s: float) -> HostFigures:
        return SATURATED_HOST if (from_s - start_s) // 10 in UPLOAD else CLEAN_HOST

    findings = causes_for(calls, host_over, CausePolicy())
    tags = common_tags(agent, "NG5")
    return [call_sample(c, tags, "wifi", f) for c, f in zip(calls, findings)]


def stored_samples() -> list[Sample]:
    """The call of h-1, an earlier call of h-1 an hour before, another agent's call at the same time and one
    at 11:27 (when h-1 had none), and a host sample carrying a Wi-Fi network hash."""
    host = Sample("host", {**common_tags("h-1", "NG5"), "conn": "wifi"},
                  {"cpu_pct": 30.0, "wifi_ssid_hash": SSID_HASH}, START_S * 10**9)
    return [*agent_samples(), *agent_samples(key="0e0e0e0e0e0e0e0e", start_s=START_S - 3600),
            *agent_samples(agent="h-2", key="1f1f1f1f1f1f1f1f"),
            *agent_samples(agent="h-2", key="2e2e2e2e2e2e2e2e", start_s=START_S + 3000), host]


def expected_windows() -> list[tuple]:
    """(start, direction, mos, cause) per window, from the plan: both directions of a poor window get its cause."""
    rows = []
    for index in range(WINDOWS):
        cause = "upload_saturated" if index in UPLOAD else "far_end" if index in FAR_END else None
        start = datetime.fromtimestamp(START_S + 10 * index, timezone.utc).isoformat()
        for direction in (INBOUND, OUTBOUND):
            rows.append((start, direction, _sample(index, direction).mos, cause))
    return rows


SUMMARY = [
    "Your upload was saturated by other traffic on this machine from 10:38:20 to 10:41:10 (97 % of the line's "
    "upload speed in use).",
    "From 10:41:20 to 10:41:50 the far end reported 5 % loss and 31 ms jitter on what it received from this "
    "machine, while what it sent arrived clean: their side, or the line beyond the home.",
]


def run(tmp_path: Path, *args: str, tz: str = "UTC", columns: int = 80) -> subprocess.CompletedProcess:
    return run_report(tmp_path, "diagnose", *args, tz=tz, columns=columns)


spool_file, influx = stored_fixtures(stored_samples)


def from_spool(spool_file: Path, tmp_path: Path, *args: str, **options: str) -> subprocess.CompletedProcess:
    return run(tmp_path, "--agent", "h-1", "--from", f"spool:{spool_file}", *args, **options)


def _rows(document: dict) -> list[tuple]:
    return [(w["start"], w["direction"], w["mos"], w["cause"]) for w in document["call"]["windows"]]


def test_the_spool_and_influxdb_give_the_same_diagnosis_the_plan_expects(spool_file: Path, influx,
                                                                         tmp_path: Path) -> None:
    at = "2026-12-06T10:40"
    local = from_spool(spool_file, tmp_path, "--at", at, "--json")
    remote = run(tmp_path, "--agent", "h-1", "--at", at, "--from", "influx", "--url", influx.url, "--json")
    assert local.returncode == 0 and remote.returncode == 0, (local.stderr, remote.stderr)
    assert json.loads(local.stdout) == json.loads(remote.stdout)
    document = json.loads(local.stdout)
    assert _rows(document) == expected_windows()
    assert document["call"]["summary"] == SUMMARY
    periods = [(p["cause"], p["start"][11:19], p["end"][11:19], p["windows"]) for p in document["call"]["periods"]]
    assert periods == [("upload_saturated", "10:38:20", "10:41:10", 17), ("far_end", "10:41:20", "10:41:50", 3)]
    assert document["call"]["periods"][0]["evidence"] == {"upload_use": 0.97, "gateway_rtt_ms": 38.0,
                                                          "gateway_jitter_ms": 9.0, "gateway_loss_pct": 0.0}


def test_the_plain_words_come_first_then_every_window_on_one_line_in_80_columns(spool_file: Path,
                                                                                 tmp_path: Path) -> None:
    result = from_spool(spool_file, tmp_path, "--at", "2026-12-06T10:39:55")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    table_at = next(i for i, line in enumerate(lines) if "Call windows" in line)
    assert " ".join(" ".join(lines[:table_at]).split()) == " ".join(SUMMARY)
    rows = [re.findall(r"[^\s│┃|]+", line) for line in lines[table_at:] if re.search(r"\d\d:\d\d:\d\d", line)]
    want = [[start[11:19], direction, f"{mos:.2f}"] + ([cause] if cause else [])
            for start, direction, mos, cause in expected_windows()]
    assert [[row[0], row[1], row[2]] + row[5:] for row in rows] == want


def test_a_call_longer_than_the_search_range_is_shown_whole(spool_file: Path, influx, tmp_path: Path) -> None:
    for source in (f"spool:{spool_file}", "influx"):
        result = run(tmp_path, "--agent", "h-1", "--at", "2026-12-06T10:40", "--within", "0.5", "--from", source,
                     "--url", influx.url, "--json")
        assert result.returncode == 0, result.stderr
        assert _rows(json.loads(result.stdout)) == expected_windows()


def test_times_are_read_and_shown_in_the_local_time_zone(spool_file: Path, tmp_path: Path) -> None:
    result = from_spool(spool_file, tmp_path, "--at", "2026-12-06T11:40", "--json", tz="Europe/Paris")
    assert result.returncode == 0, result.stderr
    call = json.loads(result.stdout)["call"]
    assert call["start"] == "2026-12-06T11:37:00+01:00" and call["summary"][0].endswith(
        "from 11:38:20 to 11:41:10 (97 % of the line's upload speed in use).")


def test_hh_mm_is_today(tmp_path: Path) -> None:
    today_s = int(datetime.combine(date.today(), datetime.min.time(), timezone.utc).timestamp())
    path = tmp_path / "spool.sqlite3"
    spool_holding(path, agent_samples(start_s=today_s + 10 * 3600 + 37 * 60))
    result = run(tmp_path, "--agent", "h-1", "--at", "10:40", "--from", f"spool:{path}", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["call"]["summary"][0].startswith("Your upload was saturated")


def test_no_call_near_the_time_is_one_line_and_exit_1(spool_file: Path, influx, tmp_path: Path) -> None:
    result = from_spool(spool_file, tmp_path, "--at", "2026-12-06T12:00")
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout == "no call of agent h-1 within 15 min of 2026-12-06 12:00:00 (UTC)\n"
    for source in (f"spool:{spool_file}", "influx"):  # h-2 had a call then, h-1 none
        other = run(tmp_path, "--agent", "h-1", "--at", "2026-12-06T11:30", "--from", source, "--url", influx.url)
        assert other.returncode == 1 and other.stdout.startswith("no call of agent h-1"), other
    remote = run(tmp_path, "--agent", "h-9", "--at", "2026-12-06T10:40", "--from", "influx", "--url", influx.url,
                 "--json")
    assert remote.returncode == 1 and json.loads(remote.stdout)["call"] is None


def test_the_nearest_call_is_chosen(spool_file: Path, tmp_path: Path) -> None:
    """h-1's earlier call (09:37-09:42) and h-2's call at the same time stay out of h-1's 10:40 call."""
    earlier = json.loads(from_spool(spool_file, tmp_path, "--at", "2026-12-06T09:50", "--json").stdout)
    assert earlier["call"]["start"] == "2026-12-06T09:37:00+00:00"
    assert len(earlier["call"]["windows"]) == 2 * WINDOWS


def test_nothing_private_reaches_any_output(spool_file: Path, influx, tmp_path: Path) -> None:
    outputs = [from_spool(spool_file, tmp_path, "--at", "2026-12-06T10:40", *extra) for extra in ((), ("--json",))]
    outputs.append(run(tmp_path, "--agent", "h-1", "--at", "2026-12-06T10:40", "--from", "influx", "--url",
                       influx.url, "--json"))
    for result in outputs:
        assert result.returncode == 0, result.stderr
        text = result.stdout + result.stderr
        strings = list(_strings(json.loads(result.stdout))) if result.stdout.startswith("{") else [text]
        for string in strings:
            assert not any(word in string for word in SECRET_WORDS), string
            assert not re.search(r"\d{7,}", string), string  # no phone number (nor any long number)
            assert not _addresses(string), string


def _addresses(text: str) -> list[str]:
    """Every run of hex digits, dots and colons that reads as an IPv4 or IPv6 address."""
    found = []
    for run in re.findall(r"[0-9A-Fa-f:.]{2,}", text):
        try:
            ipaddress.ip_address(run.strip("."))
        except ValueError:
            continue
        found.append(run)
    return found


def test_the_address_check_finds_addresses() -> None:
    assert _addresses("from 10:38:20 to 10:41:10 (97 % at 4.30") == []
    assert _addresses("host 192.0.2.7, then 2001:db8::1. and ::1") == ["192.0.2.7", "2001:db8::1.", "::1"]


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [*value.keys(), *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def test_an_agent_spool_with_a_collector_says_it_holds_only_unsent_windows(spool_file: Path,
                                                                           tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstate_dir = "{spool_file.parent}"\n[collector]\nurl = "http://c.example:8086"\n',
                      encoding="utf-8")
    result = run(tmp_path, "--agent", "h-1", "--at", "2026-12-06T10:40", "--config", str(config), "--json")
    assert result.returncode == 0
    (note,) = json.loads(result.stdout)["notes"]
    assert "only samples not yet sent" in note and "--from influx --url http://c.example:8086" in note
    assert result.stderr == f"homeshore diagnose: {note}\n"


@pytest.mark.parametrize(("args", "fragment"), [
    (("--at", "25:00"), "--at: time '25:00' is not HH:MM"),
    (("--at", "soon"), "--at: time 'soon' is not HH:MM"),
    (("--at", "10:40", "--from", "influx"), "--from influx needs --url"),
    (("--at", "10:40", "--from", "csv:x.csv"), "expected influx, spool or spool:FILE"),
    (("--at", "10:40", "--from", "spool:/nonexistent/spool.sqlite3"), "no local store at /nonexistent"),
    (("--at", "10:40", "--within", "0"), "--within"),
    (("--at", "10:40", "--from", "influx", "--url", "ftp://x"), "--url: collector URL must be http"),
    (("--at", "10:40", "--from", "influx", "--url", "http://127.0.0.1:1", "--password-file", "/nonexistent"),
     "--password-file: cannot read /nonexistent"),
    (("--from", "spool"), "Missing option '--at'"),
])
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], fragment: str, tmp_path: Path) -> None:
    assert_one_line_exit_2(run(tmp_path, "--agent", "h-1", *args), fragment)


def test_an_unreachable_collector_is_one_line_naming_it(tmp_path: Path) -> None:
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}"
        assert_one_line_exit_2(run(tmp_path, "--agent", "h-1", "--at", "10:40", "--from", "influx", "--url", url),
                               f"cannot reach the collector at {url}")

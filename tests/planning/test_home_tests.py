"""CSV rows and schema samples into HomeTests: what is kept (district, sector, figures), what is dropped (the
postcode itself), and rows that cannot be read counted with their first reason."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from homeshore.planning.home_tests import SampleInputError, parse_time, csv_home_tests, sample_home_tests

HEADER = "time,agent,postcode,download_mbps,upload_mbps,idle_rtt_ms,loaded_rtt_ms,jitter_ms,loss_pct,mos,conn\n"


def test_a_full_postcode_gives_district_and_sector_and_is_not_kept() -> None:
    read = csv_home_tests([HEADER, "2026-11-01T19:30:00Z,a1,ng5 3ab,12.5,1.2,20,80,3,0.1,4.3,wifi\n"])
    (test,) = read.tests
    assert (test.district, test.sector, test.agent, test.conn) == ("NG5", "NG5 3", "a1", "wifi")
    assert (test.download_mbps, test.upload_mbps, test.idle_rtt_ms, test.loaded_rtt_ms, test.jitter_ms,
            test.loss_pct, test.mos) == (12.5, 1.2, 20.0, 80.0, 3.0, 0.1, 4.3)
    assert test.time == datetime(2026, 11, 1, 19, 30, tzinfo=timezone.utc)
    assert "3AB" not in repr(test) and "3ab" not in repr(test)


@pytest.mark.parametrize("postcode, district, sector", [
    ("NG53AB", "NG5", "NG5 3"), ("EC1A 1BB", "EC1A", "EC1A 1"), ("NG5", "NG5", None), ("  w1a 0ax ", "W1A", "W1A 0"),
])
def test_postcode_forms(postcode: str, district: str, sector: str | None) -> None:
    (test,) = csv_home_tests([HEADER, f"1700000000,a,{postcode},10,,,,,,,\n"]).tests
    assert (test.district, test.sector) == (district, sector)
    assert test.upload_mbps is None and test.conn is None


def test_bad_rows_are_counted_with_the_first_reason_and_the_rest_kept() -> None:
    read = csv_home_tests([HEADER, "yesterday,a,NG5 1AB,10,,,,,,,\n", "1700000000,b,NOT A PC,10,,,,,,,\n",
                           "1700000000,c,NG5 1AB,ten,,,,,,,\n", "1700000000,,NG5 1AB,10,,,,,,,\n",
                           "1700000000,e,NG5 1AB,10,,,,,,,\n"])
    assert (read.rows_read, read.rows_skipped, len(read.tests)) == (5, 4, 1)
    assert read.first_problem == "line 2: time 'yesterday' is not ISO-8601 or Unix seconds"


@pytest.mark.parametrize("lines, fragment", [
    ([], "empty file"),
    (["when,who,download_mbps\n"], "no time, agent, postcode column (columns seen: when, who, download_mbps)"),
    (["time,agent,postcode,colour\n"], "no measurement column"),
])
def test_unusable_files_raise_one_line(lines: list[str], fragment: str) -> None:
    with pytest.raises(SampleInputError, match="^samples.csv: ") as raised:
        csv_home_tests(lines)
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("text, expected", [
    ("2026-07-01T18:30:00+01:00", datetime(2026, 7, 1, 17, 30, tzinfo=timezone.utc)),
    ("2026-07-01 18:30:00", datetime(2026, 7, 1, 18, 30, tzinfo=timezone.utc)),
    ("1782930600", datetime(2026, 7, 1, 18, 30, tzinfo=timezone.utc)),
    ("2026-07-01T18:30:00z", datetime(2026, 7, 1, 18, 30, tzinfo=timezone.utc)),
])
def test_times(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_samples_give_one_test_per_point_with_the_worse_loaded_phase() -> None:
    tags = {"agent": "a", "area": "NG5", "conn": "wired"}
    tests = sample_home_tests([
        ("bandwidth", tags, {"download_mbps": 20.0, "loaded_rtt_down_ms": 90.0, "loaded_rtt_up_ms": 140.0}, 10**18),
        ("voip_test", tags, {"mos": 4.1, "jitter_ms": 80.0}, 10**18),
        ("host", tags, {"cpu_pct": 3.0}, 10**18),
        ("bandwidth", {**tags, "area": ""}, {"download_mbps": 1.0}, 10**18),  # no district: left out
        ("bandwidth", {**tags, "agent": ""}, {"download_mbps": 1.0}, 10**18),  # no agent: left out
    ])
    assert len(tests) == 2
    speed, call = tests
    assert (speed.download_mbps, speed.loaded_rtt_ms, speed.mos, speed.sector) == (20.0, 140.0, None, None)
    assert (call.mos, call.download_mbps, call.jitter_ms) == (4.1, None, None)  # the call's jitter is not the probe's
    assert speed.time == datetime(2001, 9, 9, 1, 46, 40, tzinfo=timezone.utc)

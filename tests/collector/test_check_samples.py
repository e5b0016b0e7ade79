"""The samples a check leaves in the local store, written to a real InfluxDB 1.x and read back."""

from __future__ import annotations

import copy

import pytest

from homeshore.collector.check_samples import browser_home, check_samples, server_tag
from homeshore.collector.schema import Sample, to_line_protocol
from tests.references.influxd import InfluxServer

DOCUMENT = {
    "verdict": "WARN", "could_not_measure": False, "server": "http://collector.example.org:8080",
    "method": "selfhosted", "time": "2026-11-24T10:40:00+00:00", "candidate": "REF-123", "area": "NG5",
    "criteria": [{"name": "download", "status": "PASS"}, {"name": "loaded_rtt", "status": "WARN"},
                 {"name": "mos", "status": "FAIL"}],
    "measurements": {
        "download_goodput_mbps": 31.2, "upload_goodput_mbps": 9.5, "idle_rtt_ms": 18.25,
        "loaded_rtt_download_ms": 140.0, "loaded_rtt_upload_ms": 90.5, "jitter_ms": 1.5, "loss_pct": 0.4,
        "bytes_used": 24_000_000, "duration_s": 52.3,
        "synthetic_call": {"codec": "PCMU", "rtt_ms": 18.3, "jitter_ms": 1.2, "loss_pct": 0.4, "burst_loss_pct": 0.0,
                           "r_factor": 92.1, "mos": 4.39},
    },
    "host": {"conn": "wifi"},
}
TIME_NS = 1795516800 * 10**9  # 2026-11-24T10:40:00Z


@pytest.fixture(scope="module")
def influx():
    with InfluxServer() as server:
        server.query("CREATE DATABASE homeshore")
        yield server


def test_a_full_check_gives_readiness_bandwidth_and_voip_test_with_bounded_tags() -> None:
    samples = {s.measurement: s for s in check_samples(DOCUMENT, agent="h-1", source="cli")}
    assert sorted(samples) == ["bandwidth", "readiness", "voip_test"]
    assert all(s.time_ns == TIME_NS for s in samples.values())
    assert dict(samples["readiness"].tags) == {"agent": "h-1", "area": "NG5", "conn": "wifi",
                                               "server": "collector.example.org:8080"}
    assert dict(samples["readiness"].fields) == {"verdict": "WARN", "candidate": "REF-123", "policy": "defaults",
                                                 "source": "cli", "download_pass": 1.0, "loaded_rtt_pass": 0.0, "mos_pass": 0.0}
    assert samples["bandwidth"].fields["loaded_rtt_down_ms"] == 140.0
    assert samples["voip_test"].tags["codec"] == "PCMU" and samples["voip_test"].fields["mos"] == 4.39


def test_the_readiness_sample_names_the_policy_file_by_name_and_digest_never_by_path() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["policy"] = {"file": "strict.toml", "sha256": "0123456789abcdef" * 4}
    (readiness,) = [s for s in check_samples(document, agent="h-1", source="cli") if s.measurement == "readiness"]
    assert readiness.fields["policy"] == "strict.toml sha256:0123456789ab"
    document["policy"] = {"file": None, "sha256": None}
    (readiness,) = [s for s in check_samples(document, agent="h-1", source="cli") if s.measurement == "readiness"]
    assert readiness.fields["policy"] == "defaults"


def test_a_speeds_only_ookla_check_writes_no_voip_test_and_tags_the_server_ookla() -> None:
    document = copy.deepcopy(DOCUMENT)
    document.update(method="ookla", server="speedtest.example.net:8080", area=None, candidate=None)
    document["measurements"]["synthetic_call"] = None
    samples = check_samples(document, agent="h-1", source="cli")
    assert [s.measurement for s in samples] == ["readiness", "bandwidth"]
    assert server_tag(document) == "ookla" and "area" not in samples[0].tags  # empty tags are left out
    assert "candidate" not in samples[0].fields


def test_the_source_is_a_field_of_the_three_kinds_never_a_tag() -> None:
    for source in ("cli", "agent", "browser"):
        (readiness, *others) = check_samples(DOCUMENT, agent="h-1", source=source)
        assert readiness.fields["source"] == source and "source" not in readiness.tags
        assert all("source" not in s.fields for s in others)
    with pytest.raises(ValueError, match="source 'phone' must be one of"):
        check_samples(DOCUMENT, agent="h-1", source="phone")
    with pytest.raises(ValueError, match="tag 'source' is not in the schema"):
        Sample("readiness", {"source": "cli"}, {"verdict": "PASS"}, 0)


def test_a_browser_checks_home_is_the_candidates_not_the_servers() -> None:
    """Every browser check is stored by one server (agent "srv-1"); each candidate's checks share a home of their
    own: sha256 of the server's id, a NUL and the reference, its first 16 hex digits (hashlib, computed here)."""
    import hashlib

    def agents(reference: str, server: str = "srv-1", source: str = "browser") -> set[str]:
        return {s.tags["agent"] for s in check_samples(dict(DOCUMENT, candidate=reference), agent=server,
                                                       source=source)}

    expected = "b-" + hashlib.sha256(b"srv-1\x00REF-123").hexdigest()[:16]
    assert agents("REF-123") == {expected} == {browser_home("srv-1", "REF-123")}  # readiness, bandwidth, voip_test
    assert agents("REF-124") != agents("REF-123") and agents("REF-123", server="srv-2") != agents("REF-123")
    assert "REF" not in expected
    assert agents("REF-123", source="cli") == {"srv-1"}  # a check on the home's machine keeps the machine's id


def test_nothing_measured_still_records_the_verdict_only() -> None:
    document = {"verdict": "FAIL", "time": "2026-11-24T10:40:00+00:00", "criteria": [], "method": "selfhosted",
                "server": "http://10.0.0.1:8080", "measurements": {}, "host": {}}
    assert [s.measurement for s in check_samples(document, agent="h-1", source="cli")] == ["readiness"]


def test_influxdb_stores_the_samples_exactly(influx) -> None:
    document = dict(DOCUMENT, policy={"file": "strict.toml", "sha256": "fedcba9876543210" * 4})
    lines = [to_line_protocol(s) for s in check_samples(document, agent="h-7", source="cli")]
    assert influx.write(lines, "homeshore").status == 204
    rows = influx.rows("SELECT * FROM readiness WHERE agent = 'h-7'", "homeshore")
    assert len(rows) == 1 and rows[0]["verdict"] == "WARN" and rows[0]["candidate"] == "REF-123"
    assert rows[0]["source"] == "cli"
    assert rows[0]["policy"] == "strict.toml sha256:fedcba987654"
    assert rows[0]["area"] == "NG5" and rows[0]["server"] == "collector.example.org:8080"
    bandwidth = influx.rows("SELECT download_mbps, loaded_rtt_up_ms, bytes_used FROM bandwidth", "homeshore")
    assert (bandwidth[0]["download_mbps"], bandwidth[0]["loaded_rtt_up_ms"], bandwidth[0]["bytes_used"]) == \
        (31.2, 90.5, 24_000_000)
    voip = influx.rows("SELECT mos, r_factor FROM voip_test WHERE codec = 'PCMU'", "homeshore")
    assert (voip[0]["mos"], voip[0]["r_factor"]) == (4.39, 92.1)

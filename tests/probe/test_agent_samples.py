"""The agent's results as schema samples (probe/agent_samples.py): tables of cases, pure."""

from __future__ import annotations

import copy

import pytest

from homeshore.collector.schema import from_line_protocol, to_line_protocol
from homeshore.probe.agent_samples import (CALL_TIME_SPREAD_NS, SelfMetrics, agent_sample, call_sample, common_tags,
                                           host_sample, speedtest_samples)
from homeshore.probe.host import HostContext, LinkInfo
from homeshore.probe.host_traffic import TrafficReading
from homeshore.quality.calls import CallSample
from tests.collector.test_check_samples import DOCUMENT

TAGS = common_tags("h-1", "NG5", "hub-a")
WIFI = LinkInfo("wlan0", "wifi", None, 1500, -61.0, 49.0, "sysfs")
CABLE = LinkInfo("eth0", "wired", 1000, 1500, None, None, "sysfs")


def test_common_tags_leave_empty_values_out_of_the_sample() -> None:
    sample = agent_sample(SelfMetrics(0, 0, 0, None, None), common_tags("h-1"), 1)
    assert dict(sample.tags) == {"agent": "h-1"}


@pytest.mark.parametrize("context, conn, fields", [
    (HostContext(WIFI, TrafficReading("wlan0", 10.0, 1_250_000, 250_000, 12.5), None, 41.0), "wifi",
     {"cpu_pct": 12.5, "mem_pct": 41.0, "rx_mbps": 1.0, "tx_mbps": 0.2, "wifi_signal_dbm": -61.0}),
    (HostContext(CABLE, TrafficReading("eth0", 10.0, None, None, 3.0), None, 50.5), "wired",
     {"cpu_pct": 3.0, "mem_pct": 50.5, "link_mbps": 1000.0}),  # counters lost (interface recreated): no rates
    (HostContext(None, None, None, 20.0), "unknown", {"mem_pct": 20.0}),  # no route: still memory
])
def test_host_samples_carry_the_link_the_load_and_the_conn_tag(context, conn, fields) -> None:
    sample = host_sample(context, TAGS, 1_700_000_000_000_000_000)
    assert sample.measurement == "host"
    assert dict(sample.tags) == {**TAGS, "conn": conn}
    assert dict(sample.fields) == fields
    assert all(isinstance(value, float) for value in sample.fields.values())  # a field never changes type
    assert from_line_protocol(to_line_protocol(sample)) == sample


def test_a_host_sample_with_nothing_measured_is_not_made() -> None:
    assert host_sample(HostContext(None, None, None, None), TAGS, 1) is None


def _call(**changes) -> CallSample:
    base = dict(phase="window", time_s=1_700_000_010.0, call="c0ffee12", direction="inbound", source="capture",
                ssrc=0x1234ABCD, codec="PCMA", packets=500, lost=3, lost_total=7, loss_pct=0.6, jitter_ms=2.25,
                jitter_max_ms=9.5, rtt_ms=None, r_factor=90.1, mos=4.3, clock_hz=8000)
    return CallSample(**{**base, **changes})


def test_a_call_window_maps_to_the_schema_names_with_the_call_key_as_a_string_field() -> None:
    sample = call_sample(_call(), TAGS, "wired")
    assert dict(sample.tags) == {**TAGS, "conn": "wired", "codec": "PCMA", "direction": "inbound",
                                 "phase": "window"}
    assert dict(sample.fields) == {"packets": 500.0, "lost": 3.0, "loss_pct": 0.6, "jitter_ms": 2.25,
                                   "max_jitter_ms": 9.5, "r_factor": 90.1, "mos": 4.3, "call_key": "c0ffee12"}
    # The SSRC is neither a tag nor a field; it only spreads the timestamp by a few nanoseconds.
    assert str(0x1234ABCD) not in to_line_protocol(sample)
    assert sample.time_ns == 1_700_000_010 * 10**9 + 0x1234ABCD % CALL_TIME_SPREAD_NS


@pytest.mark.parametrize("codec, model, note, r, mos", [
    ("AMR-WB", "g107.1", None, 121.0, 4.42),  # AMR-WB 23.85 kbit/s: R on G.107.1's 0-129 scale
    ("AMR-WB", "g107.1", "AMR-WB mode unknown (Ie,wb depends on it)", None, None),
    ("PCMA", "g107", None, 93.21, 4.41),
])
def test_a_call_window_says_which_e_model_scored_it_and_why_there_is_no_mos(codec, model, note, r, mos) -> None:
    sample = call_sample(_call(codec=codec, r_factor=r, mos=mos, mos_model=model, mos_note=note), TAGS)
    expected = {"r_factor": r, "mos": mos, "mos_model": model, "mos_note": note}
    assert {k: sample.fields.get(k) for k in expected} == expected
    assert f'mos_model="{model}"' in to_line_protocol(sample)  # a string field, never a tag
    assert "mos_model" not in sample.tags and from_line_protocol(to_line_protocol(sample)) == sample


def test_two_streams_windowed_on_the_same_grid_point_do_not_overwrite_each_other() -> None:
    one = call_sample(_call(ssrc=1001), TAGS)
    other = call_sample(_call(ssrc=2002), TAGS)
    assert one.tags == other.tags and one.time_ns != other.time_ns


def test_an_outbound_stream_without_receiver_reports_and_an_end_sample() -> None:
    sample = call_sample(_call(phase="end", direction="outbound", source="capture", lost=None, lost_total=None,
                               loss_pct=None, jitter_ms=None, jitter_max_ms=None, r_factor=None, mos=None), TAGS)
    assert sample.tags["phase"] == "end" and sample.tags["direction"] == "outbound"
    assert dict(sample.fields) == {"packets": 500.0, "call_key": "c0ffee12"}  # no quality it never earned


def test_the_agent_sample_counts_and_leaves_out_capture_figures_when_capture_is_off() -> None:
    on = agent_sample(SelfMetrics(12, 3, 2, 4500, 1), TAGS, 5)
    assert dict(on.fields) == {"spool_rows": 12.0, "spool_dropped": 3.0, "write_errors": 2.0,
                               "packets_seen": 4500.0, "capture_drops": 1.0}
    off = agent_sample(SelfMetrics(0, 0, 0, None, None), TAGS, 5)
    assert set(off.fields) == {"spool_rows", "spool_dropped", "write_errors"}
    assert dict(off.tags) == TAGS


def test_a_scheduled_speed_test_is_stored_as_a_check_is_with_the_agent_tags() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["candidate"] = None
    samples = {s.measurement: s for s in speedtest_samples(document, TAGS)}
    assert sorted(samples) == ["bandwidth", "readiness", "voip_test"]
    for sample in samples.values():
        assert {k: sample.tags[k] for k in TAGS} == TAGS  # site included, which a check has not
    assert samples["bandwidth"].fields["download_mbps"] == 31.2
    assert "candidate" not in samples["readiness"].fields and samples["readiness"].fields["source"] == "agent"

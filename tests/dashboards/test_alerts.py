"""The Grafana alert rules in dashboards/provisioning/alerting/: read from the file as Grafana reads it, each
rule's query run on a real InfluxDB 1.6 holding a poor call, a clean call, a call with one poor window, a silent
agent and a growing spool, and its reduce and threshold evaluated as the file states: each rule fires for
exactly the bad case it is for.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest

from homeshore.collector import alert_rules
from homeshore.collector.schema import Sample, to_line_protocol
from tests.conftest import REPO
from tests.dashboards import grafana_macros as gm
from tests.dashboards.test_dashboards import schema_problems, read_simple_yaml
from tests.references.influxd import InfluxServer

ALERTING_YAML = REPO / "dashboards" / "provisioning" / "alerting" / "homeshore.yaml"
DATABASE = "homeshore"


def decoded(node: Any) -> Any:
    """The tiny reader's scalars as YAML 1.2 reads the file's JSON-style scalars."""
    if isinstance(node, dict):
        return {key: decoded(value) for key, value in node.items()}
    if isinstance(node, list):
        return [decoded(value) for value in node]
    return json.loads(node)


def provisioned_rules() -> list[dict[str, Any]]:
    document = decoded(read_simple_yaml(ALERTING_YAML.read_text()))
    assert document["apiVersion"] == 1 and len(document["groups"]) == 1
    return document["groups"][0]["rules"]


def test_file_is_rendered_from_the_rule_table() -> None:
    assert ALERTING_YAML.read_text() == alert_rules.render_yaml(alert_rules.provisioning()), \
        "run python -m homeshore.collector.alert_rules > dashboards/provisioning/alerting/homeshore.yaml"


def test_rules_are_grafana_rules_on_the_dashboards_data_source() -> None:
    rules = provisioned_rules()
    assert [rule["uid"] for rule in rules] == [rule.uid for rule in alert_rules.RULES]
    for rule in rules:
        query, reduce, threshold = rule["data"]
        assert rule["condition"] == threshold["refId"] == "C"
        assert query["datasourceUid"] == "homeshore-influxql" and query["model"]["rawQuery"] is True
        assert query["relativeTimeRange"]["from"] > 0 and query["relativeTimeRange"]["to"] == 0
        assert reduce["model"]["type"] == "reduce"
        assert reduce["model"]["expression"] == "A" and threshold["model"]["expression"] == "B"
        assert threshold["model"]["type"] == "threshold"
        # Grafana takes a provisioned rule's query model raw, with no environment expansion (its
        # provisioning/alerting/rules_types.go: "Value would try to interpolate macros like $__timeFilter")
        text = query["model"]["query"]
        assert "$timeFilter" in text and "$$" not in text and schema_problems(text) == []


# --- sample data: times in whole seconds before the evaluation time -------------------------------------------

def call_windows(agent: str, direction: str, mos_by_age_s: dict[int, float], now_s: int) -> list[Sample]:
    tags = {"agent": agent, "area": "NG5", "conn": "wired", "codec": "PCMA", "direction": direction,
            "phase": "window"}
    return [Sample("call", {**tags, "cause": "upload_saturated"} if mos < alert_rules.POOR_MOS else tags,
                   {"mos": mos, "jitter_ms": 4.0, "call_key": f"k-{agent}"}, (now_s - age_s) * 10**9)
            for age_s, mos in mos_by_age_s.items()]


def sample_data(now_s: int) -> list[Sample]:
    windows = range(300, -1, -10)  # a 5-minute call, a window every 10 s, the last one now
    samples = call_windows("agent-poor", "outbound", {age: 2.4 for age in windows}, now_s)
    samples += call_windows("agent-poor", "inbound", {age: 4.3 for age in windows}, now_s)
    samples += call_windows("agent-clean", "outbound", {age: 4.3 for age in windows}, now_s)
    # One poor window, the newest: not 30 s of poor call.
    samples += call_windows("agent-dip", "outbound", {age: 2.0 if age == 0 else 4.2 for age in windows}, now_s)
    # Poor for 30 s, but an hour ago: over.
    samples += call_windows("agent-earlier", "outbound", {3600 + age: 2.2 for age in windows}, now_s)
    for agent in ("agent-poor", "agent-clean", "agent-dip", "agent-earlier", "agent-silent", "agent-spool"):
        last_s = now_s - 20 * 60 if agent == "agent-silent" else now_s
        for t in range(now_s - 7200, last_s + 1, 10):
            samples.append(Sample("host", {"agent": agent, "conn": "wired"}, {"cpu_pct": 20.0}, t * 10**9))
        for minute, t in enumerate(range(now_s - 3600, last_s + 1, 60)):
            rows = 60.0 * minute if agent == "agent-spool" else float(minute % 40)  # growing, or a sawtooth
            samples.append(Sample("agent", {"agent": agent}, {"spool_rows": rows}, t * 10**9))
    return samples


@pytest.fixture(scope="module")
def influx() -> Iterator[tuple[InfluxServer, int]]:
    now_s = int(time.time()) - 60
    with InfluxServer() as server:
        server.query(f'CREATE DATABASE {DATABASE} WITH DURATION 90d REPLICATION 1 NAME "raw"')
        reply = server.write([to_line_protocol(sample) for sample in sample_data(now_s)], DATABASE)
        assert reply.status == 204, reply.body
        yield server, now_s


def firing(server: InfluxServer, rule: dict[str, Any], end_ms: int) -> dict[tuple[str, ...], float]:
    """Run the rule's query (A) for its range ending at end_ms, reduce each series (B), keep those past the
    threshold (C): {series tag values: reduced value}."""
    query, reduce, threshold = rule["data"]
    text = gm.expand_macros(query["model"]["query"],
                            start=end_ms - query["relativeTimeRange"]["from"] * 1000, end=end_ms,
                            interval_ms=1000)
    series = server.query(text, DATABASE)["results"][0].get("series", [])
    evaluator = threshold["model"]["conditions"][0]["evaluator"]
    rule_table = alert_rules.AlertRule(uid="", title="", query="", range_s=0, reducer=reduce["model"]["reducer"],
                                       evaluator=evaluator["type"], threshold=evaluator["params"][0], summary="")
    out = {}
    for one in series:
        value = alert_rules.reduce_values([row[1] for row in one["values"]], rule_table.reducer)
        if alert_rules.fires(rule_table, value):
            out[tuple(one["tags"][key] for key in sorted(one["tags"]))] = value
    return out


EXPECTED = {
    "homeshore-call-mos-low": {("agent-poor", "outbound")},
    "homeshore-agent-silent": {("agent-silent",)},
    "homeshore-spool-growing": {("agent-spool",)},
}


@pytest.mark.parametrize("rule", provisioned_rules(), ids=lambda rule: rule["uid"])
def test_rule_fires_exactly_for_its_bad_case(influx: tuple[InfluxServer, int], rule: dict[str, Any]) -> None:
    server, now_s = influx
    fired = firing(server, rule, now_s * 1000)
    assert set(fired) == EXPECTED[rule["uid"]]


def test_rule_values_are_the_data_s_own(influx: tuple[InfluxServer, int]) -> None:
    """The reduced values by exact arithmetic on the sample data: the poor call's best window in 30 s is 2.4;
    the silent agent has sent nothing for 20 minutes; the spool grew 60 rows a minute for 30 minutes."""
    server, now_s = influx
    by_uid = {rule["uid"]: firing(server, rule, now_s * 1000) for rule in provisioned_rules()}
    assert by_uid["homeshore-call-mos-low"] == {("agent-poor", "outbound"): pytest.approx(2.4)}
    assert by_uid["homeshore-agent-silent"] == {("agent-silent",): 0}
    assert by_uid["homeshore-spool-growing"] == {("agent-spool",): 60 * 30}


def test_reduce_and_threshold_as_grafana() -> None:
    assert alert_rules.reduce_values([3.0, 1.0, 2.0], "last") == 2.0
    assert alert_rules.reduce_values([3.0, 1.0, 2.0], "max") == 3.0
    assert alert_rules.reduce_values([3.0, 1.0, 2.0], "min") == 1.0
    assert alert_rules.reduce_values([3.0, 1.0, 2.0], "mean") == 2.0
    assert alert_rules.reduce_values([], "last") is None
    assert alert_rules.reduce_values([1.0, None], "last") is None  # strict mode: a null makes no value
    rule = alert_rules.RULES[0]
    assert alert_rules.fires(rule, 3.0) and not alert_rules.fires(rule, 3.1) and not alert_rules.fires(rule, None)

"""The alert rules, defined once: Grafana's provisioning file is rendered from this table, and
`homeshore collector alerts` evaluates the same table for contact centres without Grafana alerting. Pure.

Each rule is one raw InfluxQL query (A) over a time range ending now, Grafana's `reduce` of each series to one
number (B), and a `threshold` on that number (C, the condition); one alert instance per series, so per agent
(and per direction for calls). `$timeFilter` is the one macro the queries use: Grafana's server replaces it with
`time >= <from>ms and time <= <to>ms` (pkg/tsdb/influxdb/models/query.go), and so does `expand_query`.

`python -m homeshore.collector.alert_rules > dashboards/provisioning/alerting/homeshore.yaml` rewrites the file;
tests/dashboards/test_alerts.py fails when the two differ.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal, Optional, Sequence

DATASOURCE_UID = "homeshore-influxql"  # dashboards/provisioning/datasources/homeshore.yaml
FOLDER = "homeshore"
GROUP = "homeshore"
GROUP_INTERVAL = "30s"

Reducer = Literal["last", "max", "min", "mean"]
Evaluator = Literal["lt", "gt"]

# ITU-T G.107 Annex B: R below 60 is "nearly all users dissatisfied"; R = 60 is MOS 3.1 (G.107 eq. B-4).
POOR_MOS = 3.1
SILENT_S = 15 * 60
SPOOL_GROWTH_ROWS = 500  # rows more in the spool at the end of 30 minutes than at their start


@dataclass(frozen=True)
class AlertRule:
    """`range_s`: how far back the query looks (Grafana's relativeTimeRange.from); the rule fires for a series
    whose `reducer` value is `evaluator` `threshold` (lt: below, gt: above)."""

    uid: str
    title: str
    query: str
    range_s: int
    reducer: Reducer
    evaluator: Evaluator
    threshold: float
    summary: str


RULES: tuple[AlertRule, ...] = (
    AlertRule(
        uid="homeshore-call-mos-low",
        title="Call MOS below 3.1 for 30 s",
        # The best 10-s window of the last 30 s is still poor: the whole 30 s was.
        query='SELECT max("mos") AS "mos" FROM "call" WHERE "phase" = \'window\' AND $timeFilter '
              'GROUP BY "agent", "direction"',
        range_s=30, reducer="last", evaluator="lt", threshold=POOR_MOS,
        summary="A live call's MOS stayed below 3.1 for 30 s; the Call quality dashboard shows the cause."),
    AlertRule(
        uid="homeshore-agent-silent",
        title="Agent silent for 15 minutes",
        # Host samples per minute, averaged over the last 15 one-minute buckets: an agent that wrote within the
        # 24 h but not since has a series ending in zeros (empty minutes count 0). A count over the last 15
        # minutes alone would have no series for it, and nothing to fire on.
        query='SELECT moving_average(count("cpu_pct"), 15) AS "samples_per_min" FROM "host" WHERE $timeFilter '
              'GROUP BY time(1m), "agent" fill(0)',
        range_s=24 * 3600, reducer="last", evaluator="lt", threshold=0.01,
        summary="No host sample from this agent for 15 minutes (it sent some in the last 24 hours)."),
    AlertRule(
        uid="homeshore-spool-growing",
        title="Agent spool growing",
        query='SELECT last("spool_rows") - first("spool_rows") AS "growth_rows" FROM "agent" WHERE $timeFilter '
              'GROUP BY "agent"',
        range_s=30 * 60, reducer="last", evaluator="gt", threshold=SPOOL_GROWTH_ROWS,
        summary="The agent's spool grew by more than 500 rows in 30 minutes: it cannot write to the collector "
                "as fast as it measures."),
)


def expand_query(query: str, end_ms: int, range_s: int) -> str:
    """`$timeFilter` for the range_s seconds ending at end_ms, as Grafana's server writes it."""
    return query.replace("$timeFilter", f"time >= {end_ms - range_s * 1000}ms and time <= {end_ms}ms")


def reduce_values(values: Sequence[Optional[float]], reducer: Reducer) -> Optional[float]:
    """Grafana's reduce expression in its default (strict) mode: None when the series is empty or holds a
    null or NaN."""
    if not values or any(value is None or math.isnan(value) for value in values):
        return None
    numbers = [float(value) for value in values if value is not None]
    if reducer == "last":
        return numbers[-1]
    if reducer == "max":
        return max(numbers)
    if reducer == "min":
        return min(numbers)
    return sum(numbers) / len(numbers)


def fires(rule: AlertRule, value: Optional[float]) -> bool:
    """Grafana's threshold expression: strictly below (lt) or above (gt); no value never fires."""
    if value is None:
        return False
    return value < rule.threshold if rule.evaluator == "lt" else value > rule.threshold


def provisioning(rules: Sequence[AlertRule] = RULES) -> dict[str, Any]:
    """Grafana's alerting provisioning document (apiVersion 1), as "Export" in Grafana 10/11 writes it."""
    return {"apiVersion": 1, "groups": [{
        "orgId": 1, "name": GROUP, "folder": FOLDER, "interval": GROUP_INTERVAL,
        "rules": [_grafana_rule(rule) for rule in rules]}]}


def _grafana_rule(rule: AlertRule) -> dict[str, Any]:
    expression = {"type": "__expr__", "uid": "__expr__"}
    return {
        "uid": rule.uid, "title": rule.title, "condition": "C",
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": rule.range_s, "to": 0}, "datasourceUid": DATASOURCE_UID,
             "model": {"refId": "A", "datasource": {"type": "influxdb", "uid": DATASOURCE_UID}, "rawQuery": True,
                       "resultFormat": "time_series", "query": rule.query}},
            {"refId": "B", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
             "model": {"refId": "B", "datasource": expression, "type": "reduce", "expression": "A",
                       "reducer": rule.reducer}},
            {"refId": "C", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
             "model": {"refId": "C", "datasource": expression, "type": "threshold", "expression": "B",
                       "conditions": [{"evaluator": {"type": rule.evaluator, "params": [rule.threshold]}}]}},
        ],
        "noDataState": "OK", "execErrState": "Error", "for": "0s",
        "annotations": {"summary": rule.summary}, "labels": {"source": "homeshore"}, "isPaused": False,
    }


def render_yaml(document: Any) -> str:
    """Block YAML of mappings and lists of mappings; every scalar (and list of scalars) in JSON flow style,
    which YAML 1.2 reads as written, so no string needs YAML's quoting rules."""
    header = ("# Grafana alert rules for homeshore: copy into Grafana's provisioning/alerting directory.\n"
              "# Generated from collector/alert_rules.py (python -m homeshore.collector.alert_rules); edit that.\n")
    return header + "\n".join(_yaml_lines(document, 0)) + "\n"


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_block(item):
                lines.append(f"{pad}{key}:")
                lines += _yaml_lines(item, indent + 2)
            else:
                lines.append(f"{pad}{key}: {json.dumps(item)}")
        return lines
    for item in value:  # a list of mappings
        inner = _yaml_lines(item, indent + 2)
        lines.append(f"{pad}- {inner[0].lstrip()}")
        lines += inner[1:]
    return lines


def _is_block(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and bool(value)
                                       and all(isinstance(item, dict) for item in value))


if __name__ == "__main__":
    print(render_yaml(provisioning()), end="")

"""The Grafana dashboards in dashboards/: structure, provisioning, and every query run on a real InfluxDB 1.6.

Sample data for every measurement (six homes in three postcode districts, Wi-Fi and wired, live calls in both
directions with window and end phases, readiness checks with every verdict on two test servers, six hours of
host and agent self-metrics) goes through collector.schema into a database laid out as provisioning makes it
(retention policy `raw`, the default). Each dashboard's template variables are then loaded the way Grafana
loads them (their queries run first, chained variables with the values chosen before), every panel target is
expanded with grafana_macros as Grafana would expand it for the dashboard's own default time range, and run as
the read-only `grafana` user the provisioned data source logs in as. Every target must return at least one
series with a value, for each variable's first value, for "All", and for two values of a multi-value variable.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from homeshore.collector.check_samples import check_samples
from homeshore.collector.schema import MEASUREMENTS, TAG_VALUES, Sample, to_line_protocol
from homeshore.planning.cause import HostFigures, WindowFigures
from homeshore.planning.verdict import CRITERIA
from tests.conftest import REPO, SHARED, skip_or_fail
from tests.dashboards import grafana_macros as gm
from tests.dashboards.grafana_macros import ALL, Variable
from tests.references.influxd import InfluxServer

DASHBOARDS = REPO / "dashboards"
DASHBOARD_FILES = ("call_quality.json", "readiness.json", "areas.json")
DATASOURCE_YAML = DASHBOARDS / "provisioning" / "datasources" / "homeshore.yaml"
PROVIDER_YAML = DASHBOARDS / "provisioning" / "dashboards" / "homeshore.yaml"
DATABASE = "homeshore"
GRAFANA_USER = ("grafana", "grafana-test-password")
# Grafana's max data points default to the panel's width in pixels; a panel about 1000 pixels wide.
MAX_DATA_POINTS = 1000

# DESIGN.md "Schema (InfluxDB)": the fields of each measurement (readiness: one `<criterion>_pass` per criterion).
FIELDS: dict[str, frozenset[str]] = {
    "bandwidth": frozenset({"download_mbps", "upload_mbps", "idle_rtt_ms", "loaded_rtt_down_ms", "loaded_rtt_up_ms",
                            "jitter_ms", "loss_pct", "bytes_used", "duration_s"}),
    "voip_test": frozenset({"rtt_ms", "jitter_ms", "loss_pct", "burst_loss_pct", "r_factor", "mos"}),
    "call": frozenset({"packets", "lost", "loss_pct", "jitter_ms", "max_jitter_ms", "reordered", "duplicates",
                       "discarded_pct", "rtt_ms", "r_factor", "mos", "call_key"}),
    "host": frozenset({"cpu_pct", "mem_pct", "rx_mbps", "tx_mbps", "wifi_signal_dbm", "link_mbps"}),
    "readiness": frozenset({"verdict", "candidate"} | {f"{name}_pass" for name in CRITERIA}),
    "agent": frozenset({"spool_rows", "spool_dropped", "write_errors", "packets_seen", "capture_drops"}),
}
# The evidence fields a poor call window carries beside its `cause` tag: planning/cause.py names them after the
# figures it reads.
CAUSE_EVIDENCE: frozenset[str] = frozenset(
    f.name for f in dataclasses.fields(HostFigures) + dataclasses.fields(WindowFigures))
VERDICTS = ("PASS", "WARN", "FAIL")  # DESIGN.md: `homeshore check --json` "verdict"


# --- tiny YAML reader: PyYAML is not installed; the provisioning files use block mappings and lists only -------

def read_simple_yaml(text: str) -> Any:
    """Block mappings, block lists of mappings and plain scalars; comments and blank lines skipped."""
    lines = []
    for raw in text.splitlines():
        content = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if content.strip():
            lines.append((len(content) - len(content.lstrip()), content.strip()))
    value, rest = _yaml_block(lines, 0)
    assert not rest, f"unparsed YAML lines: {rest}"
    return value


def _yaml_block(lines: list[tuple[int, str]], indent: int) -> tuple[Any, list[tuple[int, str]]]:
    if lines and lines[0][0] == indent and lines[0][1].startswith("- "):
        items = []
        while lines and lines[0][0] == indent and lines[0][1].startswith("- "):
            first = (indent + 2, lines[0][1][2:])
            item, lines = _yaml_block([first] + lines[1:], indent + 2)
            items.append(item)
        return items, lines
    mapping: dict[str, Any] = {}
    while lines and lines[0][0] == indent:
        key, _, value = lines[0][1].partition(":")
        lines = lines[1:]
        if value.strip():
            mapping[key.strip()] = value.strip()
        else:
            deeper = lines[0][0] if lines and lines[0][0] > indent else indent + 2
            mapping[key.strip()], lines = _yaml_block(lines, deeper)
    return mapping, lines


def grafana_env(text: str, env: dict[str, str]) -> str:
    """Grafana's environment lookups in provisioning files: `$NAME` or `${NAME}` (docs, "Provision Grafana")."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), text)


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    return read_simple_yaml(DATASOURCE_YAML.read_text())["datasources"][0]


def load(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARDS / name).read_text())


def all_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def targets() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for name in DASHBOARD_FILES:
        for panel in all_panels(load(name)):
            for target in panel.get("targets", []):
                out.append((name, panel, target))
    return out


TARGETS = targets()
TARGET_IDS = [f"{name[:-5]}:{panel['title']}:{target['refId']}" for name, panel, target in TARGETS]


# --- structure ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_dashboard_is_a_grafana_dashboard(name: str, datasource: dict[str, Any]) -> None:
    board = load(name)
    assert board["uid"].startswith("homeshore-") and board["title"] and "homeshore" in board["tags"]
    assert 36 <= board["schemaVersion"] <= 41  # Grafana 10.x/11.x
    assert board["time"]["from"].startswith("now-") and board["time"]["to"] == "now"
    assert board["graphTooltip"] == 1, "a shared crosshair puts every panel on one time axis"
    panels = list(all_panels(board))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] >= 1 and grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] >= 1, panel["title"]
        covered = {(grid["y"] + dy, grid["x"] + dx) for dy in range(grid["h"]) for dx in range(grid["w"])}
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
        assert panel["datasource"] == {"type": "influxdb", "uid": datasource["uid"]}, panel["title"]
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]
        assert panel["type"] == "row" or refs, f"{panel['title']} has no query"
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "influxdb", "uid": datasource["uid"]}


@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=TARGET_IDS)
def test_target_is_a_raw_influxql_query(name: str, panel: dict[str, Any], target: dict[str, Any],
                                         datasource: dict[str, Any]) -> None:
    assert target["datasource"] == {"type": "influxdb", "uid": datasource["uid"]}
    assert target["rawQuery"] is True and target["resultFormat"] in ("time_series", "table")
    query = target["query"]
    assert "$timeFilter" in query
    if panel["type"] == "timeseries":
        assert "GROUP BY time($__interval)" in query
    if "GROUP BY time(" in query:
        assert re.search(r"fill\((none|null)\)", query), "a time-grouped query says how to fill empty intervals"
    defined = {variable["name"] for variable in load(name)["templating"]["list"]}
    used = set(re.findall(r"\$(\w+)", query)) - {"timeFilter", "__interval", "__interval_ms", "interval"}
    assert used <= defined, f"undefined variables {used - defined}"


def schema_problems(query: str) -> list[str]:
    """Names in a query that the schema lacks: every double-quoted identifier must be a measurement named in a
    FROM, a tag key or field of one of those, or an alias the query defines; enumerated tags and the verdict
    compare with values that exist."""
    measurements = set(re.findall(r'FROM\s+"(\w+)"', query))
    problems = [f"unknown measurement {m}" for m in sorted(measurements - set(MEASUREMENTS))]
    measurements &= set(MEASUREMENTS)
    known = set(measurements) | set(re.findall(r'AS\s+"([^"]+)"', query))
    for measurement in measurements:
        known |= MEASUREMENTS[measurement].tag_keys | FIELDS[measurement]
        if measurement == "call":
            known |= CAUSE_EVIDENCE
    problems += [f"unknown name {name}" for name in sorted(set(re.findall(r'"([^"]+)"', query)) - known)]
    for key, value in re.findall(r"\"(\w+)\"\s*!?=\s*'([^']*)'", query):
        allowed = TAG_VALUES.get(key) or (frozenset(VERDICTS) if key == "verdict" else None)
        if allowed is not None and value not in allowed:
            problems.append(f"{key} is never {value!r}")
    if not measurements:
        problems.append("no measurement")
    return problems


@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=TARGET_IDS)
def test_target_names_only_what_the_schema_has(name: str, panel: dict[str, Any], target: dict[str, Any]) -> None:
    assert schema_problems(target["query"]) == []


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_variable_queries_name_only_what_the_schema_has(name: str) -> None:
    for variable in load(name)["templating"]["list"]:
        if variable["type"] == "query":
            match = re.match(r'SHOW TAG VALUES FROM "(\w+)" WITH KEY = "(\w+)"', variable["query"])
            assert match, variable["query"]
            assert match.group(2) in MEASUREMENTS[match.group(1)].tag_keys
            assert schema_problems(variable["query"]) == []


def test_schema_check_catches_unknown_names() -> None:
    assert schema_problems('SELECT mean("mos") FROM "call" WHERE "phase" = \'window\'') == []
    assert schema_problems('SELECT mean("moss") FROM "call"') == ["unknown name moss"]
    assert schema_problems('SELECT mean("mos") FROM "calls"') == [
        "unknown measurement calls", "unknown name calls", "unknown name mos", "no measurement"]
    assert schema_problems('SELECT "verdict" FROM "readiness" WHERE "verdict" = \'OK\'') == ["verdict is never 'OK'"]
    assert schema_problems('SELECT mean("x") AS "y" FROM (SELECT "mos" AS "x" FROM "voip_test")') == []


def test_field_table_matches_design() -> None:
    design = SHARED / "DESIGN.md"
    if not design.exists():
        skip_or_fail(f"{design} not found")
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|$", design.read_text(), re.MULTILINE)
    table = {name: {re.sub(r"\s*\(.*", "", field).strip() for field in fields.split(",")} for name, fields in rows}
    for measurement, fields in FIELDS.items():
        if measurement == "readiness":  # DESIGN names the criterion fields in prose: "one boolean-as-float per criterion"
            assert {"verdict", "candidate"} <= fields
            continue
        assert table[measurement] == set(fields), measurement


# --- provisioning ---------------------------------------------------------------------------------------------

def test_datasource_provisioning(datasource: dict[str, Any]) -> None:
    document = read_simple_yaml(DATASOURCE_YAML.read_text())
    assert document["apiVersion"] == "1" and len(document["datasources"]) == 1
    assert datasource["uid"] == "homeshore-influxql" and datasource["type"] == "influxdb"
    assert datasource["access"] == "proxy"
    assert datasource["url"] == "$HOMESHORE_INFLUX_URL" and datasource["user"] == "grafana"
    assert datasource["jsonData"]["version"] == "InfluxQL" and datasource["jsonData"]["dbName"] == DATABASE
    assert gm.interval_to_ms(datasource["jsonData"]["timeInterval"]) == 10_000  # the host and call windows' period
    assert datasource["secureJsonData"] == {"password": "$HOMESHORE_GRAFANA_PASSWORD"}
    assert "password" not in datasource and "password" not in datasource["jsonData"], "a password in clear"


def test_dashboard_provider_points_at_the_dashboards() -> None:
    document = read_simple_yaml(PROVIDER_YAML.read_text())
    provider = document["providers"][0]
    assert provider["type"] == "file"
    path = Path(grafana_env(provider["options"]["path"], {"HOMESHORE_DASHBOARDS_DIR": str(DASHBOARDS)}))
    assert path == DASHBOARDS
    found = sorted(p.relative_to(path).as_posix() for p in path.rglob("*.json"))  # Grafana reads every *.json below
    assert found == sorted(DASHBOARD_FILES)
    uids = [json.loads(p.read_text())["uid"] for p in path.rglob("*.json")]
    assert len(set(uids)) == len(uids)


def test_simple_yaml_reader() -> None:
    text = "a: 1\n# note\nb:\n  c: x y  # why\n  d:\n    - e: 1\n      f: 2\n    - e: 3\ng: $X\n"
    assert read_simple_yaml(text) == {"a": "1", "b": {"c": "x y", "d": [{"e": "1", "f": "2"}, {"e": "3"}]}, "g": "$X"}
    assert grafana_env("p: $A/${B}", {"A": "1", "B": "2"}) == "p: 1/2"


# --- sample data ----------------------------------------------------------------------------------------------

HOMES = (  # agent, area, conn, has live calls; sorted, the first home has Wi-Fi and calls
    ("agent-01", "NG5", "wifi", True), ("agent-02", "NG5", "wired", True), ("agent-03", "NG7", "wifi", False),
    ("agent-04", "NG7", "wired", False), ("agent-05", "DE1", "wifi", True), ("agent-06", "DE1", "wired", False),
)
SPAN_S = 6 * 3600


def sample_data(end_s: int) -> list[Sample]:
    samples: list[Sample] = []
    start_s = end_s - SPAN_S
    for number, (agent, area, conn, calls) in enumerate(HOMES):
        tags = {"agent": agent, "area": area, "site": "hub-mansfield", "team": "sales"}
        wave = lambda t, period=1800.0: math.sin(2 * math.pi * t / period + number)  # noqa: E731
        for t in range(start_s, end_s, 30):
            host = {"cpu_pct": 30 + 20 * wave(t), "mem_pct": 55 + 5 * wave(t, 7200), "rx_mbps": 2 + wave(t) ** 2,
                    "tx_mbps": 0.5 + abs(wave(t)), "link_mbps": 300.0 if conn == "wifi" else 1000.0,
                    "wifi_signal_dbm": -55 + 8 * wave(t, 900) if conn == "wifi" else None}
            samples.append(Sample("host", {**tags, "conn": conn}, host, t * 10**9))
        for t in range(start_s, end_s, 60):
            samples.append(Sample("agent", tags, {"spool_rows": (t // 60) % 40, "spool_dropped": 0,
                                                  "write_errors": float((t // 600) % 2), "packets_seen": 3000.0,
                                                  "capture_drops": 0}, t * 10**9))
        for t in range(start_s + 60, end_s, 1800):
            samples.append(Sample("bandwidth", {**tags, "conn": conn, "server": "ookla"}, {
                "download_mbps": 20 + 10 * number + 5 * wave(t, 7200), "upload_mbps": 5 + number + wave(t, 7200),
                "idle_rtt_ms": 15 + number, "loaded_rtt_down_ms": 60 + 5 * number, "loaded_rtt_up_ms": 120 + number,
                "jitter_ms": 2.0, "loss_pct": 0.1, "bytes_used": 3e8, "duration_s": 25.0}, t * 10**9))
            samples.append(Sample("voip_test", {**tags, "conn": conn, "server": "speed.example.org:8080",
                                                "codec": "PCMU", "direction": "outbound"}, {
                "rtt_ms": 20 + number, "jitter_ms": 1 + abs(wave(t)), "loss_pct": 0.2, "burst_loss_pct": 0.0,
                "r_factor": 90 - number, "mos": 4.4 - 0.05 * number}, t * 10**9))
        samples += sparse_day(tags, conn, end_s - SPARSE_DAY_AGO_S, number)
        samples += check_runs(agent, area, conn, start_s, number)
        if calls:
            samples += call_samples(tags, conn, start_s, number)
    return samples


SPARSE_DAY_AGO_S = 20 * 86400


def sparse_day(tags: dict[str, str], conn: str, at_s: int, number: int) -> list[Sample]:
    """One speed test and one synthetic call per home, weeks before the rest: a day of the 30-day board with fewer
    tests per area than a 10th percentile needs (5). InfluxDB 1.x then ends the whole series of a percentile grouped
    by time, unless another column rides along (influxdata/influxdb#10038); the areas board must not go blank."""
    return [
        Sample("bandwidth", {**tags, "conn": conn, "server": "ookla"}, {
            "download_mbps": 25.0 + number, "upload_mbps": 6.0, "idle_rtt_ms": 15.0, "loaded_rtt_down_ms": 60.0,
            "loaded_rtt_up_ms": 120.0, "jitter_ms": 2.0, "loss_pct": 0.1, "bytes_used": 3e8, "duration_s": 25.0},
            at_s * 10**9),
        Sample("voip_test", {**tags, "conn": conn, "server": "speed.example.org:8080", "codec": "PCMU",
                             "direction": "outbound"}, {
            "rtt_ms": 20.0, "jitter_ms": 1.0, "loss_pct": 0.2, "burst_loss_pct": 0.0, "r_factor": 90.0, "mos": 4.4},
            at_s * 10**9),
    ]


def check_runs(agent: str, area: str, conn: str, start_s: int, number: int) -> list[Sample]:
    """Six `homeshore check` runs per home, every verdict on both servers, through check_samples()."""
    samples = []
    for run in range(6):
        verdict = VERDICTS[(run + number) % 3]  # each home ends on a different verdict
        document = {
            "verdict": verdict, "time": datetime.fromtimestamp(start_s + 900 + run * 3000, timezone.utc).isoformat(),
            "method": "ookla" if run < 3 else "selfhosted", "server": "http://speed.example.org:8080",
            "candidate": f"REF-{number}{run}", "area": area, "host": {"conn": conn},
            "criteria": [{"name": name, "status": "PASS" if verdict == "PASS" or name != "download" else verdict}
                         for name in CRITERIA],
            "measurements": {"download_goodput_mbps": 6.0 if verdict == "FAIL" else 30.0 + number,
                             "upload_goodput_mbps": 8.0, "idle_rtt_ms": 18.0, "loaded_rtt_download_ms": 90.0,
                             "loaded_rtt_upload_ms": 140.0, "jitter_ms": 2.5, "loss_pct": 0.3,
                             "bytes_used": 2e8, "duration_s": 30.0,
                             "synthetic_call": {"codec": "PCMU", "rtt_ms": 19.0, "jitter_ms": 1.5, "loss_pct": 0.3,
                                                "burst_loss_pct": 0.0, "r_factor": 91.0, "mos": 4.35}},
        }
        samples += check_samples(document, agent=agent, source="cli")
    return samples


def call_samples(tags: dict[str, str], conn: str, start_s: int, number: int) -> list[Sample]:
    """Three five-minute calls: a window every 10 s per direction, and one end row per stream."""
    samples = []
    for call in range(3):
        begin_s = start_s + 1800 + call * 6000
        for direction in ("inbound", "outbound"):
            stream = {**tags, "conn": conn, "codec": "PCMA", "direction": direction}
            call_key = f"c{number}{call}"
            for window in range(30):
                poor = window in (10, 11)  # the agent names a cause for these, with its evidence
                loss = 0.5 + (2.0 if poor else 0.0)
                cause = {"cause": "upload_saturated"} if poor else {}
                evidence = {"upload_use": 0.97, "gateway_jitter_ms": 1.5} if poor else {}
                samples.append(Sample("call", {**stream, "phase": "window", **cause}, {**evidence,
                    "packets": 500, "lost": 500 * loss / 100, "loss_pct": loss, "jitter_ms": 3 + window % 4,
                    "max_jitter_ms": 9.0, "reordered": 0, "duplicates": 0, "discarded_pct": 0.2, "rtt_ms": 40.0,
                    "r_factor": 88 - 4 * loss, "mos": 4.3 - 0.2 * loss, "call_key": call_key,
                }, (begin_s + 10 * (window + 1)) * 10**9))
            samples.append(Sample("call", {**stream, "phase": "end"}, {
                "packets": 15000, "lost": 105, "loss_pct": 0.7, "jitter_ms": 4.0, "max_jitter_ms": 9.0,
                "reordered": 1, "duplicates": 0, "discarded_pct": 0.2, "rtt_ms": 40.0, "r_factor": 85.0, "mos": 4.1,
                "call_key": call_key}, (begin_s + 301) * 10**9))
    return samples


@pytest.fixture(scope="module")
def influx() -> Iterator[tuple[InfluxServer, int]]:
    """A server holding the sample data, as provisioning would lay it out, and the data's end (epoch seconds)."""
    end_s = int(time.time()) - 60
    with InfluxServer(auth=True) as server:
        server.query(f'CREATE DATABASE {DATABASE} WITH DURATION 90d REPLICATION 1 NAME "raw"')
        server.query(f"CREATE USER {GRAFANA_USER[0]} WITH PASSWORD '{GRAFANA_USER[1]}'")
        server.query(f"GRANT READ ON {DATABASE} TO {GRAFANA_USER[0]}")
        lines = [to_line_protocol(sample) for sample in sample_data(end_s)]
        for at in range(0, len(lines), 5000):
            reply = server.write(lines[at:at + 5000], DATABASE)
            assert reply.status == 204, reply.body
        yield server, end_s


def test_sample_data_covers_every_measurement(influx: tuple[InfluxServer, int]) -> None:
    server, _ = influx
    names = {row["name"] for row in server.rows("SHOW MEASUREMENTS", DATABASE)}
    assert names == set(MEASUREMENTS)
    retention = server.rows("SHOW RETENTION POLICIES", DATABASE)
    assert [(row["name"], row["default"]) for row in retention] == [("raw", True)]


# --- running the dashboards' queries --------------------------------------------------------------------------

def grafana_query(server: InfluxServer, query: str) -> dict[str, Any]:
    """The query as the provisioned data source sends it: as user grafana, database homeshore."""
    return server.query(query, DATABASE, credentials=GRAFANA_USER)["results"][0]


def variable_options(server: InfluxServer, variable: dict[str, Any], chosen: dict[str, Variable]) -> tuple[str, ...]:
    """Grafana's options for a variable: a custom list, or its query's values (response_parser.ts takes the
    `value` column of SHOW TAG VALUES), de-duplicated and sorted by the variable's `sort`."""
    if variable["type"] == "custom":
        return gm.custom_options(variable["query"])
    assert variable["type"] == "query", variable["type"]
    query = gm.interpolate_variables(variable["query"], chosen)
    values: list[str] = []
    for series in grafana_query(server, query).get("series", []):
        column = series["columns"].index("value") if "value" in series["columns"] else 0
        values += [str(row[column]) for row in series["values"] if str(row[column]) not in values]
    sort = variable.get("sort", 0)
    assert sort in (0, 1, 2), f"variable {variable['name']}: sort {sort} is not modelled"
    return tuple(sorted(values, reverse=sort == 2) if sort else values)


SELECTIONS = ("first", "all", "two")


def choose(variable: dict[str, Any], options: tuple[str, ...], selection: str) -> Variable:
    """A selection a user can make: the first option, "All" (where offered), or the first two options (where
    several may be chosen); a variable that offers no such choice keeps its first option."""
    common = dict(name=variable["name"], options=options, multi=variable.get("multi", False),
                  include_all=variable.get("includeAll", False), all_value=variable.get("allValue") or "")
    if selection == "all" and common["include_all"]:
        return Variable(current=ALL, **common)
    if selection == "two" and common["multi"] and len(options) >= 2:
        return Variable(current=options[:2], **common)
    return Variable(current=options[:1], **common)


def relative_s(expression: str) -> int:
    match = re.fullmatch(r"now-(\d+)([mhd])", expression)
    assert match, expression
    return int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400}[match.group(2)]


@pytest.mark.parametrize("name", DASHBOARD_FILES)
@pytest.mark.parametrize("selection", SELECTIONS)
def test_variables_load(influx: tuple[InfluxServer, int], name: str, selection: str) -> None:
    server, _ = influx
    chosen: dict[str, Variable] = {}
    for variable in load(name)["templating"]["list"]:
        options = variable_options(server, variable, chosen)
        assert options, f"variable {variable['name']} has no values"
        chosen[variable["name"]] = choose(variable, options, selection)
    if name == "call_quality.json":
        assert chosen["agent"].options == tuple(home[0] for home in HOMES)  # homes without calls too
        assert chosen["direction"].options == ("inbound", "outbound")
    else:
        assert set(chosen["area"].options) == {"NG5", "NG7", "DE1"}


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize(("name", "panel", "target"), TARGETS, ids=TARGET_IDS)
def test_target_returns_series(influx: tuple[InfluxServer, int], datasource: dict[str, Any], name: str,
                               panel: dict[str, Any], target: dict[str, Any], selection: str) -> None:
    server, end_s = influx
    board = load(name)
    chosen: dict[str, Variable] = {}
    for variable in board["templating"]["list"]:
        chosen[variable["name"]] = choose(variable, variable_options(server, variable, chosen), selection)
    end_ms = (end_s + 60) * 1000
    range_ms = relative_s(board["time"]["from"]) * 1000
    interval_ms = gm.calculate_interval_ms(range_ms, MAX_DATA_POINTS,
                                           panel.get("interval") or datasource["jsonData"]["timeInterval"])
    query = gm.expand(target["query"], variables=chosen, start=end_ms - range_ms, end=end_ms, interval_ms=interval_ms)
    assert "$" not in query.replace("$/", "").replace("$)", ""), f"unexpanded macro in {query}"
    result = grafana_query(server, query)
    columns = {column for series in result.get("series", []) for column in series["columns"]} - {"time"}
    assert columns, f"no series from {query}"
    aggregated = re.match(r"SELECT\s+\w+\(", query)  # a raw row of evidence has only the figures its cause names
    for column in columns if aggregated else []:  # each column, so a count riding along cannot hide a percentile
        values = [row[series["columns"].index(column)] for series in result["series"] if column in series["columns"]
                  for row in series["values"]]
        assert any(value is not None for value in values), f"no value of {column} from {query}"
    assert any(value is not None for series in result["series"] for row in series["values"] for value in row[1:]), \
        f"no value from {query}"


def test_relative_time_filter_runs(influx: tuple[InfluxServer, int]) -> None:
    """The browser's form of $timeFilter (annotations, variable queries) is valid InfluxQL too."""
    server, _ = influx
    query = gm.expand('SELECT mean("cpu_pct") FROM "host" WHERE $timeFilter GROUP BY time($__interval) fill(none)',
                      variables={}, start="now-6h", end="now", interval_ms=60_000)
    assert query.endswith("WHERE time >= now() - 6h and time <= now() GROUP BY time(1m) fill(none)")
    assert len(grafana_query(server, query)["series"][0]["values"]) >= 359


def test_a_regex_variable_selects_exactly_its_values(influx: tuple[InfluxServer, int]) -> None:
    """`=~ /^$area$/` with two areas chosen matches those two and not the third."""
    server, end_s = influx
    area = Variable("area", ("DE1", "NG5", "NG7"), ("NG5", "NG7"), multi=True, include_all=True)
    query = gm.expand('SELECT count("cpu_pct") FROM "host" WHERE "area" =~ /^$area$/ AND $timeFilter GROUP BY "area"',
                      variables={"area": area}, start=(end_s - SPAN_S) * 1000, end=(end_s + 60) * 1000,
                      interval_ms=10_000)
    assert "/^(NG5|NG7)$/" in query
    assert {series["tags"]["area"] for series in grafana_query(server, query)["series"]} == {"NG5", "NG7"}


# --- grafana_macros -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end", "expected"), [
    (1596240000000, 1596243600000, "time >= 1596240000000ms and time <= 1596243600000ms"),  # models/query_test.go
    ("now-6h", "now", "time >= now() - 6h and time <= now()"),
    ("now-30d", 1596243600000, "time >= now() - 30d and time <= 1596243600000ms"),
])
def test_time_filter(start: gm.TimeBound, end: gm.TimeBound, expected: str) -> None:
    assert gm.time_filter(start, end) == expected


@pytest.mark.parametrize("bound", ["now-1w", "yesterday", True])
def test_time_filter_refuses_what_it_does_not_model(bound: gm.TimeBound) -> None:
    with pytest.raises(ValueError):
        gm.time_filter(bound, "now")


@pytest.mark.parametrize(("range_ms", "points", "minimum", "expected_ms", "text"), [
    (6 * 3600_000, 1000, "10s", 20_000, "20s"),          # 21.6 s rounds to 20 s
    (6 * 3600_000, 1000, "1m", 60_000, "1m"),            # the minimum wins
    (300_000, 1000, "", 200, "200ms"),                   # models/query_test.go: time(200ms)
    (7 * 86400_000, 1000, "10s", 600_000, "10m"),        # 604.8 s rounds to 10 m
    (30 * 86400_000, 1000, "1h", 3600_000, "1h"),        # 43.2 m rounds to 30 m, below the minimum
    (30 * 86400_000, 10, "", 86400_000, "1d"),
    (900_000, 1000, "", 1000, "1s"),
])
def test_interval(range_ms: int, points: int, minimum: str, expected_ms: int, text: str) -> None:
    interval_ms = gm.calculate_interval_ms(range_ms, points, minimum)
    assert (interval_ms, gm.format_interval(interval_ms)) == (expected_ms, text)


@pytest.mark.parametrize(("interval_ms", "text"), [(90_000, "1m"), (10_000, "10s"), (86400_000, "1d"), (0, "1ms"),
                                                   (31536000000, "1y"), (1500, "1s")])
def test_format_interval(interval_ms: int, text: str) -> None:
    assert gm.format_interval(interval_ms) == text


@pytest.mark.parametrize(("text", "ms"), [("10s", 10_000), ("1h", 3600_000), ("500ms", 500), ("2", 2000), ("1w", 604800000)])
def test_interval_to_ms(text: str, ms: int) -> None:
    assert gm.interval_to_ms(text) == ms


def test_interval_to_ms_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        gm.interval_to_ms("soon")


def test_server_macros_as_grafana_builds_them() -> None:
    """models/query_test.go expectations, with the query written raw."""
    raw = 'SELECT mean("value") FROM "cpu" WHERE $timeFilter GROUP BY time($__interval) fill(null)'
    assert gm.expand_macros(raw, start=1596240000000, end=1596240300000, interval_ms=10_000) == (
        'SELECT mean("value") FROM "cpu" WHERE time >= 1596240000000ms and time <= 1596240300000ms '
        'GROUP BY time(10s) fill(null)')
    assert gm.expand_macros('SELECT mean("value") / $__interval_ms FROM "cpu" GROUP BY time($interval)',
                            start=0, end=1, interval_ms=5_000) == 'SELECT mean("value") / 5000 FROM "cpu" GROUP BY time(5s)'


SPECIAL = "/special/path"
ENVS = ("env", "env2", "env3")


@pytest.mark.parametrize(("query", "variable", "expected"), [
    # datasource.test.ts, describe('interpolateQueryExpr')
    ("my query $v", Variable("v", ("normalValue",), ("normalValue",)), "my query normalValue"),
    ("path =~ /$v/", Variable("v", (SPECIAL,), (SPECIAL,)), r"path =~ /\/special\/path/"),
    ("path !~ /^$v$/", Variable("v", (SPECIAL,), (SPECIAL,)), r"path !~ /^\/special\/path$/"),
    ("that where path /$v/", Variable("v", (SPECIAL,), (SPECIAL,)), r"that where path /\/special\/path/"),
    ("from path =~ /^($v)$/", Variable("v", ENVS, ALL, include_all=True), "from path =~ /^((env|env2|env3))$/"),
    ("path = '$v'", Variable("v", (SPECIAL,), (SPECIAL,)), "path = '/special/path'"),
    ("path = '$v'", Variable("v", ("12.2",), ("12.2",)), "path = '12.2'"),
    ("path = '$v'", Variable("v", (SPECIAL, "/some/other/path"), (SPECIAL, "/some/other/path"), multi=True),
     r"path = '(\/special\/path|\/some\/other\/path)'"),
    ("path =~ /$v/", Variable("v", (SPECIAL, "/some/other/path"), ALL, include_all=True),
     r"path =~ /(\/special\/path|\/some\/other\/path)/"),
    ("(\"tag\"::tag =~ /value/) AND other = $v $timeFilter GROUP BY time($__interval)",
     Variable("v", ("testmatch",), ("testmatch",)),
     "(\"tag\"::tag =~ /value/) AND other = testmatch $timeFilter GROUP BY time($__interval)"),
    ("select value / $v from /^measurement$/", Variable("v", ("1.0",), ("1.0",)), "select value / 1.0 from /^measurement$/"),
    # template_srv.ts: a custom all value goes in unformatted
    ('"area" =~ /^$v$/', Variable("v", ("NG5", "NG7"), ALL, multi=True, include_all=True, all_value=".*"), '"area" =~ /^.*$/'),
    # our dashboards' forms
    ('"area" =~ /^$v$/', Variable("v", ("NG5", "NG7"), ALL, multi=True, include_all=True), '"area" =~ /^(NG5|NG7)$/'),
    ('"area" =~ /^$v$/', Variable("v", ("NG5", "NG7"), ("NG7",), multi=True, include_all=True), '"area" =~ /^NG7$/'),
    ('"server" =~ /^$v$/', Variable("v", ("a.org:8080",), ALL, include_all=True), r'"server" =~ /^a\.org:8080$/'),
    ('"agent" =~ /^$v$/', Variable("v", ("home.1",), ("home.1",)), r'"agent" =~ /^home\.1$/'),
    ("${v} [[v]] $vv", Variable("v", ("x",), ("x",)), "x x $vv"),
])
def test_interpolate_variables(query: str, variable: Variable, expected: str) -> None:
    assert gm.interpolate_variables(query, {variable.name: variable}) == expected


def test_interpolate_refuses_formats_it_does_not_model() -> None:
    with pytest.raises(ValueError, match="not modelled"):
        gm.interpolate_variables("${v:csv}", {"v": Variable("v", ("a",), ("a",))})


def test_variable_refuses_impossible_selections() -> None:
    with pytest.raises(ValueError):
        Variable("v", ("a", "b"), ALL)
    with pytest.raises(ValueError):
        Variable("v", ("a", "b"), ("a", "b"))


@pytest.mark.parametrize(("value", "escaped"), [("a.b", r"a\.b"), ("(x|y)", r"\(x\|y\)"), ("a/b", r"a\/b"),
                                                 ("^$*+?[]{}\\", r"\^\$\*\+\?\[\]\{\}\\"), ("NG5", "NG5")])
def test_regex_escape(value: str, escaped: str) -> None:
    assert gm.regex_escape(value) == escaped


@pytest.mark.parametrize(("query", "options"), [("inbound,outbound", ("inbound", "outbound")),
                                                 (" a , b\\,c ", ("a", "b,c"))])
def test_custom_options(query: str, options: tuple[str, ...]) -> None:
    assert gm.custom_options(query) == options


def test_readme_lists_every_panel() -> None:
    readme = (DASHBOARDS / "README.md").read_text()
    for name in DASHBOARD_FILES:
        for panel in all_panels(load(name)):
            if panel["type"] != "row":
                assert panel["title"] in readme, f"{name}: {panel['title']}"


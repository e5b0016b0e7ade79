"""collector/provision.py (the plan, pure) and collector/provision_v1.py against a real influxd 1.6 with auth.

The continuous queries' bodies are checked for what they compute: raw points are written into a past hour,
each CQ's own SELECT ... INTO is run once over that hour (`backfill_statement`), and the hourly retention
policy must hold the mean / sum / min / max / count computed here from the points written.
"""

from __future__ import annotations

import statistics
import stat
import time
import tomllib
from pathlib import Path

import pytest

from homeshore.collector.provision import (DOWNSAMPLING, HOURLY_RP, PlanError, agent_snippet_v1, agent_snippet_v2,
                                           backfill_statement, downsampling_flux, v1_plan, v2_plan)
from homeshore.collector.provision_v1 import SecretStore, provision_v1
from homeshore.collector.query import QueryClient
from homeshore.collector.schema import MEASUREMENTS
from tests.references.influxd import InfluxServer

HOUR_NS = 3600 * 10**9


def test_every_measurement_has_a_stable_cq_and_no_string_field_is_averaged() -> None:
    plan = v1_plan("homeshore", ["site-a"])
    assert [cq.name for cq in plan.continuous_queries] == [f"cq_hourly_{m}" for m in MEASUREMENTS]
    for measurement, aggregates in DOWNSAMPLING.items():
        strings = MEASUREMENTS[measurement].string_fields
        for aggregate in aggregates:
            assert aggregate.field not in strings or aggregate.function == "count", aggregate
        aliases = [a.alias for a in aggregates]
        assert len(aliases) == len(set(aliases)), measurement  # two aggregates never write one hourly field
    call = {a.alias: a.function for a in DOWNSAMPLING["call"]}
    assert call["packets"] == call["lost"] == "sum" and call["jitter_ms"] == "mean" and call["mos_min"] == "min"


def test_retention_policies_and_users() -> None:
    plan = v1_plan("homeshore", ["site-a", "agent-7"], "grafana")
    raw, hourly = plan.retention_policies
    assert (raw.name, raw.duration_h, raw.default) == ("raw", 90 * 24, True)
    assert (hourly.name, hourly.duration_h, hourly.default) == ("hourly", 1825 * 24, False)
    assert [(u.name, u.privilege) for u in plan.users] == [("site-a", "WRITE"), ("agent-7", "WRITE"),
                                                           ("grafana", "READ")]


@pytest.mark.parametrize("database, writers, reader, fragment", [
    ("homeshore", [], "grafana", "at least one writer"),
    ("homeshore", ["a b"], "grafana", "writer 'a b'"),
    ("homeshore", ["x'; DROP DATABASE homeshore; --"], "grafana", "writer"),
    ("homeshore", ["grafana"], "grafana", "named twice"),
    ("bad name", ["a"], "grafana", "database 'bad name'"),
    ("homeshore", ["a"], "../etc", "reader '../etc'"),
])
def test_bad_names_are_refused(database: str, writers: list[str], reader: str, fragment: str) -> None:
    with pytest.raises(PlanError, match=None) as caught:
        v1_plan(database, writers, reader)
    assert fragment in str(caught.value)


def test_v2_plan_and_its_flux_task() -> None:
    plan = v2_plan("contact-centre", "homeshore", ["site-a"])
    assert (plan.bucket, plan.hourly_bucket) == ("homeshore", "homeshore_hourly")
    assert plan.raw_retention_s == 90 * 86400 and plan.hourly_retention_s == 1825 * 86400
    flux = plan.task_flux
    assert 'option task = {name: "homeshore_downsample_hourly", every: 1h' in flux
    assert 'from(bucket: "homeshore")' in flux and flux.count('to(bucket: "homeshore_hourly"') >= 5
    for measurement, aggregates in DOWNSAMPLING.items():
        for a in aggregates:
            assert f'(r._measurement == "{measurement}" and r._field == "{a.field}")' in flux
    assert 'r._field == "call_key"' not in flux  # strings are never aggregated
    assert "|> map(fn: (r) => ({r with _field: \"mos_min\"}))" in flux
    with pytest.raises(PlanError):
        v2_plan("", "homeshore", ["a"])
    assert downsampling_flux("t", 'we"ird', "b", "b_hourly").count('org: "we\\"ird"') >= 1


def test_snippets_are_toml_with_the_collector_keys_of_design() -> None:
    v1 = tomllib.loads(agent_snippet_v1("https://c.example:8086", "homeshore", "site-a", "/s/site-a.password"))
    assert v1["collector"] == {"url": "https://c.example:8086", "api": "v1", "database": "homeshore",
                               "retention_policy": "", "username": "site-a",
                               "password_file": "/etc/homeshore/collector.password"}
    v2 = tomllib.loads(agent_snippet_v2("https://c.example", "cc", "homeshore", "site-a", "/s/site-a.token"))
    assert v2["collector"] == {"url": "https://c.example", "api": "v2", "org": "cc", "bucket": "homeshore",
                               "token_file": "/etc/homeshore/collector.token"}


@pytest.fixture(scope="module")
def influx():
    with InfluxServer(auth=True) as server:
        yield server


def admin_client(server: InfluxServer) -> QueryClient:
    return QueryClient(server.url, database="", username=server.admin[0], password=server.admin[1])


def test_cq_bodies_compute_the_hourly_aggregates(influx: InfluxServer, tmp_path: Path) -> None:
    plan = v1_plan("cqcheck", ["w1"])
    provision_v1(admin_client(influx), plan, SecretStore(tmp_path / "secrets"))
    hour = (time.time_ns() // HOUR_NS - 30) * HOUR_NS  # a whole hour about a day ago, inside raw's 90 days
    points = {  # (agent, minute) -> fields, for two series that must stay apart (GROUP BY *)
        "a1": [(5, 10.0, 100.0, 4.1, 20.0), (25, 30.0, 300.0, 3.5, 35.0), (50, 50.0, 200.0, 4.3, 5.0)],
        "a2": [(1, 90.0, 1000.0, 2.0, 60.0)],
    }
    lines = []
    for agent, rows in points.items():
        for minute, cpu, packets, mos, jitter in rows:
            t = hour + minute * 60 * 10**9
            lines.append(f"host,agent={agent},conn=wired cpu_pct={cpu},mem_pct=50 {t}")
            lines.append(f"call,agent={agent},phase=window packets={packets},lost=2,mos={mos},max_jitter_ms={jitter},"
                         f'jitter_ms={jitter / 2},call_key="k{minute}" {t}')
            lines.append(f'readiness,agent={agent} verdict="PASS",download_pass=1,mos_pass={minute % 2} {t}')
    lines.append(f"host,agent=a1,conn=wired cpu_pct=99 {hour + HOUR_NS}")  # the next hour: must not count
    assert influx.write(lines, "cqcheck").status == 204
    for cq in plan.continuous_queries:
        client = admin_client(influx)
        client.query(backfill_statement(cq, hour, hour + HOUR_NS))
    hourly = {(row["agent"], m): row for m in ("host", "call", "readiness")
              for row in influx.rows(f'SELECT * FROM "cqcheck"."{HOURLY_RP}"."{m}"', "cqcheck")}
    for agent, rows in points.items():
        host, call, ready = hourly[(agent, "host")], hourly[(agent, "call")], hourly[(agent, "readiness")]
        assert host["time"] == hour and call["time"] == hour
        assert host["conn"] == "wired" and call["phase"] == "window"  # tags kept
        assert host["cpu_pct"] == pytest.approx(statistics.mean(r[1] for r in rows))
        assert host["cpu_max_pct"] == max(r[1] for r in rows)
        assert host["mem_pct"] == 50
        assert call["packets"] == sum(r[2] for r in rows) and call["lost"] == 2 * len(rows)
        assert call["mos"] == pytest.approx(statistics.mean(r[3] for r in rows))
        assert call["mos_min"] == min(r[3] for r in rows)
        assert call["max_jitter_ms"] == max(r[4] for r in rows)
        assert call["jitter_ms"] == pytest.approx(statistics.mean(r[4] / 2 for r in rows))
        assert "call_key" not in call
        assert ready["checks"] == len(rows) and ready["download_pass"] == 1
        assert ready["mos_pass"] == pytest.approx(statistics.mean(r[0] % 2 for r in rows))


def test_provisioning_is_idempotent_and_repairs_drift(influx: InfluxServer, tmp_path: Path) -> None:
    client = admin_client(influx)
    store = SecretStore(tmp_path / "secrets")
    client.query('CREATE DATABASE "drift"')
    client.query('CREATE RETENTION POLICY "raw" ON "drift" DURATION 30d REPLICATION 1')
    client.query('CREATE CONTINUOUS QUERY "cq_hourly_host" ON "drift" BEGIN SELECT max("cpu_pct") AS "cpu_pct" '
                 'INTO "drift"."autogen"."host_old" FROM "drift"."autogen"."host" GROUP BY time(1h), * END')
    client.query("CREATE USER \"was-reader\" WITH PASSWORD 'old-password'")
    client.query('GRANT READ ON "drift" TO "was-reader"')
    store.write("rebuilt", "password", "password-from-file")  # its user is gone, its file is still there

    plan = v1_plan("drift", ["was-reader", "rebuilt", "fresh"])
    first = {(o.kind, o.name): o for o in provision_v1(client, plan, store)}
    assert first[("database", "drift")].status == "present"
    assert first[("retention_policy", "raw")].status == "updated"
    assert first[("continuous_query", "cq_hourly_host")].status == "replaced"
    assert first[("continuous_query", "cq_hourly_call")].status == "created"
    assert first[("user", "was-reader")].status == "updated" and first[("user", "was-reader")].secret_file == ""
    assert first[("user", "rebuilt")].status == "created"
    assert first[("user", "fresh")].status == "created"
    assert influx.rows('SHOW GRANTS FOR "was-reader"') == [{"database": "drift", "privilege": "WRITE"}]
    raw = {row["name"]: row for row in influx.rows('SHOW RETENTION POLICIES ON "drift"')}["raw"]
    assert raw["duration"] == "2160h0m0s" and raw["default"] is True
    cqs = {row["name"]: row["query"] for row in influx.rows("SHOW CONTINUOUS QUERIES") if "drift" in row["query"]}
    assert "mean(cpu_pct) AS cpu_pct" in cqs["cq_hourly_host"] and "host_old" not in cqs["cq_hourly_host"]
    assert influx.write(["host cpu_pct=1"], "drift", credentials=("rebuilt", "password-from-file")).status == 204
    fresh_file = Path(first[("user", "fresh")].secret_file)
    assert stat.S_IMODE(fresh_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700

    second = provision_v1(client, plan, store)
    assert {o.status for o in second} == {"present"}, second


def test_an_admin_is_never_made_a_writer(influx: InfluxServer, tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="'admin' is an admin"):
        provision_v1(admin_client(influx), v1_plan("adm", ["admin"]), SecretStore(tmp_path / "s"))
    assert influx.rows("SHOW USERS") and all(row["admin"] for row in influx.rows("SHOW USERS")
                                             if row["user"] == "admin")

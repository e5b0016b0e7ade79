"""What `homeshore collector init` creates on a collector, pure: statements, names and texts, no I/O.

InfluxDB 1.x (provision_v1.py runs it over `/query`):
- the database, with retention policy `raw` (90 days, the default, where agents write) and `hourly` (5 years);
- one continuous query per measurement, `cq_hourly_<measurement>`, downsampling raw into hourly, keeping every
  tag (`GROUP BY time(1h), *`);
- users: one writer per agent or per site with WRITE only, and one reader (Grafana, the CLI) with READ only.

InfluxDB 2.x (provision_v2.py, influxdb-client's APIs): buckets `<bucket>` (90 days) and `<bucket>_hourly`
(5 years), a Flux task doing the same downsampling, a write-only token per writer, a read token for the
reader, and DBRP mappings `<bucket>/raw` and `<bucket>/hourly` so the same InfluxQL works on both.

The downsampling table (`DOWNSAMPLING`), one row per hourly field:
- mean for rates, delays and scores, under the raw field's own name, so a dashboard query works on either
  retention policy by changing only the RP;
- sum for counters that add up within an hour (call packets, lost, reordered, duplicates; bandwidth bytes_used).
  A call's hourly `loss_pct` is the mean of its windows; sum(lost) / sum(packets) is the exact hourly ratio;
- a few extremes IT support asks for, under suffixed names: the worst MOS (`mos_min`), the worst jitter
  (`max_jitter_ms`), the busiest CPU (`cpu_max_pct`), the weakest Wi-Fi (`wifi_signal_min_dbm`), the slowest
  speed test of the hour (`download_min_mbps`, `upload_min_mbps`) and how many tests ran (`tests`);
- readiness: the share of checks that passed each criterion (`<criterion>_pass`, mean of 0/1) and `checks`,
  a count of verdicts. Strings (call_key, verdict, candidate) cannot be averaged and stay in raw only;
- agent self-metrics: the hourly maximum (counters are cumulative, gauges want the worst value).

Late data: a 1.x continuous query only covers the interval that just ended unless told otherwise; agents flush
their spools late after an outage, so each query re-runs over the last `RESAMPLE_FOR_H` hours (InfluxDB
overwrites the same hourly point). Data later than that is folded in by `backfill_statement` for the range.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Sequence

from homeshore.collector.query import quote_ident
from homeshore.collector.schema import MEASUREMENTS

RAW_RP = "raw"
HOURLY_RP = "hourly"
RAW_RETENTION_D = 90
HOURLY_RETENTION_D = 5 * 365
RESAMPLE_FOR_H = 3
DEFAULT_DATABASE = "homeshore"
DEFAULT_READER = "grafana"
AGENT_PASSWORD_FILE = "/etc/homeshore/collector.password"
AGENT_TOKEN_FILE = "/etc/homeshore/collector.token"

# Users, databases and buckets become file names and identifiers: keep them to a safe, readable set.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


class PlanError(ValueError):
    """A name or option the plan cannot use; one line."""


@dataclass(frozen=True)
class Aggregate:
    function: str  # InfluxQL/Flux aggregate: mean, sum, min, max, count
    field: str  # the raw field
    alias: str  # the hourly field


def _same(function: str, *fields: str) -> tuple[Aggregate, ...]:
    return tuple(Aggregate(function, name, name) for name in fields)


READINESS_CRITERIA = ("download", "upload", "idle_rtt", "loaded_rtt", "jitter", "loss", "mos")

DOWNSAMPLING: Mapping[str, tuple[Aggregate, ...]] = MappingProxyType({
    "bandwidth": _same("mean", "download_mbps", "upload_mbps", "idle_rtt_ms", "loaded_rtt_down_ms",
                       "loaded_rtt_up_ms", "jitter_ms", "loss_pct", "duration_s")
    + _same("sum", "bytes_used")
    + (Aggregate("min", "download_mbps", "download_min_mbps"), Aggregate("min", "upload_mbps", "upload_min_mbps"),
       Aggregate("count", "download_mbps", "tests")),
    "voip_test": _same("mean", "rtt_ms", "jitter_ms", "loss_pct", "burst_loss_pct", "r_factor", "mos")
    + (Aggregate("min", "mos", "mos_min"), Aggregate("max", "jitter_ms", "max_jitter_ms")),
    "call": _same("sum", "packets", "lost", "reordered", "duplicates")
    + _same("mean", "loss_pct", "jitter_ms", "discarded_pct", "rtt_ms", "r_factor", "mos")
    + (Aggregate("max", "max_jitter_ms", "max_jitter_ms"), Aggregate("min", "mos", "mos_min")),
    "host": _same("mean", "cpu_pct", "mem_pct", "rx_mbps", "tx_mbps", "wifi_signal_dbm", "link_mbps")
    + (Aggregate("max", "cpu_pct", "cpu_max_pct"), Aggregate("min", "wifi_signal_dbm", "wifi_signal_min_dbm")),
    "readiness": _same("mean", *(f"{name}_pass" for name in READINESS_CRITERIA))
    + (Aggregate("count", "verdict", "checks"),),
    "agent": _same("max", "spool_rows", "spool_dropped", "write_errors", "packets_seen", "capture_drops"),
})
assert set(DOWNSAMPLING) == set(MEASUREMENTS), "every measurement of the schema is downsampled"


def check_name(what: str, name: str) -> str:
    if not _NAME.match(name):
        raise PlanError(f"{what} {name!r} must be 1-64 letters, digits, '_', '.' or '-' (not starting with . or -)")
    return name


@dataclass(frozen=True)
class RetentionPolicy:
    name: str
    duration_h: int
    default: bool

    def create_statement(self, database: str) -> str:
        return (f"CREATE RETENTION POLICY {quote_ident(self.name)} ON {quote_ident(database)} "
                f"DURATION {self.duration_h}h REPLICATION 1" + (" DEFAULT" if self.default else ""))

    def alter_statement(self, database: str) -> str:
        return (f"ALTER RETENTION POLICY {quote_ident(self.name)} ON {quote_ident(database)} "
                f"DURATION {self.duration_h}h" + (" DEFAULT" if self.default else ""))


@dataclass(frozen=True)
class ContinuousQuery:
    name: str
    database: str
    measurement: str
    select: str  # SELECT ... INTO ... FROM ... GROUP BY time(1h), *  (no WHERE: the CQ adds its own time range)

    def create_statement(self) -> str:
        return (f"CREATE CONTINUOUS QUERY {quote_ident(self.name)} ON {quote_ident(self.database)} "
                f"RESAMPLE EVERY 1h FOR {RESAMPLE_FOR_H}h BEGIN {self.select} END")

    def drop_statement(self) -> str:
        return f"DROP CONTINUOUS QUERY {quote_ident(self.name)} ON {quote_ident(self.database)}"


def select_into(database: str, measurement: str, aggregates: Sequence[Aggregate]) -> str:
    columns = ", ".join(f"{a.function}({quote_ident(a.field)}) AS {quote_ident(a.alias)}" for a in aggregates)
    target = f"{quote_ident(database)}.{quote_ident(HOURLY_RP)}.{quote_ident(measurement)}"
    source = f"{quote_ident(database)}.{quote_ident(RAW_RP)}.{quote_ident(measurement)}"
    return f"SELECT {columns} INTO {target} FROM {source} GROUP BY time(1h), *"


def backfill_statement(cq: ContinuousQuery, start_ns: int, end_ns: int) -> str:
    """The continuous query's body run once over [start, end): for data that arrived after the CQ's window."""
    head, group = cq.select.split(" GROUP BY ", 1)
    return f"{head} WHERE time >= {int(start_ns)} AND time < {int(end_ns)} GROUP BY {group}"


@dataclass(frozen=True)
class UserPlan:
    name: str
    role: str  # "writer" or "reader"

    @property
    def privilege(self) -> str:
        return "WRITE" if self.role == "writer" else "READ"

    def grant_statement(self, database: str) -> str:
        # On 1.x a GRANT sets the user's one privilege on the database: it also takes back any READ a writer had.
        return f"GRANT {self.privilege} ON {quote_ident(database)} TO {quote_ident(self.name)}"


def create_user_statement(name: str, password: str) -> str:
    if "'" in password or "\\" in password:  # generated passwords are URL-safe base64; anything else is a bug
        raise PlanError("a generated password may not contain quotes or backslashes")
    return f"CREATE USER {quote_ident(name)} WITH PASSWORD '{password}'"


def _users(writers: Sequence[str], reader: str) -> tuple[UserPlan, ...]:
    if not writers:
        raise PlanError("name at least one writer (--writer NAME, one per agent or per site)")
    names = [check_name("writer", name) for name in writers] + [check_name("reader", reader)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PlanError(f"user {duplicates[0]!r} is named twice; writers and the reader must all differ")
    return tuple(UserPlan(name, "writer") for name in writers) + (UserPlan(reader, "reader"),)


@dataclass(frozen=True)
class V1Plan:
    database: str
    retention_policies: tuple[RetentionPolicy, ...]
    continuous_queries: tuple[ContinuousQuery, ...]
    users: tuple[UserPlan, ...]


def v1_plan(database: str, writers: Sequence[str], reader: str = DEFAULT_READER) -> V1Plan:
    check_name("database", database)
    policies = (RetentionPolicy(RAW_RP, RAW_RETENTION_D * 24, True),
                RetentionPolicy(HOURLY_RP, HOURLY_RETENTION_D * 24, False))
    queries = tuple(ContinuousQuery(f"cq_hourly_{name}", database, name, select_into(database, name, aggregates))
                    for name, aggregates in DOWNSAMPLING.items())
    return V1Plan(database, policies, queries, _users(writers, reader))


@dataclass(frozen=True)
class V2Plan:
    org: str
    bucket: str
    hourly_bucket: str
    raw_retention_s: int
    hourly_retention_s: int
    task_name: str
    task_flux: str
    users: tuple[UserPlan, ...]  # a token each, told apart by `authorization_description`

    @staticmethod
    def authorization_description(user: UserPlan) -> str:
        return f"homeshore {user.role} {user.name}"


def v2_plan(org: str, bucket: str, writers: Sequence[str], reader: str = DEFAULT_READER) -> V2Plan:
    if not org:
        raise PlanError("--org is required for --api v2")
    check_name("bucket", bucket)
    hourly = f"{bucket}_{HOURLY_RP}"
    task = f"{bucket}_downsample_hourly"
    return V2Plan(org, bucket, hourly, RAW_RETENTION_D * 86400, HOURLY_RETENTION_D * 86400, task,
                  downsampling_flux(task, org, bucket, hourly), _users(writers, reader))


def _flux_string(text: str) -> str:
    return json.dumps(text)  # Flux string literals escape like JSON for " and \


def downsampling_flux(task_name: str, org: str, bucket: str, hourly_bucket: str) -> str:
    """The 2.x equivalent of the continuous queries: every hour, the last RESAMPLE_FOR_H whole hours of `bucket`
    aggregated per DOWNSAMPLING into `hourly_bucket`, stamped at the start of each hour as 1.x does.

    The range ends at the top of the hour so a partial hour is never written; one pipeline per aggregate
    function (and one more per renamed field) because aggregateWindow takes one function."""
    lines = [
        'import "date"',
        "",
        f"option task = {{name: {_flux_string(task_name)}, every: 1h, offset: 5m}}",
        "",
        "stop = date.truncate(t: now(), unit: 1h)",
        f"start = date.sub(d: {RESAMPLE_FOR_H}h, from: stop)",
        f"raw = from(bucket: {_flux_string(bucket)}) |> range(start: start, stop: stop)",
    ]
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (function, rename or "") -> (measurement, field)
    for measurement, aggregates in DOWNSAMPLING.items():
        for a in aggregates:
            rename = a.alias if a.alias != a.field else ""
            groups.setdefault((a.function, rename), []).append((measurement, a.field))
    for (function, rename), pairs in groups.items():
        test = " or ".join(f"(r._measurement == {_flux_string(m)} and r._field == {_flux_string(f)})"
                           for m, f in pairs)
        lines += ["", "raw", f"    |> filter(fn: (r) => {test})"]
        if function == "count":  # count gives an integer: keep the schema's one type, float
            lines.append("    |> aggregateWindow(every: 1h, fn: count, createEmpty: false, timeSrc: \"_start\")")
            lines.append("    |> toFloat()")
        else:
            lines.append(f"    |> aggregateWindow(every: 1h, fn: {function}, createEmpty: false, timeSrc: \"_start\")")
        if rename:
            lines.append(f"    |> map(fn: (r) => ({{r with _field: {_flux_string(rename)}}}))")
        lines.append(f"    |> to(bucket: {_flux_string(hourly_bucket)}, org: {_flux_string(org)})")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Outcome:
    """One object of the plan on the server after init: `status` is created, present, updated or replaced."""

    kind: str  # database, retention_policy, continuous_query, user, grant, bucket, task, authorization, dbrp
    name: str
    status: str
    secret_file: str = ""  # the file holding a user's password or token, when init wrote or kept one


def _toml(text: str) -> str:
    return json.dumps(text)  # a TOML basic string escapes " and \ and control characters as JSON does


def agent_snippet_v1(url: str, database: str, username: str, secret_file: str) -> str:
    """The [collector] section of DESIGN.md "Agent configuration" for one writer of a 1.x collector."""
    return "\n".join([
        f"# Agent(s) writing as {username}: copy {secret_file or '(its password)'} to {AGENT_PASSWORD_FILE},",
        "# mode 0600, owned by the user the agent runs as.",
        "[collector]",
        f"url = {_toml(url)}",
        'api = "v1"',
        f"database = {_toml(database)}",
        'retention_policy = ""    # the default, raw',
        f"username = {_toml(username)}",
        f"password_file = {_toml(AGENT_PASSWORD_FILE)}",
    ]) + "\n"


def agent_snippet_v2(url: str, org: str, bucket: str, name: str, secret_file: str) -> str:
    return "\n".join([
        f"# Agent(s) writing as {name}: copy {secret_file or '(its token)'} to {AGENT_TOKEN_FILE},",
        "# mode 0600, owned by the user the agent runs as.",
        "[collector]",
        f"url = {_toml(url)}",
        'api = "v2"',
        f"org = {_toml(org)}",
        f"bucket = {_toml(bucket)}",
        f"token_file = {_toml(AGENT_TOKEN_FILE)}",
    ]) + "\n"

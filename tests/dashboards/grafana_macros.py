"""What Grafana's InfluxDB (InfluxQL) data source does to a raw query before InfluxDB sees it, pure.

The dashboards' tests run every panel query against a real InfluxDB; for that they must send the text Grafana
would send. Two stages, as in Grafana 10/11 (InfluxQL in server access mode, the default and only mode left):

1. the browser interpolates template variables (`$area`, `${area}`, `[[area]]`) with the data source's
   `interpolateQueryExpr`, leaving `$__interval` and `$__interval_ms` to the server
   (public/app/plugins/datasource/influxdb/datasource.ts, `applyTemplateVariables`);
2. the server replaces `$timeFilter`, `$interval`, `$__interval_ms` and `$__interval`, in that order
   (pkg/tsdb/influxdb/models/query.go, `Query.Build`).

The interval itself is computed in the browser from the time range, the panel's max data points and the
minimum interval (the panel's `interval`, else the data source's `timeInterval`) with `rangeutil.calculateInterval`
(packages/grafana-data/src/datetime/rangeutil.ts), and sent to the server as a duration.

Each rule below names the Grafana source it reproduces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence, Union

# The value Grafana stores for the "All" option (template_srv.ts `isAllValue`).
ALL = "$__all"

TimeBound = Union[int, str]  # epoch milliseconds, or a relative expression such as "now" or "now-6h"


@dataclass(frozen=True)
class Variable:
    """A dashboard template variable as the browser holds it after its options were loaded.

    `options`: the values offered, in display order, without "All"; `current`: the selected values (one for a
    single-value variable), or `ALL`; `all_value`: the "Custom all value" ("" means all options)."""

    name: str
    options: tuple[str, ...]
    current: Union[tuple[str, ...], str]
    multi: bool = False
    include_all: bool = False
    all_value: str = ""

    def __post_init__(self) -> None:
        if self.current == ALL and not self.include_all:
            raise ValueError(f"variable {self.name}: 'All' selected but includeAll is off")
        if isinstance(self.current, tuple) and len(self.current) > 1 and not self.multi:
            raise ValueError(f"variable {self.name}: several values selected but multi is off")


# --- time filter ----------------------------------------------------------------------------------------------

def time_filter(start: TimeBound, end: TimeBound) -> str:
    """`$timeFilter`.

    Server (models/query.go `renderTimeFilter`, `epochMStoInfluxTime`): the range's bounds in epoch
    milliseconds, `time >= 1596240000000ms and time <= 1596243600000ms`. The browser rule (datasource.ts
    `getTimeFilter`/`getInfluxTime`, still used for annotations and variable queries) keeps relative bounds:
    "now" is `now()` and `now-6h` is `now() - 6h`."""
    return f"time >= {_influx_time(start)} and time <= {_influx_time(end)}"


def _influx_time(bound: TimeBound) -> str:
    if isinstance(bound, bool):
        raise ValueError(f"time bound {bound!r} is not epoch milliseconds or a relative expression")
    if isinstance(bound, int):
        return f"{bound}ms"
    if bound == "now":
        return "now()"
    match = re.fullmatch(r"now-(\d+)([dhms])", bound)  # datasource.ts getInfluxTime: /^now-(\d+)([dhms])$/
    if match is None:
        raise ValueError(f"time bound {bound!r}: only epoch milliseconds, 'now' and 'now-<n><d|h|m|s>' are modelled")
    return f"now() - {int(match.group(1))}{match.group(2)}"


# --- interval -------------------------------------------------------------------------------------------------

# rangeutil.ts `roundInterval`: (upper bound exclusive, rounded interval), both in milliseconds.
_ROUNDING_MS: tuple[tuple[float, int], ...] = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
    (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
    (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
    (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000),
    (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
)
_YEAR_MS = 31536000000

# rangeutil.ts `describeInterval`: units of a minimum interval such as "10s".
_UNIT_MS = {"y": _YEAR_MS, "M": 2592000000, "w": 604800000, "d": 86400000, "h": 3600000, "m": 60000, "s": 1000,
            "ms": 1}


def round_interval_ms(interval_ms: float) -> int:
    for bound_ms, rounded_ms in _ROUNDING_MS:
        if interval_ms < bound_ms:
            return rounded_ms
    return _YEAR_MS


def interval_to_ms(text: str) -> int:
    """rangeutil.ts `intervalToMs`: "10s" is 10000; a bare number is seconds."""
    if re.fullmatch(r"\d+", text):
        return int(text) * 1000
    match = re.match(r"(\d+(?:\.\d+)?)(ms|[Mwdhmsy])", text)  # rangeutil.ts interval_regex
    if match is None:
        raise ValueError(f"interval {text!r} must be a number with a unit among {sorted(_UNIT_MS)}")
    return int(float(match.group(1))) * _UNIT_MS[match.group(2)]  # describeInterval: parseInt(count)


def calculate_interval_ms(range_ms: int, max_data_points: int, min_interval: str = "") -> int:
    """rangeutil.ts `calculateInterval`: range / max data points, rounded to a nice value, never below the
    minimum interval (the panel's `interval`, else the data source's `timeInterval`; 1 ms without either)."""
    if range_ms <= 0 or max_data_points <= 0:
        raise ValueError("the time range and max data points must be positive")
    low_limit_ms = interval_to_ms(min_interval) if min_interval else 1
    return max(round_interval_ms(range_ms / max_data_points), low_limit_ms)


def format_interval(interval_ms: int) -> str:
    """grafana-plugin-sdk-go backend/gtime `FormatInterval`: the largest whole unit, truncated ("90s" is "1m")."""
    for unit, unit_ms in (("y", _YEAR_MS), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if interval_ms >= unit_ms:
            return f"{interval_ms // unit_ms}{unit}"
    return f"{interval_ms}ms" if interval_ms >= 1 else "1ms"


# --- template variables ---------------------------------------------------------------------------------------

# public/app/features/variables/utils.ts `variableRegex`: $name, [[name]] or [[name:format]],
# ${name}, ${name.fieldPath} or ${name:format}.
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")


def regex_escape(value: str) -> str:
    """packages/grafana-data/src/text/string.ts `escapeRegex`: value.replace(/[\\^$*+?.()|[\\]{}\\/]/g, '\\\\$&')."""
    return re.sub(r"([\\^$*+?.()|\[\]{}/])", r"\\\1", value)


def _in_regex_literal(query: str, start: int, end: int) -> bool:
    """Whether the occurrence query[start:end] stands inside an InfluxQL regex literal /.../.

    The InfluxDB data source escapes a single-value variable only there (datasource.test.ts, describe
    'interpolateQueryExpr': `path =~ /$tempVar/`, `!~ /^$tempVar$/` and `path /$tempVar/` are escaped,
    `path = '$tempVar'` and `other = $tempVar` after an unrelated /value/ are not). Modelled as: only regex
    anchors, parentheses or other variables lie between the occurrence and a slash on each side."""
    before = re.search(r"/(?:[\^(]|\$\w+|\$\{[^}]*\})*\Z", query[:start])
    after = re.match(r"(?:[$)]|\$\w+|\$\{[^}]*\})*/", query[end:])
    return before is not None and after is not None


def _format_value(value: Union[str, Sequence[str]], variable: Variable, in_regex: bool) -> str:
    """datasource.ts `interpolateQueryExpr` (datasource.test.ts expectations):
    - neither multi nor include-all: the value as it is, regex-escaped inside a regex literal;
    - otherwise every value regex-escaped; one value alone, several as `(a|b|c)`."""
    if not variable.multi and not variable.include_all:
        text = value if isinstance(value, str) else ",".join(value)
        return regex_escape(text) if in_regex else text
    if isinstance(value, str):
        return regex_escape(value)
    escaped = [regex_escape(item) for item in value]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def interpolate_variables(query: str, variables: Mapping[str, Variable]) -> str:
    """The browser's stage: template variables replaced, anything else starting with $ left for the server.

    template_srv.ts `replace`: a name that is no variable stays as written (so `$timeFilter` and
    `$__interval` pass through); "All" becomes every option's value, or the custom all value inserted without
    escaping ("skip formatting of custom all values")."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        variable = variables.get(name)
        if variable is None:
            return match.group(0)
        if match.group(3) or match.group(5) or match.group(6):
            raise ValueError(f"{match.group(0)}: variable formats and field paths are not modelled")
        if variable.current == ALL:
            if variable.all_value:
                return variable.all_value
            value: Union[str, Sequence[str]] = list(variable.options)
        else:
            value = list(variable.current)
            if len(value) == 1 and not variable.multi:
                value = value[0]
        return _format_value(value, variable, _in_regex_literal(query, match.start(), match.end()))

    return _VARIABLE.sub(replace, query)


def expand_macros(query: str, *, start: TimeBound, end: TimeBound, interval_ms: int) -> str:
    """The server's stage, models/query.go `Query.Build`, replacements in its order."""
    interval_text = format_interval(interval_ms)
    query = query.replace("$timeFilter", time_filter(start, end))
    query = query.replace("$interval", interval_text)
    query = query.replace("$__interval_ms", str(interval_ms))
    return query.replace("$__interval", interval_text)


def expand(query: str, *, variables: Mapping[str, Variable], start: TimeBound, end: TimeBound,
           interval_ms: int) -> str:
    """The query InfluxDB receives from Grafana for a raw InfluxQL target."""
    return expand_macros(interpolate_variables(query, variables), start=start, end=end, interval_ms=interval_ms)


def custom_options(query: str) -> tuple[str, ...]:
    """The options of a custom variable: its query split on commas not preceded by a backslash, trimmed
    (public/app/features/variables/custom/reducer.ts: `query.match(/(?:\\\\,|[^,])+/g)`, then `trim()`)."""
    return tuple(part.strip().replace("\\,", ",") for part in re.findall(r"(?:\\,|[^,])+", query) if part.strip())

"""The sample schema of DESIGN.md ("Schema (InfluxDB)") and its InfluxDB line protocol, pure.

A `Sample` is validated when it is made, so a bad tag or field fails in the probe that made it, with a
message naming it, and never later in the spool or at the collector (where a malformed line is a 400 that
can only be quarantined). The rules:
- measurements and their tag keys come from one table; tags are bounded sets, so SSRC, ports, IP addresses,
  phone numbers and call ids are never tags (a call is identified by the `call_key` string field);
- a field never changes type (Telegraf's schema review rule): numbers, booleans included, are stored as
  floats, strings only in the fields declared as strings; None fields are left out, NaN and infinities refused;
- nothing may contain a newline: line protocol has no escape for it.

Line protocol as InfluxDB documents it (v1.x "Line protocol reference", "Special characters"):
- measurement: escape comma and space;
- tag keys, tag values, field keys: escape comma, equals sign and space;
- string field values: double-quoted, escape double quote and backslash;
- a backslash elsewhere is literal, and InfluxDB 1.x has no escape for a backslash in a tag, while 2.x reads
  `\\\\` as one backslash. A tag value whose backslash would be read differently by the two (one at the end,
  or before a backslash, comma, equals sign or space) is refused; any other backslash is kept literally.
- tags sorted by key, as InfluxDB recommends (it sorts them itself otherwise); timestamps in nanoseconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping, Union, get_args

# The kinds of connection a check or a sample names: the `conn` tag of DESIGN.md's schema. Defined here only;
# the readiness figures (planning/measurements.py), the map, the host probe and the report take them from here.
Connection = Literal["wired", "wifi", "cellular", "unknown"]
CONNECTIONS: tuple[str, ...] = get_args(Connection)
KNOWN_CONNECTIONS: frozenset[str] = frozenset(CONNECTIONS) - {"unknown"}  # those that say what the link is
# The causes a poor call window can be given (the `cause` tag, a bounded set): planning/cause.py names them by
# these values.
CauseName = Literal["home_network", "wifi_signal", "upload_saturated", "download_saturated", "cpu", "vpn",
                    "beyond_home", "far_end", "unknown"]
CAUSES: tuple[str, ...] = get_args(CauseName)
# Where a readiness check ran: `homeshore check` ("cli"), the agent's scheduled test ("agent"), the candidate's
# browser ("browser", issue 16). The readiness sample's `source` string field, not a tag (it would only split the
# series); rows stored before it existed were all `homeshore check` runs and read as "cli".
CheckSource = Literal["cli", "agent", "browser"]
CHECK_SOURCES: tuple[str, ...] = get_args(CheckSource)

FieldValue = Union[float, int, bool, str]

_COMMON_TAGS = frozenset({"agent", "area", "site", "team"})


@dataclass(frozen=True)
class MeasurementSchema:
    tag_keys: frozenset[str]
    string_fields: frozenset[str] = frozenset()


MEASUREMENTS: Mapping[str, MeasurementSchema] = MappingProxyType({
    "bandwidth": MeasurementSchema(_COMMON_TAGS | {"conn", "server"}),
    "voip_test": MeasurementSchema(_COMMON_TAGS | {"conn", "server", "codec", "direction"}),
    # cause: on poor windows only (planning/cause.py), with its evidence as fields. mos_model: the E-model that
    # scored r_factor and mos ("g107", or "g107.1" for wideband codecs, whose R runs to 129); mos_note: why a
    # model gave no MOS, or that its MOS is a floor. Fields, not tags: they follow from the codec tag and would
    # only split its series.
    "call": MeasurementSchema(_COMMON_TAGS | {"conn", "codec", "direction", "phase", "cause"},
                              frozenset({"call_key", "vpn_kind", "mos_model", "mos_note"})),
    # Wi-Fi network and access point as salted hashes only (probe/host_wifi.py), never in clear.
    "host": MeasurementSchema(_COMMON_TAGS | {"conn"}, frozenset({"wifi_ssid_hash", "wifi_bssid_hash", "vpn_kind"})),
    # check_id: a browser check's id on its server (the recruiters' report at /r/CHECK_ID), never a tag.
    "readiness": MeasurementSchema(_COMMON_TAGS | {"conn", "server"},
                                   frozenset({"verdict", "candidate", "policy", "source", "check_id"})),
    "agent": MeasurementSchema(_COMMON_TAGS),
})

# Tags whose values are an enumeration fixed by DESIGN.md.
TAG_VALUES: Mapping[str, frozenset[str]] = MappingProxyType({
    "conn": frozenset(CONNECTIONS),
    "phase": frozenset({"window", "end"}),
    "cause": frozenset(CAUSES),
})

# InfluxDB's timestamp range (1.x models.MinNanoTime / MaxNanoTime): int64 minus the two values it reserves.
MIN_TIME_NS = -(2**63) + 2
MAX_TIME_NS = 2**63 - 2

_FIELD_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")  # snake_case, as the schema and dashboards name fields
# A backslash InfluxDB 1.x and 2.x would read differently: at the end, or before \ , = or space.
_AMBIGUOUS_BACKSLASH = re.compile(r"\\(?:[\\,= ]|\Z)")


@dataclass(frozen=True)
class Sample:
    """One point: `fields` maps names (units in them: `jitter_ms`) to floats or the declared strings.

    Built from any mapping; kept as read-only mappings sorted by key, so equal samples compare and hash equal
    and give the same line."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int

    def __post_init__(self) -> None:
        schema = MEASUREMENTS.get(self.measurement)
        if schema is None:
            raise ValueError(f"unknown measurement {self.measurement!r}; the schema has {sorted(MEASUREMENTS)}")
        tags = {key: _checked_tag(self.measurement, schema, key, value) for key, value in self.tags.items()}
        fields = {key: _checked_field(self.measurement, schema, key, value) for key, value in self.fields.items()}
        fields = {key: value for key, value in fields.items() if value is not None}
        if not fields:
            raise ValueError(f"{self.measurement}: a sample needs at least one field that is not None")
        if isinstance(self.time_ns, bool) or not isinstance(self.time_ns, int):
            raise ValueError(f"{self.measurement}: time_ns must be an int of nanoseconds, not {self.time_ns!r}")
        if not MIN_TIME_NS <= self.time_ns <= MAX_TIME_NS:
            raise ValueError(f"{self.measurement}: time_ns {self.time_ns} is outside InfluxDB's range")
        # An empty tag is no tag: InfluxDB cannot store an empty tag value (e.g. `site = ""` in the config).
        object.__setattr__(self, "tags", MappingProxyType({k: tags[k] for k in sorted(tags) if tags[k]}))
        object.__setattr__(self, "fields", MappingProxyType({k: fields[k] for k in sorted(fields)}))

    def __hash__(self) -> int:
        return hash((self.measurement, tuple(self.tags.items()), tuple(self.fields.items()), self.time_ns))


def _checked_tag(measurement: str, schema: MeasurementSchema, key: str, value: object) -> str:
    if key not in schema.tag_keys:
        raise ValueError(
            f"{measurement}: tag {key!r} is not in the schema (allowed: {sorted(schema.tag_keys)}); "
            "tags are bounded sets only, never SSRC, ports, IP addresses, phone numbers or call ids"
        )
    if not isinstance(value, str):
        raise ValueError(f"{measurement}: tag {key}={value!r} must be a string")
    allowed = TAG_VALUES.get(key)
    if allowed is not None and value not in allowed:
        raise ValueError(f"{measurement}: tag {key}={value!r} must be one of {sorted(allowed)}")
    _refuse_newline(measurement, f"tag {key}", value)
    if _AMBIGUOUS_BACKSLASH.search(value):
        raise ValueError(
            f"{measurement}: tag {key}={value!r} has a backslash at the end or before a backslash, comma, "
            "equals sign or space, which InfluxDB 1.x and 2.x read differently"
        )
    return value


def _checked_field(measurement: str, schema: MeasurementSchema, key: str, value: object) -> FieldValue | None:
    if not isinstance(key, str) or not _FIELD_KEY.match(key):
        raise ValueError(f"{measurement}: field name {key!r} must be snake_case ([a-z][a-z0-9_]*)")
    if key == "time" or key in schema.tag_keys:
        # InfluxDB 1.x refuses a field named time; one named like a tag is ambiguous in InfluxQL.
        raise ValueError(f"{measurement}: field name {key!r} is reserved (time, or a tag key of the schema)")
    if value is None:
        return None
    if key in schema.string_fields:
        if not isinstance(value, str):
            raise ValueError(f"{measurement}: field {key} is a string field, not {value!r}")
        _refuse_newline(measurement, f"field {key}", value)
        return value
    if isinstance(value, str) or not isinstance(value, (int, float)):
        raise ValueError(
            f"{measurement}: field {key}={value!r} must be a number; the string fields are "
            f"{sorted(schema.string_fields) or 'none'}"
        )
    number = float(value)  # bools too: "one boolean-as-float per criterion"
    if not math.isfinite(number):
        raise ValueError(f"{measurement}: field {key}={value!r}: InfluxDB cannot store NaN or infinity")
    return number


def _refuse_newline(measurement: str, what: str, text: str) -> None:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{measurement}: {what} {text!r} contains a line break, which line protocol cannot carry")


def escape_measurement(name: str) -> str:
    return name.replace(",", "\\,").replace(" ", "\\ ")


def escape_key(text: str) -> str:
    """Tag keys, tag values and field keys."""
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def quote_string_field(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field_text(value: FieldValue) -> str:
    if isinstance(value, str):
        return quote_string_field(value)
    return repr(value)  # a Sample's numbers are floats; repr is the shortest text that reads back exactly


def to_line_protocol(sample: Sample) -> str:
    """One line, without the trailing newline."""
    head = escape_measurement(sample.measurement)
    for key, value in sample.tags.items():  # sorted by key in Sample
        head += f",{escape_key(key)}={escape_key(value)}"
    fields = ",".join(f"{escape_key(key)}={_field_text(value)}" for key, value in sample.fields.items())
    return f"{head} {fields} {sample.time_ns}"


def from_line_protocol(line: str) -> Sample:
    """Reads a line as InfluxDB 1.x does (integers `12i` and booleans become floats, as in a Sample).

    Raises ValueError for a malformed line, a line without timestamp, or one the schema refuses."""
    parser = _Parser(line.rstrip("\n"))
    measurement = parser.token(", ", escapable=", ")
    tags: dict[str, str] = {}
    while parser.take(","):
        key = parser.token("=", escapable=",= ")
        parser.expect("=")
        tags[key] = parser.token(", ", escapable=",= ")
    parser.expect(" ")
    fields: dict[str, FieldValue] = {}
    while True:
        key = parser.token("=", escapable=",= ")
        parser.expect("=")
        fields[key] = parser.string() if parser.peek() == '"' else _scalar(parser.token(", ", escapable=""))
        if not parser.take(","):
            break
    parser.expect(" ")
    stamp = parser.rest()
    if not re.fullmatch(r"-?\d+", stamp):
        raise ValueError(f"line protocol: timestamp {stamp!r} is not an integer of nanoseconds")
    return Sample(measurement, tags, fields, int(stamp))


def _scalar(text: str) -> FieldValue:
    if text in ("t", "T", "true", "True", "TRUE"):
        return True
    if text in ("f", "F", "false", "False", "FALSE"):
        return False
    try:
        return int(text[:-1]) if text.endswith(("i", "u")) else float(text)
    except ValueError:
        raise ValueError(f"line protocol: field value {text!r} is not a number, boolean or string") from None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def peek(self) -> str:
        return self.text[self.at:self.at + 1]

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.at += 1
            return True
        return False

    def expect(self, char: str) -> None:
        if not self.take(char):
            raise ValueError(f"line protocol: expected {char!r} at column {self.at} of {self.text!r}")

    def token(self, stops: str, *, escapable: str) -> str:
        """Up to an unescaped stop character; `\\x` is x when x is escapable, else a literal backslash."""
        out = []
        while self.at < len(self.text) and self.text[self.at] not in stops:
            char = self.text[self.at]
            if char == "\\" and self.text[self.at + 1:self.at + 2] in tuple(escapable):
                char = self.text[self.at + 1]
                self.at += 1
            out.append(char)
            self.at += 1
        if not out:
            raise ValueError(f"line protocol: empty name or value at column {self.at} of {self.text!r}")
        return "".join(out)

    def string(self) -> str:
        self.expect('"')
        out = []
        while self.at < len(self.text):
            char = self.text[self.at]
            if char == '"':
                self.at += 1
                return "".join(out)
            if char == "\\" and self.text[self.at + 1:self.at + 2] in ('"', "\\"):
                char = self.text[self.at + 1]
                self.at += 1
            out.append(char)
            self.at += 1
        raise ValueError(f"line protocol: unterminated string in {self.text!r}")

    def rest(self) -> str:
        return self.text[self.at:]

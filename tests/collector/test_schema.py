"""The sample schema and its line protocol: documented escaping examples, refusals, a round-trip property,
and the real reference, a running influxd that must read back exactly what was written."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.collector.schema import (
    MEASUREMENTS,
    TAG_VALUES,
    Sample,
    escape_key,
    escape_measurement,
    from_line_protocol,
    quote_string_field,
    to_line_protocol,
)
from tests.references.influxd import InfluxServer, quote_ident

# The InfluxDB 1.x line protocol tutorial's "special characters" examples, element by element.
ESCAPES = [
    (escape_measurement, "wea,ther", r"wea\,ther"),
    (escape_measurement, "wea ther", r"wea\ ther"),
    (escape_measurement, "wea=ther", "wea=ther"),  # an equals sign needs no escape in a measurement
    (escape_key, "location place", r"location\ place"),
    (escape_key, "us,midwest", r"us\,midwest"),
    (escape_key, "temp=rature", r"temp\=rature"),
    (escape_key, 'say "hi"', r'say\ "hi"'),  # quotes are literal outside string fields
    (quote_string_field, 'too"hot"', r'"too\"hot\""'),
    (quote_string_field, "C:\\dir\\", r'"C:\\dir\\"'),
    (quote_string_field, "a, b = c", '"a, b = c"'),  # inside quotes, nothing else is escaped
]


@pytest.mark.parametrize(("escape", "text", "expected"), ESCAPES)
def test_escaping_follows_the_documented_rules(escape, text, expected) -> None:
    assert escape(text) == expected


def test_a_sample_becomes_one_line_with_sorted_tags_float_fields_and_ns_time() -> None:
    sample = Sample(
        "call",
        {"phase": "window", "conn": "wifi", "agent": "home 7", "area": "NG5", "site": ""},
        {"packets": 500, "mos": 4.1, "loss_pct": 0.1, "call_key": 'k"1\\', "rtt_ms": None, "jitter_ms": 1e-7},
        1_700_000_000_123_456_789,
    )
    assert to_line_protocol(sample) == (
        r"call,agent=home\ 7,area=NG5,conn=wifi,phase=window "
        r'call_key="k\"1\\",jitter_ms=1e-07,loss_pct=0.1,mos=4.1,packets=500.0 1700000000123456789'
    )
    assert dict(sample.fields)["packets"] == 500.0 and isinstance(sample.fields["packets"], float)
    assert "site" not in sample.tags and "rtt_ms" not in sample.fields


def test_booleans_are_stored_as_floats() -> None:
    sample = Sample("readiness", {}, {"verdict": "PASS", "download": True, "upload": False}, 1)
    assert to_line_protocol(sample) == 'readiness download=1.0,upload=0.0,verdict="PASS" 1'


REFUSED = [
    ("bandwdith", {}, {"download_mbps": 1.0}, 1, "unknown measurement"),
    ("call", {"ssrc": "1234"}, {"packets": 1}, 1, "tag 'ssrc' is not in the schema"),
    ("call", {"port": "5004"}, {"packets": 1}, 1, "never SSRC, ports"),
    ("host", {"ip": "10.0.0.1"}, {"cpu_pct": 1}, 1, "tag 'ip'"),
    ("call", {"phone": "+441234"}, {"packets": 1}, 1, "tag 'phone'"),
    ("call", {"call_id": "abc"}, {"packets": 1}, 1, "tag 'call_id'"),
    ("host", {"codec": "PCMA"}, {"cpu_pct": 1}, 1, "tag 'codec'"),  # codec belongs to calls, not host
    ("host", {"conn": "ethernet"}, {"cpu_pct": 1}, 1, "conn='ethernet' must be one of"),
    ("call", {"phase": "middle"}, {"packets": 1}, 1, "phase='middle'"),
    ("host", {"agent": 7}, {"cpu_pct": 1}, 1, "must be a string"),
    ("host", {"agent": "a\nb"}, {"cpu_pct": 1}, 1, "line break"),
    ("host", {"site": "x\\"}, {"cpu_pct": 1}, 1, "backslash"),
    ("host", {"site": "x\\ y"}, {"cpu_pct": 1}, 1, "backslash"),
    ("host", {"site": "x\\\\y"}, {"cpu_pct": 1}, 1, "backslash"),
    ("host", {}, {"cpu_pct": "high"}, 1, "must be a number"),
    ("call", {}, {"call_key": 12}, 1, "is a string field"),
    ("call", {}, {"mos_model": 107.1}, 1, "is a string field"),  # "g107.1", never a number
    ("call", {"mos_model": "g107.1"}, {"packets": 1}, 1, "tag 'mos_model'"),  # follows the codec: a field
    ("readiness", {}, {"verdict": "PASS\r\nX"}, 1, "line break"),
    ("host", {}, {"cpu_pct": math.nan}, 1, "NaN or infinity"),
    ("host", {}, {"cpu_pct": -math.inf}, 1, "NaN or infinity"),
    ("host", {}, {"CPU pct": 1.0}, 1, "snake_case"),
    ("host", {}, {"time": 1.0}, 1, "reserved"),
    ("host", {}, {"agent": 1.0}, 1, "reserved"),
    ("host", {}, {"cpu_pct": [1]}, 1, "must be a number"),
    ("host", {}, {"cpu_pct": None}, 1, "at least one field"),
    ("host", {}, {}, 1, "at least one field"),
    ("host", {}, {"cpu_pct": 1}, 1.5, "time_ns must be an int"),
    ("host", {}, {"cpu_pct": 1}, True, "time_ns must be an int"),
    ("host", {}, {"cpu_pct": 1}, 2**63 - 1, "outside InfluxDB's range"),
]


@pytest.mark.parametrize(("measurement", "tags", "fields", "time_ns", "message"), REFUSED)
def test_the_schema_refuses_with_a_message_naming_the_problem(measurement, tags, fields, time_ns, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Sample(measurement, tags, fields, time_ns)


def test_samples_are_immutable_and_hashable() -> None:
    tags = {"agent": "a"}
    sample = Sample("host", tags, {"cpu_pct": 1}, 5)
    tags["agent"] = "changed"
    assert sample.tags["agent"] == "a"  # a copy, not the caller's dict
    with pytest.raises(TypeError):
        sample.tags["agent"] = "b"  # type: ignore[index]
    assert len({sample, Sample("host", {"agent": "a"}, {"cpu_pct": 1.0}, 5)}) == 1


@pytest.mark.parametrize(("line", "expected"), [
    # lines other writers produce: unsorted tags, integers, booleans, no escapes needed
    ("host,conn=wired,agent=x cpu_pct=12i,link_mbps=1000 17",
     Sample("host", {"agent": "x", "conn": "wired"}, {"cpu_pct": 12.0, "link_mbps": 1000.0}, 17)),
    ("readiness download=t,upload=FALSE,verdict=\"FAIL\" -5",
     Sample("readiness", {}, {"download": 1.0, "upload": 0.0, "verdict": "FAIL"}, -5)),
    (r'call,site=a\ b\,c\=d,team=x\y call_key="q\"\\r" 1',
     Sample("call", {"site": "a b,c=d", "team": "x\\y"}, {"call_key": 'q"\\r'}, 1)),
])
def test_lines_are_read_as_influxdb_reads_them(line, expected) -> None:
    assert from_line_protocol(line) == expected


@pytest.mark.parametrize("line", [
    "host cpu_pct=1",  # no timestamp: the spool always stores one
    "host cpu_pct=1 1.5",
    "host,agent cpu_pct=1 1",
    "host cpu_pct=abc 1",
    'call call_key="open 1',
    "host  1",
])
def test_malformed_lines_are_refused(line) -> None:
    with pytest.raises(ValueError):
        from_line_protocol(line)


# ---- round trip --------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), min_size=1, max_size=12)
_TAG_TEXT = _TEXT.filter(lambda t: not t.endswith("\\") and not any(f"\\{c}" in t for c in "\\,= "))
_NUMBER = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53) | st.booleans()


@st.composite
def samples(draw, *, time_ns=st.integers(-(2**63) + 2, 2**63 - 2)):
    measurement = draw(st.sampled_from(sorted(MEASUREMENTS)))
    schema = MEASUREMENTS[measurement]
    tags = {}
    for key in draw(st.sets(st.sampled_from(sorted(schema.tag_keys)))):
        tags[key] = draw(st.sampled_from(sorted(TAG_VALUES[key])) if key in TAG_VALUES else _TAG_TEXT)
    names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
        lambda n: n != "time" and n not in schema.tag_keys and n not in schema.string_fields)
    fields = draw(st.dictionaries(names, _NUMBER, min_size=1, max_size=4))
    for key in draw(st.sets(st.sampled_from(sorted(schema.string_fields)))) if schema.string_fields else ():
        fields[key] = draw(_TEXT | st.just(""))
    return Sample(measurement, tags, fields, draw(time_ns))


@settings(max_examples=400, deadline=None)
@given(samples())
def test_every_sample_reads_back_from_its_line(sample) -> None:
    line = to_line_protocol(sample)
    assert "\n" not in line and "\r" not in line
    assert from_line_protocol(line) == sample


# ---- the real reference: InfluxDB reads our lines --------------------------------------------------------

DB = "schema_test"

TRICKY = [
    Sample("call", {"agent": "home 1, flat=2", "area": "NG5", "site": "Café ☕ — 本店", "team": 'the "A" team',
                    "codec": "PCMA", "direction": "inbound", "phase": "window", "conn": "wifi"},
           {"call_key": 'say "hi", = \\ \\\\ back\\slash', "mos": 4.123456789012345, "packets": 500,
            "jitter_ms": 5e-324, "loss_pct": 0.1, "rtt_ms": 1.7976931348623157e308, "lost": -0.0}, 1_000),
    Sample("call", {"agent": "a=b", "site": "tab\there", "team": "C:\\dir\\x", "phase": "end"},
           {"call_key": "", "packets": 2**53, "r_factor": 93.2}, 2_000),
    Sample("readiness", {"agent": "home 1, flat=2", "server": "https://x.example/speed test?a=1&b=2"},
           {"verdict": "FAIL", "candidate": "Zoë O'Brien-Łukasz 🙂", "download": True, "mos": False}, 3_000),
    Sample("bandwidth", {"agent": "trailing space ", "area": " leading"},
           {"download_mbps": 1e16, "upload_mbps": 123456789.123456789, "idle_rtt_ms": 1e-300}, 4_000),
]


@pytest.fixture(scope="module")
def influx():
    with InfluxServer() as server:
        server.query(f"CREATE DATABASE {DB}")
        yield server


def _points(influx, measurement: str) -> dict[int, dict]:
    """time -> the non-null columns of that point (tags and fields) as InfluxDB returns them."""
    rows = influx.rows(f"SELECT * FROM {quote_ident(measurement)}", DB)
    return {row.pop("time"): {k: v for k, v in row.items() if v is not None} for row in rows}


def _expected(sample: Sample) -> dict:
    return {**sample.tags, **sample.fields}


def _same(got: object, expected: object) -> bool:
    """Exactly equal. InfluxDB's JSON writes a large integral float without exponent and with the shortest
    digits (7.092869354103398e16 as 70928693541033980), which Python reads as an int: that int must name the
    same double."""
    if isinstance(expected, float) and isinstance(got, int) and not isinstance(got, bool):
        return float(got) == expected
    return type(got) is type(expected) and got == expected


def test_influxdb_reads_back_every_tag_and_field_exactly(influx) -> None:
    reply = influx.write([to_line_protocol(sample) for sample in TRICKY], DB)
    assert reply.status == 204, reply.body
    for measurement in {sample.measurement for sample in TRICKY}:
        points = _points(influx, measurement)
        written = {s.time_ns: _expected(s) for s in TRICKY if s.measurement == measurement}
        assert points.keys() == written.keys()
        for time_ns, expected in written.items():
            got = points[time_ns]
            assert got.keys() == expected.keys()
            for key, value in expected.items():
                assert _same(got[key], value), (key, got[key], value)
    tag_values = influx.rows('SHOW TAG VALUES FROM "call" WITH KEY IN ("agent", "site", "team")', DB)
    assert {(row["key"], row["value"]) for row in tag_values} == {
        (key, s.tags[key]) for s in TRICKY if s.measurement == "call" for key in ("agent", "site", "team")
    }


def test_a_resent_sample_overwrites_instead_of_duplicating(influx) -> None:
    sample = Sample("host", {"agent": "resend"}, {"cpu_pct": 12.5}, 77_000)
    for _ in range(3):  # the spool's promise: a resend after a crash is harmless
        assert influx.write([to_line_protocol(sample)], DB).status == 204
    assert influx.rows("SELECT * FROM host WHERE agent = 'resend'", DB) == [
        {"time": 77_000, "agent": "resend", "cpu_pct": 12.5}
    ]


_counter = iter(range(10**6))


@settings(max_examples=150, deadline=None)
@given(samples(time_ns=st.just(0)))
def test_influxdb_reads_generated_samples_as_we_do(influx, sample) -> None:
    # one time per example, near zero so the database does not make a shard per random century
    sample = Sample(sample.measurement, sample.tags, sample.fields, 10**12 + next(_counter))
    reply = influx.write([to_line_protocol(sample)], DB)
    assert reply.status == 204, (reply.body, to_line_protocol(sample))
    rows = influx.rows(f"SELECT * FROM {quote_ident(sample.measurement)} WHERE time = {sample.time_ns}", DB)
    assert len(rows) == 1
    got = {k: v for k, v in rows[0].items() if v is not None and k != "time"}
    expected = _expected(sample)
    assert got.keys() == expected.keys()
    assert all(_same(got[key], value) for key, value in expected.items()), (got, expected)

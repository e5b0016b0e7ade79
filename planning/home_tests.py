"""Raw measurements into `HomeTest`s, from the two shapes they come in: a planner's CSV, and the schema's samples
(`bandwidth` and `voip_test`, as the spool and the collector hold them). Pure: lines and records in.

- CSV (DESIGN.md "homeshore map"; documented for users in `homeshore map --help`, the README and
  examples/home_tests.csv): columns `time, agent, postcode` required, then at least one of `download_mbps,
  upload_mbps, idle_rtt_ms, loaded_rtt_ms, jitter_ms, loss_pct, mos`, found by name; `conn` is read when
  present; other columns are ignored. A full postcode gives the district and the sector, a district alone only the district; the postcode
  itself is dropped here and goes no further. `time` is ISO-8601 (a time without offset is UTC) or Unix seconds.
  A row that cannot be read (bad time, postcode or number) is skipped and counted with its first reason, never
  silently: the caller reports the count.
- Samples: one `HomeTest` per `bandwidth` point (speeds, RTTs, the probe's jitter and loss; RTT under load is the
  worse phase) and one per `voip_test` point (its MOS only: the synthetic call is the same G.711 call for every
  home, so areas compare like with like; a live call's MOS depends on its codec). The `area` tag is the district.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from homeshore.planning.map_model import HomeTest
from homeshore.planning.measurements import CONNECTIONS
from homeshore.planning.postcode import PostcodeError, postcode_district

CSV_REQUIRED = ("time", "agent", "postcode")
CSV_FIGURES = ("download_mbps", "upload_mbps", "idle_rtt_ms", "loaded_rtt_ms", "jitter_ms", "loss_pct", "mos")
CSV_OPTIONAL = ("conn",)  # a connection type of CONNECTIONS (anything else reads as not known)


class SampleInputError(ValueError):
    """Input that cannot be used at all (no header, a required column missing); one line naming the file."""


@dataclass(frozen=True)
class ReadTests:
    tests: list[HomeTest]
    rows_read: int
    rows_skipped: int
    first_problem: str = ""  # "line 7: time 'yesterday' is not ISO-8601 or Unix seconds", for the report


def csv_home_tests(lines: Iterable[str], name: str = "samples.csv") -> ReadTests:
    reader = csv.DictReader(lines)
    if reader.fieldnames is None:
        raise SampleInputError(f"{name}: empty file (expected a header with {', '.join(CSV_REQUIRED)})")
    columns = {column.strip().lower().lstrip("\ufeff"): column for column in reader.fieldnames if column}
    missing = [column for column in CSV_REQUIRED if column not in columns]
    if missing:
        raise SampleInputError(f"{name}: no {', '.join(missing)} column (columns seen: "
                               f"{', '.join(reader.fieldnames) or 'none'})")
    if not any(figure in columns for figure in CSV_FIGURES):
        raise SampleInputError(f"{name}: no measurement column (expected some of {', '.join(CSV_FIGURES)})")
    tests: list[HomeTest] = []
    read = skipped = 0
    first_problem = ""
    for row in reader:
        read += 1
        try:
            tests.append(_csv_test({key: row.get(column) for key, column in columns.items()}))
        except ValueError as problem:
            skipped += 1
            first_problem = first_problem or f"line {reader.line_num}: {problem}"
    return ReadTests(tests, read, skipped, first_problem)


def _csv_test(row: Mapping[str, str | None]) -> HomeTest:
    agent = (row.get("agent") or "").strip()
    if not agent:
        raise ValueError("no agent")
    district, sector = _postcode_codes(row.get("postcode") or "")
    conn = (row.get(CSV_OPTIONAL[0]) or "").strip().lower() or None
    figures = {figure: _number(figure, row.get(figure)) for figure in CSV_FIGURES}
    return HomeTest(time=parse_time(row.get("time") or ""), agent=agent, district=district, sector=sector,
                    conn=conn if conn in CONNECTIONS else None, **figures)


def _postcode_codes(text: str) -> tuple[str, str | None]:
    """(district, sector) of a full postcode, (district, None) of a district alone."""
    try:
        district = postcode_district(text)
    except PostcodeError as error:
        raise ValueError(str(error)) from None
    compact = "".join(text.upper().split())
    inward = compact[len(district):]
    return district, (f"{district} {inward[0]}" if len(inward) == 3 else None)


def parse_time(text: str) -> datetime:
    """ISO-8601 (naive = UTC, "Z" accepted) or Unix seconds, as an aware UTC datetime."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"time {text!r} is not ISO-8601 or Unix seconds") from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if not math.isfinite(seconds):
        raise ValueError(f"time {text!r} is not ISO-8601 or Unix seconds")
    return datetime.fromtimestamp(seconds, timezone.utc)


def _number(name: str, text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from None
    return value if math.isfinite(value) else None


def sample_home_tests(records: Iterable[tuple[str, Mapping[str, str], Mapping[str, Any], int]]) -> list[HomeTest]:
    """(measurement, tags, fields, time_ns) of `bandwidth` and `voip_test` points -> HomeTests; other
    measurements, and points without an agent or a valid district, are left out."""
    tests = []
    for measurement, tags, fields, time_ns in records:
        if measurement not in ("bandwidth", "voip_test"):
            continue
        agent = tags.get("agent") or ""
        try:
            district = postcode_district(tags.get("area") or "")
        except PostcodeError:
            continue
        if not agent:
            continue
        common = dict(time=datetime.fromtimestamp(time_ns / 1e9, timezone.utc), agent=agent, district=district,
                      conn=tags.get("conn") if tags.get("conn") in CONNECTIONS else None)
        if measurement == "voip_test":
            tests.append(HomeTest(mos=_field(fields, "mos"), **common))
            continue
        loaded = [value for value in (_field(fields, "loaded_rtt_down_ms"), _field(fields, "loaded_rtt_up_ms"))
                  if value is not None]
        tests.append(HomeTest(download_mbps=_field(fields, "download_mbps"), upload_mbps=_field(fields, "upload_mbps"),
                              idle_rtt_ms=_field(fields, "idle_rtt_ms"), loaded_rtt_ms=max(loaded) if loaded else None,
                              jitter_ms=_field(fields, "jitter_ms"), loss_pct=_field(fields, "loss_pct"), **common))
    return tests


def _field(fields: Mapping[str, Any], name: str) -> float | None:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)

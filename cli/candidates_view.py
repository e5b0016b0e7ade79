"""What `homeshore candidates` prints (pure: CandidateChecks in, a rich Table or a JSON document out). Only what
the readiness point holds: the reference, the district, never a full postcode, an address or a number."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.table import Table

from homeshore.planning.candidates import CandidateCheck

_NS = 1_000_000_000


def _local(time_ns: int, zone: tzinfo | None) -> datetime:
    return datetime.fromtimestamp(time_ns // _NS, zone).astimezone(zone)


def policy_keys(checks: list[CandidateCheck]) -> dict[str, str]:
    """A short name per policy a row shows: "defaults" as itself, a file (name and digest, too wide for a cell)
    as P1, P2, ... in order of first appearance, explained under the table."""
    keys: dict[str, str] = {"defaults": "defaults"}
    for check in checks:
        keys.setdefault(check.policy, f"P{len(keys)}")
    return keys


def checks_table(checks: list[CandidateCheck], zone: tzinfo | None, zone_name: str) -> tuple[Table, list[str]]:
    """(one row per check, newest first as given, that fits 80 columns; the lines naming the policies P1, ...)."""
    keys = policy_keys(checks)
    table = Table(title=f"Candidate checks ({zone_name})", title_justify="left", box=None, pad_edge=False,
                  header_style="bold")
    for heading in ("reference", "time", "area", "verdict"):
        table.add_column(heading, no_wrap=True)
    table.add_column("not passed")
    table.add_column("source", no_wrap=True)
    table.add_column("policy", no_wrap=True)
    for check in checks:
        table.add_row(check.reference, _local(check.time_ns, zone).strftime("%Y-%m-%d %H:%M"), check.area or "–",
                      check.verdict, ", ".join(check.not_passed) or "–", check.source, keys[check.policy])
    legend = [f"{key}: {policy}" for policy, key in keys.items() if key != "defaults"]
    return table, legend


def report_url(check: CandidateCheck, base_url: str | None) -> str | None:
    """A browser check's report for recruiters: on the server at `base_url` when known, else its path there."""
    path = check.report_path
    return f"{base_url}{path}" if path and base_url else path


def report_lines(checks: list[CandidateCheck], base_url: str | None) -> list[str]:
    """Under the table: each browser check's report (reference, URL), which needs the recruiters' token."""
    reports = [(check.reference, report_url(check, base_url)) for check in checks if check.report_path]
    if not reports:
        return []
    return ["Reports (the recruiters' token of homeshore serve needed):"] + [f"{ref}  {url}" for ref, url in reports]


def document(checks: list[CandidateCheck], since_ns: int, zone: tzinfo | None, notes: list[str],
             base_url: str | None = None) -> dict:
    """`--json`: the same checks for scripts; times ISO-8601 with the offset of the zone shown; `report` the
    browser check's report (null for others)."""
    return {
        "since": _local(since_ns, zone).isoformat(),
        "checks": [{"reference": c.reference, "time": _local(c.time_ns, zone).isoformat(), "area": c.area,
                    "verdict": c.verdict, "not_passed": list(c.not_passed), "source": c.source,
                    "policy": c.policy, "report": report_url(c, base_url)} for c in checks],
        "notes": notes,
    }

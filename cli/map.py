"""`homeshore map`: where can we recruit a team? Per-area eligibility, the hubs' teams, and a map that opens offline.

Reads homes' tests from a CSV, the local spool or the collector; writes map.html, map.svg, areas.geojson and
areas.csv into --out; prints the best areas and the hubs' teams (or --json). Every failure is one line, exit 2.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from homeshore.cli.agent import CONFIG_OPTION
from homeshore.cli.collector_source import agent_spool, collector_options, read_collector
from homeshore.cli.errors import UsageProblem
from homeshore.planning.map_model import LEVELS

TABLE_ROWS = 15


def _until(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    from homeshore.planning.home_tests import parse_time

    try:
        return parse_time(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _extent(_ctx: click.Context, _param: click.Parameter, value: str):
    from homeshore.planning.map_projection import ProjectionError, parse_extent

    try:
        return parse_extent(value)
    except ProjectionError as error:
        raise click.BadParameter(str(error)) from None


CSV_HELP = """\b
--from csv:FILE: a header row, then one line per test. Columns are found by
name in any order; others are ignored. Example: examples/home_tests.csv.
Required:
  time           ISO-8601 (no offset: UTC) or Unix seconds
  agent          the home: one identifier per home, in all its tests
  postcode       full (NG5 3AB; --level sector needs it) or district (NG5)
At least one of (an empty cell: not measured):
  download_mbps  Mbit/s, TCP goodput as the speed test measured it
  upload_mbps    Mbit/s, TCP goodput
  idle_rtt_ms    ms, round-trip time with the line idle
  loaded_rtt_ms  ms, round-trip time under load (the worse direction)
  jitter_ms      ms, packet delay variation
  loss_pct       %, packets lost (0-100)
  mos            MOS (1-5) of a test call
Optional:
  conn           wired, wifi, cellular or unknown (the Wi-Fi share)
"""


@click.command("map", epilog=CSV_HELP)
@click.option("--from", "source", required=True, metavar="influx|spool[:FILE]|csv:FILE",
              help="Where the homes' tests are: the collector (--url ...), the local store, or a CSV file "
              "(its columns are listed below).")
@click.option("--level", type=click.Choice(LEVELS), default="district", show_default=True,
              help="Postcode district (NG5), area (NG) or sector (NG5 3; needs full postcodes, so csv:FILE).")
@click.option("--boundaries", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.geojson",
              help="Area outlines (polygons with a code property); without: symbols at area centroids.")
@click.option("--code-property", metavar="NAME", help="The boundaries' property holding the area code "
              "(default: the level's name, e.g. district).")
@click.option("--attribution", "boundary_attribution", metavar="TEXT",
              help="Licence line for the boundaries, e.g. 'Boundaries © Wikipedia contributors, CC BY-SA 3.0'.")
@click.option("--hub", "hub_texts", multiple=True, metavar="PC[:KM]",
              help="A training hub: postcode, district or LAT,LON, with its reach in km (default 25). Repeatable.")
@click.option("--team-size", type=click.IntRange(min=1, max=1000), default=15, show_default=True,
              help="Advisors per team.")
@click.option("--ofcom", "ofcom_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE.csv", help="Ofcom Connected Nations postcode coverage CSV: a prior for areas with no "
              "homes tested. Repeatable.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Directory for map.html, map.svg, areas.geojson and areas.csv.")
@click.option("--until", callback=_until, metavar="TIME", help="End of the assessment window (default: now).")
@click.option("--days", type=click.FloatRange(min=0.01, max=3650), default=28.0, show_default=True,
              help="Length of the assessment window.")
@click.option("--min-tests", type=click.IntRange(min=1, max=1000), default=3, show_default=True,
              help="Speed tests a home needs in the window before it is judged.")
@click.option("--min-peak-tests", type=click.IntRange(min=0, max=1000), default=1, show_default=True,
              help="Of which in the evening peak (19:00-23:00 UK time).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.toml",
              help="Readiness policy ([policy] table) instead of the defaults.")
@click.option("--title", default="", metavar="TEXT", help="Title of the map.")
@click.option("--extent", default="data", show_default=True, callback=_extent, metavar="data|all|W,S,E,N",
              help="What the map shows: the measured areas and hubs' reach (with the country in an inset), "
              "every boundary, or a box in degrees (e.g. -2.0,52.5,-0.5,53.5).")
@collector_options
@click.option("--json", "as_json", is_flag=True, help="Print the areas and hub teams as JSON.")
@CONFIG_OPTION
def map_command(source: str, level: str, boundaries: Path | None, code_property: str | None,
                boundary_attribution: str | None, hub_texts: tuple[str, ...], team_size: int,
                ofcom_files: tuple[Path, ...], out_dir: Path, until: datetime, days: float, min_tests: int,
                min_peak_tests: int, policy_file: Path | None, title: str, extent, url: str | None, database: str,
                retention_policy: str, username: str, password_file: str | None, token_file: str | None,
                as_json: bool, config_path: Path | None) -> None:
    """Map broadband suitability per area for recruiting homeworkers: homes tested and eligible, speeds, call
    quality and Wi-Fi share per area, and whether a team can be formed near each training hub. Areas with
    fewer than 5 homes show no figures."""
    from homeshore.planning.eligibility import AssessmentRules, PlanningError
    from homeshore.planning.map_build import NoDataError, build_map
    from homeshore.planning.map_outputs import write_map
    from homeshore.planning.policy import PolicyError
    from homeshore.planning.policy_file import load_policy
    from homeshore.planning.readiness import DEFAULT_POLICY

    try:
        policy = load_policy(policy_file) if policy_file is not None else DEFAULT_POLICY
        rules = AssessmentRules(window_days=days, min_tests=min_tests, min_peak_tests=max(min_peak_tests, 0))
    except (PolicyError, PlanningError) as error:
        raise UsageProblem(str(error)) from None
    since = until - timedelta(days=days)
    influx = dict(url=url, database=database, retention_policy=retention_policy, username=username,
                  password_file=password_file, token_file=token_file)
    tests, notes = _read_tests(source, level, since, until, influx, config_path)
    shapes = _boundaries(boundaries, code_property or level) if boundaries is not None else None
    centroids, directory = _centroids()
    hubs = [_hub(text, centroids, directory) for text in hub_texts]
    prior = _prior(ofcom_files, level, policy.download_min_mbps) if ofcom_files else None
    attribution = _attribution(boundaries, boundary_attribution, directory if centroids else None, prior)
    try:
        built = build_map(tests, level=level, policy=policy, rules=rules, until=until, centroids=centroids,
                          boundaries=shapes, hubs=hubs, prior=prior, team_size=team_size,
                          title=title or f"Homeworker broadband by postcode {level}", attribution=attribution,
                          extent=extent)
    except NoDataError as error:
        raise UsageProblem(str(error)) from None
    try:
        written = write_map(built.data, out_dir)
    except OSError as error:
        raise UsageProblem(f"cannot write the map into {out_dir}: {error.strerror or error}") from None
    if shapes is not None and (shapes.repaired or shapes.skipped):
        notes.append(f"{boundaries}: {shapes.repaired} outlines repaired, {shapes.skipped} skipped")
    if as_json:
        click.echo(json.dumps(_document(built.data, written, notes)))
    else:
        from homeshore.cli.map_view import render_summary

        render_summary(built.data, written, notes, TABLE_ROWS)
    for note in notes:
        click.echo(f"homeshore map: {note}", err=True)


def _read_tests(source: str, level: str, since: datetime, until: datetime, influx: dict,
                config_path: Path | None) -> tuple[list, list[str]]:
    from homeshore.planning.map_source import SourceError, influx_tests, spool_tests, unsent_only_note
    from homeshore.planning.home_tests import SampleInputError, csv_home_tests

    kind, _, argument = source.partition(":")
    if kind == "csv" and argument:
        path = Path(argument)
        try:
            with path.open(encoding="utf-8-sig", newline="") as lines:
                read = csv_home_tests(lines, path.name)
        except OSError as error:
            raise UsageProblem(f"--from {source}: cannot read {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise UsageProblem(f"--from {source}: {path} is not UTF-8 text") from None
        except (SampleInputError, ValueError) as error:
            raise UsageProblem(f"--from {source}: {error}") from None
        notes = [f"{path.name}: {read.rows_skipped} of {read.rows_read} rows skipped ({read.first_problem})"] \
            if read.rows_skipped else []
        return read.tests, notes
    if level == "sector":
        raise UsageProblem("--level sector needs full postcodes, which only --from csv:FILE has (agents send "
                           "only the district)")
    if kind == "spool":
        path, collector = (Path(argument), "") if argument else agent_spool(config_path)
        try:
            tests, unreadable = spool_tests(path, since, until)
        except SourceError as error:
            raise UsageProblem(f"--from {source}: {error}") from None
        notes = [f"{path}: {unreadable} lines could not be read"] if unreadable else []
        if collector:
            notes.append(unsent_only_note(collector))
        return tests, notes
    if kind == "influx" and not argument:
        return read_collector(influx, lambda client: influx_tests(client, since, until)), []
    raise UsageProblem(f"--from {source!r}: expected influx, spool, spool:FILE or csv:FILE")


def _boundaries(path: Path, code_property: str):
    from homeshore.planning.boundaries import BoundaryError, load_boundaries

    try:
        return load_boundaries(path, code_property)
    except BoundaryError as error:
        raise UsageProblem(f"--boundaries: {error}") from None
    except OSError as error:
        raise UsageProblem(f"--boundaries: cannot read {path}: {error.strerror}") from None


def _centroids():
    """(district and sector centroids, the directory module) from the optional postcode package, else ({}, None)."""
    from homeshore.planning import postcode_directory

    if not postcode_directory.available():
        return {}, None
    try:
        return postcode_directory.load_centroids().all(), postcode_directory
    except postcode_directory.PostcodeDirectoryError as error:
        raise UsageProblem(f"postcode centroids: {error}") from None


def _hub(text: str, centroids: dict, directory):
    from homeshore.planning.hubs import HubError, parse_hub

    def locate(postcode: str) -> tuple[float, float]:
        if directory is not None:
            return directory.postcode_location(postcode)
        if postcode in centroids:
            return centroids[postcode]
        raise ValueError(f"cannot place {postcode}: give LAT,LON, or install the postcode directory "
                         "(pip install 'homeshore[uk]')")

    try:
        return parse_hub(text, locate)
    except HubError as error:
        raise UsageProblem(str(error)) from None


def _prior(paths: tuple[Path, ...], level: str, download_min_mbps: float):
    from homeshore.planning.ofcom import OfcomError, load_ofcom

    try:
        return load_ofcom(list(paths), level, download_min_mbps)
    except OfcomError as error:
        raise UsageProblem(f"--ofcom: {error}") from None
    except OSError as error:
        raise UsageProblem(f"--ofcom: cannot read {error.filename}: {error.strerror}") from None


def _attribution(boundaries: Path | None, boundary_text: str | None, directory, prior) -> list[str]:
    lines = []
    if boundaries is not None:
        lines.append(boundary_text or f"Boundaries: {boundaries.name}")
    if directory is not None:
        lines.append(f"Postcode centroids: {directory.ATTRIBUTION}")
    if prior is not None:
        from homeshore.planning.ofcom import ATTRIBUTION

        lines.append(ATTRIBUTION)
    return lines


def _document(data, written: dict[str, Path], notes: list[str]) -> dict:
    from homeshore.planning.map_model import COVERAGE_COLUMNS, CSV_COLUMNS
    from homeshore.planning.map_tables import hubs_json

    areas = []
    for row in data.rows:
        entry = {column: getattr(row, column) for column in CSV_COLUMNS}
        coverage = None if row.suppressed else data.coverage.get(row.area)
        entry |= dict(zip(COVERAGE_COLUMNS, coverage or (None, None)))
        entry |= {"suppressed": row.suppressed, "not_yet_known": row.not_yet_known}
        areas.append(entry)
    return {"level": data.level, "areas": areas, "hubs": hubs_json(data.hubs),
            "outputs": {name: str(path) for name, path in written.items()}, "notes": notes}

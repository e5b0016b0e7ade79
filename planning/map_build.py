"""From homes' tests to everything a map shows (`MapData`): assessment, area rows, the Ofcom prior, hub teams,
and where each area lies. Pure: files are read by the caller (cli/map.py) and passed in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence

from homeshore.planning.areas import area_rows
from homeshore.planning.boundaries import shape_centroid
from homeshore.planning.eligibility import AssessmentRules, assess_homes
from homeshore.planning.map_model import EXTENT_DATA, Boundaries, Extent, HomeAssessment, HomeTest, Hub, MapData, \
    postcode_area
from homeshore.planning.ofcom import OfcomPrior, prior_rows
from homeshore.planning.policy import Policy
from homeshore.planning.teams import hub_teams


class NoDataError(ValueError):
    """No home has a test in the assessment window (at the level asked for)."""


@dataclass(frozen=True)
class MapBuild:
    data: MapData
    assessments: tuple[HomeAssessment, ...]  # exact, per home: never printed or written, only aggregated


def build_map(tests: Sequence[HomeTest], *, level: str, policy: Policy, rules: AssessmentRules, until: datetime,
              centroids: Mapping[str, tuple[float, float]], boundaries: Boundaries | None = None,
              hubs: Sequence[Hub] = (), prior: OfcomPrior | None = None, team_size: int = 15,
              title: str = "", attribution: Sequence[str] = (), extent: Extent = EXTENT_DATA) -> MapBuild:
    """`centroids`: district and sector codes -> (lat, lon) (postcode directory), possibly empty; area-level
    centroids and missing ones are derived here from the districts' and from the boundaries' shapes."""
    assessments = assess_homes(tests, level, policy, rules, until)
    if not assessments:
        raise NoDataError(f"no home has a speed test or call in the {rules.window_days:g} days up to "
                          f"{until:%Y-%m-%d %H:%M} UTC" + (" with a full postcode (the sector level needs one)"
                                                           if level == "sector" and tests else ""))
    rows = area_rows(assessments, level)
    if prior is not None:
        rows = sorted([*rows, *prior_rows(prior, {row.area for row in rows})], key=lambda row: row.area)
    located = locations(level, centroids, boundaries)
    teams = hub_teams(hubs, assessments, {**located, **centroids}, team_size) if hubs else []
    data = MapData(level=level, rows=tuple(rows), hubs=tuple(teams), boundaries=boundaries,
                   centroids={row.area: located[row.area] for row in rows if row.area in located},
                   title=title, attribution=tuple(attribution), extent=extent,
                   coverage=district_coverage(assessments, centroids) if level == "area" else {})
    return MapBuild(data, tuple(assessments))


def district_coverage(assessments: Sequence[HomeAssessment],
                      centroids: Mapping[str, tuple[float, float]]) -> dict[str, tuple[int, int]]:
    """Postcode area -> (districts with a home tested, districts in the area), for the areas the postcode
    directory (`centroids`: district and sector codes) knows; a measured district it lacks is counted in both."""
    measured: dict[str, set[str]] = defaultdict(set)
    for assessment in assessments:
        measured[postcode_area(assessment.district)].add(assessment.district)
    known: dict[str, set[str]] = defaultdict(set)
    for code in centroids:
        if " " not in code:  # a district, not a sector
            known[postcode_area(code)].add(code)
    return {area: (len(districts), len(districts | known[area]))
            for area, districts in measured.items() if area in known}


def locations(level: str, centroids: Mapping[str, tuple[float, float]],
              boundaries: Boundaries | None) -> dict[str, tuple[float, float]]:
    """Area code -> (lat, lon) at `level`: the directory's centroid, else the centre of the area's outline; a
    postcode area's is the mean of its districts' (unweighted: a rough label point, not a statistic)."""
    located: dict[str, tuple[float, float]] = {}
    if boundaries is not None:
        for shape in boundaries.shapes:
            located.setdefault(shape.code, shape_centroid(shape))
    if level == "area":
        by_area: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for code, point in centroids.items():
            if " " not in code:  # a district, not a sector
                by_area[postcode_area(code)].append(point)
        located.update({area: (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))
                        for area, points in by_area.items()})
    else:
        located.update(centroids)
    return located

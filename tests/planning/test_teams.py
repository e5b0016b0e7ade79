"""Hub teams: haversine against known distances, and the eligible homes within reach against a brute-force count
over the real GB sector and district centroids (../shared/geo), with the reach inclusive, small counts hidden,
counts rounded and feasibility withheld where it would narrow the rounding."""

from __future__ import annotations

import csv
import math
import random

import pytest

from homeshore.planning.distance import EARTH_RADIUS_KM, haversine_km
from homeshore.planning.eligibility import PlanningError
from homeshore.planning.map_model import Eligibility, HomeAssessment, Hub
from homeshore.planning.teams import DEFAULT_TEAM_SIZE, home_location, hub_teams
from tests.conftest import SHARED, skip_or_fail

GEO = SHARED / "geo"
ELIGIBLE, NOT_ELIGIBLE, NOT_YET_KNOWN = Eligibility.ELIGIBLE, Eligibility.NOT_ELIGIBLE, Eligibility.NOT_YET_KNOWN


def to_five(count: int) -> int:
    """To the nearest 5, halves up, in integers (the published rounding, written again)."""
    return (count + 2) // 5 * 5


def own_haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The haversine formula written out again, in its atan2 form, for the reference count."""
    p1, p2, dp, dl = (math.radians(v) for v in (lat1, lat2, lat2 - lat1, lon2 - lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0088 * 2 * math.atan2(math.sqrt(a), math.sqrt(1 - a))


@pytest.mark.parametrize("a, b, km, tolerance", [
    ((51.5074, -0.1278), (48.8566, 2.3522), 343.5, 0.5),  # London - Paris
    ((0.0, 0.0), (0.0, 90.0), math.pi / 2 * 6371.0088, 1e-9),  # a quarter of the equator
    ((52.0, -1.0), (53.0, -1.0), math.pi / 180 * 6371.0088, 1e-9),  # one degree along a meridian
    ((53.14095, -1.1859), (53.14095, -1.1859), 0.0, 0.0),  # NG18 to itself
    ((90.0, 0.0), (-90.0, 0.0), math.pi * 6371.0088, 1e-9),  # pole to pole
])
def test_haversine_against_known_distances(a: tuple, b: tuple, km: float, tolerance: float) -> None:
    assert EARTH_RADIUS_KM == 6371.0088
    assert haversine_km(*a, *b) == pytest.approx(km, abs=tolerance)
    assert haversine_km(*b, *a) == pytest.approx(km, abs=tolerance)


def test_haversine_equals_the_formula_for_random_points() -> None:
    rng = random.Random(3)
    for _ in range(1000):
        points = (rng.uniform(-89, 89), rng.uniform(-180, 180), rng.uniform(-89, 89), rng.uniform(-180, 180))
        assert haversine_km(*points) == pytest.approx(own_haversine_km(*points), rel=1e-9, abs=1e-9)


def read_centroids(name: str, key: str) -> dict[str, tuple[float, float]]:
    path = GEO / name
    if not path.is_file():
        skip_or_fail(f"shared geodata not found at {path}")
    with path.open(newline="", encoding="utf-8") as lines:
        return {row[key]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(lines)}


@pytest.fixture(scope="module")
def centroids() -> dict[str, tuple[float, float]]:
    return {**read_centroids("gb_postcode_district_centroids.csv", "district"),
            **read_centroids("gb_postcode_sector_centroids.csv", "sector")}


def home(agent: str, district: str, sector: str | None, status: Eligibility = ELIGIBLE,
         area: str | None = None) -> HomeAssessment:
    return HomeAssessment(agent=agent, area=area or district, district=district, sector=sector, status=status,
                          tests=3, peak_tests=1, download_judged_mbps=None, loaded_rtt_judged_ms=None,
                          download_median_mbps=None, upload_median_mbps=None, mos_median=None, on_wifi=None)


def test_home_location_prefers_the_sector(centroids: dict) -> None:
    assert home_location(home("a", "NG5", "NG5 3"), centroids) == centroids["NG5 3"] != centroids["NG5"]
    assert home_location(home("b", "NG5", None), centroids) == centroids["NG5"]
    assert home_location(home("c", "NG5", "NG5 0ZZ9"), centroids) == centroids["NG5"]  # sector not known
    assert home_location(home("d", "ZZ99", None), centroids) is None


@pytest.mark.parametrize("seed", range(4))
def test_team_counts_equal_a_brute_force_count(centroids: dict, seed: int) -> None:
    rng = random.Random(seed)
    sectors = sorted(code for code in centroids if code.startswith(("NG", "DE", "S", "LE")) and " " in code)
    homes = []
    for number in range(1500):
        sector = rng.choice(sectors)
        district = sector.split()[0]
        homes.append(home(f"h{number}", district, sector if rng.random() < 0.7 else None,
                          rng.choice([ELIGIBLE, ELIGIBLE, NOT_ELIGIBLE, NOT_YET_KNOWN]), area=district))
    homes.append(home("nowhere", "ZZ99", None))  # eligible but not placed: never counted
    hubs = [Hub(label=f"hub{n}", lat=rng.uniform(52.5, 53.6), lon=rng.uniform(-1.8, -0.8),
                reach_km=rng.choice([0.5, 1.0, 2.0, 3.0, 5.0, 12.5, 25.0, 40.0])) for n in range(24)]
    teams = hub_teams(hubs, homes, centroids)
    assert [team.hub for team in teams] == hubs
    outcomes = set()
    for hub, team in zip(hubs, teams):
        within = []
        for h in homes:
            if h.status != ELIGIBLE:
                continue
            if h.sector is not None and h.sector in centroids:
                lat, lon = centroids[h.sector]
            elif h.district in centroids:
                lat, lon = centroids[h.district]
            else:
                continue
            if own_haversine_km(hub.lat, hub.lon, lat, lon) <= hub.reach_km:
                within.append(h)
        # the exact counts that publish as this one; the answer is shown only where they all agree
        behind = range(0, 5) if len(within) < 5 else range(max(5, to_five(len(within)) - 2), to_five(len(within)) + 3)
        answers = {count >= DEFAULT_TEAM_SIZE for count in behind}
        assert team.team_possible is (answers.pop() if len(answers) == 1 else None)
        assert team.team_size == DEFAULT_TEAM_SIZE
        if team.team_possible is not None:
            assert team.team_possible == (len(within) >= DEFAULT_TEAM_SIZE)
        if len(within) < 5:
            assert (team.eligible_homes, team.areas) == (None, ())
        else:
            assert team.eligible_homes == to_five(len(within))
            assert team.areas == tuple(sorted({h.district for h in within}))
        outcomes.add("suppressed" if len(within) < 5 else "team" if len(within) >= 15 else "small")
    assert {"suppressed", "team"} <= outcomes  # both sides of the privacy edge and of the team size


def test_reach_is_inclusive() -> None:
    centroids = {"NG18": (53.14095, -1.1859)}
    hub_lat, hub_lon = 53.0, -1.2
    exact = own_haversine_km(hub_lat, hub_lon, *centroids["NG18"])
    homes = [home(f"h{n}", "NG18", None) for n in range(5)]
    at_edge, short = hub_teams([Hub("edge", hub_lat, hub_lon, haversine_km(hub_lat, hub_lon, *centroids["NG18"])),
                                Hub("short", hub_lat, hub_lon, exact - 1e-6)], homes, centroids)
    assert at_edge.eligible_homes == 5 and at_edge.areas == ("NG18",)
    assert short.eligible_homes is None and not short.team_possible


@pytest.mark.parametrize("count, team_size, shown, possible", [
    (4, 15, None, False), (5, 15, 5, False), (12, 15, 10, False), (18, 15, 20, True), (30, 15, 30, True),
    # within the rounding of the team size the answer would narrow the count down: withheld
    (14, 15, 15, None), (15, 15, 15, None), (16, 15, 15, None), (17, 17, 15, None), (13, 14, 15, None),
    (4, 3, None, None), (4, 5, None, False), (7, 5, 5, True),
])
def test_suppression_and_feasibility_as_published(count: int, team_size: int, shown: int | None,
                                                  possible: bool | None) -> None:
    centroids = {"NG5": (52.99695, -1.14354), "DE1": (52.92, -1.48)}
    homes = [home(f"h{n}", "NG5", None) for n in range(count)]
    homes += [home("far", "DE1", None), home("not", "NG5", None, NOT_ELIGIBLE), home("nyk", "NG5", None, NOT_YET_KNOWN)]
    [team] = hub_teams([Hub("NG5 1AB", 52.99, -1.14, 5.0)], homes, centroids, team_size)
    assert (team.eligible_homes, team.team_possible, team.team_size) == (shown, possible, team_size)
    assert team.team_verdict == {True: "possible", False: "not possible", None: "too close to call"}[possible]
    assert team.areas == (() if shown is None else ("NG5",))


@pytest.mark.parametrize("team_size", [0, -1, 2.5, True])
def test_bad_team_size_is_refused(team_size: object) -> None:
    with pytest.raises(PlanningError, match="team_size"):
        hub_teams([], [], {}, team_size)  # type: ignore[arg-type]

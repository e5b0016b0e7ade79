"""The records `homeshore map` passes between its parts: raw tests in, published area rows and hub teams out.

Sources (CSV, the local spool, the collector) produce `HomeTest`s; planning/eligibility.py judges each home over
the assessment window; planning/areas.py aggregates homes per area and applies the privacy rules
(planning/privacy.py), giving `AreaRow`s; planning/teams.py gives `HubTeam`s; the renderers (areas.csv,
areas.geojson, map.svg, map.html) only read these records. Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Mapping

LEVELS = ("district", "area", "sector")  # postcode district "NG5", postcode area "NG", postcode sector "NG5 3"
MEASURED = "measured"
OFCOM_PRIOR = "ofcom_prior"  # an estimate from Ofcom's coverage data for an area with no measured homes
EXTENT_DATA = "data"  # the map shows the measured areas and the hubs' reach, with a margin
EXTENT_ALL = "all"  # the map shows every boundary (the whole country)
Extent = str | tuple[float, float, float, float]  # EXTENT_DATA, EXTENT_ALL or (min_lat, min_lon, max_lat, max_lon)


@dataclass(frozen=True)
class HomeTest:
    """One measurement of one home: a speed test (download/upload/RTT), a synthetic call (MOS), or both.

    `time` is timezone-aware (UTC from every source). Speeds are TCP goodput as measured and stored
    (`bandwidth.download_mbps`); the policy's protocol-overhead allowance turns them into line rate when judged.
    `loaded_rtt_ms` is the worse of the download and upload phases. Any figure may be None (not measured in this
    test). `sector` is known only where the full postcode is (a CSV input): agents send only the district.
    """

    time: datetime
    agent: str
    district: str
    sector: str | None = None
    download_mbps: float | None = None
    upload_mbps: float | None = None
    idle_rtt_ms: float | None = None
    loaded_rtt_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    mos: float | None = None
    conn: str | None = None  # "wired", "wifi", "cellular", "unknown" or None


def postcode_area(district: str) -> str:
    """The postcode area of a district: its leading letters ("NG5" -> "NG", "EC1A" -> "EC")."""
    letters = len(district) - len(district.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return district[:letters]


def area_code(test: HomeTest, level: str) -> str | None:
    """The code of the area `test` lies in at `level`; None for a sector when only the district is known."""
    if level == "district":
        return test.district
    if level == "area":
        return postcode_area(test.district)
    if level == "sector":
        return test.sector
    raise ValueError(f"unknown level {level!r} (one of {', '.join(LEVELS)})")


class Eligibility(Enum):
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    NOT_YET_KNOWN = "not_yet_known"  # too few tests in the window, or none in the evening peak


@dataclass(frozen=True)
class HomeAssessment:
    """One home over the assessment window. Figures are the home's own: the percentile the policy is judged at
    (download/upload: 10th, RTT under load: 90th by default) and the medians the area statistics are built from.
    `reasons`: one short line per failed or missing criterion ("download 10th percentile 6.2 Mbit/s < 8")."""

    agent: str
    area: str  # at the level being mapped (the area of the home's most recent test)
    district: str
    sector: str | None
    status: Eligibility
    tests: int
    peak_tests: int
    download_judged_mbps: float | None  # line rate at the download percentile
    loaded_rtt_judged_ms: float | None
    download_median_mbps: float | None  # goodput, as measured
    upload_median_mbps: float | None
    mos_median: float | None
    on_wifi: bool | None  # None: the connection type was never known
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class AreaRow:
    """One row of areas.csv (DESIGN.md "homeshore map"), already published: when `suppressed` (fewer than
    MIN_HOMES homes) every figure, `homes` included, is None. Counts are rounded (planning/privacy.py).
    Ofcom prior rows carry only `eligible_pct` (the estimated share of premises reaching the download minimum)
    and `source` = OFCOM_PRIOR; they are never counted as measured."""

    area: str
    level: str
    homes: int | None
    eligible: int | None
    eligible_pct: float | None
    download_median_mbps: float | None
    download_p10_mbps: float | None
    upload_median_mbps: float | None
    mos_median: float | None
    wifi_pct: float | None
    source: str = MEASURED
    suppressed: bool = False
    not_yet_known: int | None = None  # homes with too few tests (rounded like the other counts)


CSV_COLUMNS = ("area", "level", "homes", "eligible", "eligible_pct", "download_median_mbps", "download_p10_mbps",
               "upload_median_mbps", "mos_median", "wifi_pct", "source")
# At --level area: how many of the area's postcode districts have a home tested, of how many (MapData.coverage);
# empty at other levels, for suppressed areas, and where the postcode directory is not installed.
COVERAGE_COLUMNS = ("districts_measured", "districts")


@dataclass(frozen=True)
class Hub:
    """A training hub: where advisors travel to, and how far (great-circle km from an area's centroid)."""

    label: str  # as the user gave it: "NG18 1AB", "53.14,-1.20"
    lat: float
    lon: float
    reach_km: float


@dataclass(frozen=True)
class HubTeam:
    """The eligible homes within a hub's reach and whether a team can be formed, as published (planning/privacy.py):
    `eligible_homes` is None when fewer than MIN_HOMES, else rounded; `team_possible` is decided on the exact
    count and None when saying it would narrow the rounded count down ("too close to call")."""

    hub: Hub
    eligible_homes: int | None
    team_size: int
    team_possible: bool | None
    areas: tuple[str, ...]  # the areas of the eligible homes counted, sorted; empty when the count is hidden

    @property
    def team_verdict(self) -> str:
        """"possible", "not possible" or "too close to call" (at the rounding), for the renderers."""
        if self.team_possible is None:
            return "too close to call"
        return "possible" if self.team_possible else "not possible"


Point = tuple[float, float]  # (lon, lat), GeoJSON order
Ring = tuple[Point, ...]  # closed: first point == last point
Polygon = tuple[Ring, ...]  # exterior ring first, then holes


@dataclass(frozen=True)
class AreaShape:
    code: str
    polygons: tuple[Polygon, ...]


@dataclass(frozen=True)
class Boundaries:
    """Area outlines from a user's GeoJSON. Several features may share a code (district outlines drawn per
    postcode area): they are drawn together. `repaired`/`skipped` count features mended or left out."""

    shapes: tuple[AreaShape, ...]
    code_property: str
    repaired: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class MapData:
    """Everything a renderer needs. `centroids`: area code -> (lat, lon), for symbols, labels and hub reach."""

    level: str
    rows: tuple[AreaRow, ...]
    hubs: tuple[HubTeam, ...]
    boundaries: Boundaries | None
    centroids: Mapping[str, tuple[float, float]]
    title: str
    attribution: tuple[str, ...]  # one line per source: boundaries, postcode centroids, Ofcom
    extent: Extent = EXTENT_DATA
    # At the area level: area code -> (districts with a home tested, districts in the area), for areas whose
    # district count is known (postcode directory or boundaries). An area coloured from a few districts says so.
    coverage: Mapping[str, tuple[int, int]] = field(default_factory=dict)

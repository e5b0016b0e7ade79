"""Per-area statistics of assessed homes, published under the privacy rules: the rows of areas.csv.

Every figure is over homes, not tests, so a home that ran fifty tests weighs as much as one that ran three:
- homes, eligible, not_yet_known: counts of homes in the area by status;
- eligible_pct: 100 * eligible / homes (NOT_YET_KNOWN homes count in the denominator: they were tested);
- download_median_mbps, download_p10_mbps: median and 10th percentile over homes of each home's median download
  (goodput, as measured); upload_median_mbps, mos_median: median over homes of each home's median;
  a figure no home has is None;
- wifi_pct: share of the homes whose connection type is known that are mostly on Wi-Fi.
The exact statistics never leave this module: planning/privacy.published_row suppresses or rounds them. Pure.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from homeshore.planning.eligibility import PlanningError
from homeshore.planning.map_model import LEVELS, AreaRow, Eligibility, HomeAssessment
from homeshore.planning.privacy import published_row
from homeshore.planning.stats import median, percentile

DOWNLOAD_LOW_PERCENTILE = 10.0


def area_rows(assessments: Sequence[HomeAssessment], level: str) -> list[AreaRow]:
    """One published AreaRow (source MEASURED) per area the homes are in, sorted by area code."""
    if level not in LEVELS:
        raise PlanningError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    by_area: dict[str, list[HomeAssessment]] = defaultdict(list)
    for home in assessments:
        by_area[home.area].append(home)
    return [_row(area, level, by_area[area]) for area in sorted(by_area)]


def _row(area: str, level: str, homes: list[HomeAssessment]) -> AreaRow:
    downloads = _present(home.download_median_mbps for home in homes)
    wifi_known = [home.on_wifi for home in homes if home.on_wifi is not None]
    return published_row(
        area, level, homes=len(homes),
        eligible=sum(1 for home in homes if home.status is Eligibility.ELIGIBLE),
        not_yet_known=sum(1 for home in homes if home.status is Eligibility.NOT_YET_KNOWN),
        download_median_mbps=median(downloads) if downloads else None,
        download_p10_mbps=percentile(downloads, DOWNLOAD_LOW_PERCENTILE) if downloads else None,
        upload_median_mbps=_median_of(home.upload_median_mbps for home in homes),
        mos_median=_median_of(home.mos_median for home in homes),
        wifi_homes=sum(wifi_known), wifi_known_homes=len(wifi_known),
    )


def _present(values: Iterable[float | None]) -> list[float]:
    return [value for value in values if value is not None]


def _median_of(values: Iterable[float | None]) -> float | None:
    present = _present(values)
    return median(present) if present else None

"""What may be published about a group of homes (team decisions, issue 7 "Privacy").

A group with fewer than MIN_HOMES homes shows no figures at all, not even how many homes it has: a count of 2
next to a median speed describes two households. Larger groups publish their counts rounded to the nearest
multiple of COUNT_ROUNDING (halves up), so that two maps made a day apart cannot be subtracted to single out
the one home that joined. A share shown beside rounded counts is computed from the rounded counts (issue 15):
from the exact ones, "58.3 % of 10 homes" would give back 7 of 12. Shares are shown to 1 decimal, Mbit/s and
MOS to 2 decimals. `published_row` is the one place an area's exact figures become an AreaRow. Pure.

A hub's eligible homes are rounded like every other count. Whether a team can be formed is decided on the exact
count, but shown only when every exact count the published one stands for gives the same answer: with 15 shown
(13 to 17) and a team of 17, "possible" would say 17. Otherwise the answer is withheld (None, "too close to call
at this rounding"), which depends on the published count and the team size alone, so it reveals nothing more.
"""

from __future__ import annotations

from homeshore.planning.map_model import MEASURED, AreaRow

MIN_HOMES = 5
COUNT_ROUNDING = 5
PCT_DECIMALS = 1
FIGURE_DECIMALS = 2  # Mbit/s and MOS


def rounded_count(count: int) -> int:
    """`count` to the nearest multiple of COUNT_ROUNDING, halves up (7 -> 5, 8 -> 10); ValueError if negative."""
    if count < 0:
        raise ValueError(f"a count of homes cannot be negative ({count})")
    # floor(count / R + 1/2) in integers: no float rounding (and no banker's rounding) at the halves.
    return (2 * count + COUNT_ROUNDING) // (2 * COUNT_ROUNDING) * COUNT_ROUNDING


def is_suppressed(homes: int) -> bool:
    return homes < MIN_HOMES


def share_pct(part: int, whole: int) -> float | None:
    """100 * part / whole to PCT_DECIMALS, None when whole is 0."""
    return round(100.0 * part / whole, PCT_DECIMALS) if whole else None


def rounded_share_pct(part: int, whole: int) -> float | None:
    """The share of the rounded counts: what `part` of `whole` shows beside them, nothing finer. None when the
    rounded whole is 0."""
    return share_pct(rounded_count(part), rounded_count(whole))


def rounded_figure(value: float | None) -> float | None:
    return None if value is None else round(value, FIGURE_DECIMALS)


def published_row(area: str, level: str, *, homes: int, eligible: int, not_yet_known: int,
                  download_median_mbps: float | None, download_p10_mbps: float | None,
                  upload_median_mbps: float | None, mos_median: float | None, wifi_homes: int,
                  wifi_known_homes: int) -> AreaRow:
    """The AreaRow a measured area may show, from its exact counts and (unrounded) figures."""
    if is_suppressed(homes):
        return AreaRow(area=area, level=level, homes=None, eligible=None, eligible_pct=None,
                       download_median_mbps=None, download_p10_mbps=None, upload_median_mbps=None, mos_median=None,
                       wifi_pct=None, source=MEASURED, suppressed=True, not_yet_known=None)
    return AreaRow(area=area, level=level, homes=rounded_count(homes), eligible=rounded_count(eligible),
                   eligible_pct=rounded_share_pct(eligible, homes),
                   download_median_mbps=rounded_figure(download_median_mbps),
                   download_p10_mbps=rounded_figure(download_p10_mbps),
                   upload_median_mbps=rounded_figure(upload_median_mbps), mos_median=rounded_figure(mos_median),
                   wifi_pct=rounded_share_pct(wifi_homes, wifi_known_homes), source=MEASURED, suppressed=False,
                   not_yet_known=rounded_count(not_yet_known))


def published_hub_count(eligible_homes: int) -> int | None:
    """A hub's eligible homes as shown: None below MIN_HOMES, else rounded like every other count."""
    return None if is_suppressed(eligible_homes) else rounded_count(eligible_homes)


def counts_behind(published: int | None) -> range:
    """Every exact count of homes that is published as `published` (None: suppressed)."""
    if published is None:
        return range(0, MIN_HOMES)
    low = max(published - COUNT_ROUNDING // 2, MIN_HOMES)
    return range(low, published + (COUNT_ROUNDING - 1) // 2 + 1)


def published_team_possible(eligible_homes: int, team_size: int) -> bool | None:
    """Whether a team of `team_size` can be formed from `eligible_homes` (exact), as it may be shown: None when
    the exact counts behind the published one do not all give the same answer."""
    behind = counts_behind(published_hub_count(eligible_homes))
    if behind[0] >= team_size:
        return True
    if behind[-1] < team_size:
        return False
    return None

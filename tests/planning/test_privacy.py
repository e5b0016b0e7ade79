"""Publication rules: fewer than 5 homes shows nothing, counts to the nearest 5 (halves up), shares from the
rounded counts, hub counts rounded too and a team's feasibility shown only where it cannot narrow the rounding."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeshore.planning.map_model import MEASURED
from homeshore.planning.privacy import (COUNT_ROUNDING, MIN_HOMES, counts_behind, is_suppressed,
                                        published_hub_count, published_row, published_team_possible, rounded_count,
                                        share_pct)


def test_the_team_decisions() -> None:
    assert (MIN_HOMES, COUNT_ROUNDING) == (5, 5)


@pytest.mark.parametrize("count, shown", [(0, 0), (2, 0), (3, 5), (5, 5), (7, 5), (8, 10), (12, 10), (13, 15),
                                          (15, 15), (17, 15), (18, 20), (1232, 1230), (1233, 1235)])
def test_rounding_table(count: int, shown: int) -> None:
    assert rounded_count(count) == shown


@given(st.integers(min_value=0, max_value=10**7))
def test_rounding_is_to_the_nearest_multiple_halves_up(count: int) -> None:
    expected = int((Decimal(count) / COUNT_ROUNDING).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * COUNT_ROUNDING
    assert rounded_count(count) == expected
    assert abs(rounded_count(count) - count) <= COUNT_ROUNDING // 2


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        rounded_count(-1)


@pytest.mark.parametrize("homes, suppressed", [(0, True), (1, True), (4, True), (5, False), (6, False)])
def test_fewer_than_five_homes_is_suppressed(homes: int, suppressed: bool) -> None:
    assert is_suppressed(homes) is suppressed


FIGURES = dict(download_median_mbps=21.456, download_p10_mbps=9.004, upload_median_mbps=4.995, mos_median=4.2549,
               wifi_homes=1, wifi_known_homes=3)


def test_four_homes_publish_no_figure_at_all() -> None:
    row = published_row("NG5", "district", homes=4, eligible=4, not_yet_known=0, **FIGURES)
    assert row.suppressed and (row.area, row.level, row.source) == ("NG5", "district", MEASURED)
    numbers = {field.name: getattr(row, field.name) for field in dataclasses.fields(row)
               if field.name not in ("area", "level", "source", "suppressed")}
    assert set(numbers.values()) == {None}, numbers


def test_five_homes_publish_rounded_figures() -> None:
    row = published_row("NG5", "district", homes=5, eligible=3, not_yet_known=1, **FIGURES)
    assert not row.suppressed
    assert (row.homes, row.eligible, row.not_yet_known) == (5, 5, 0)  # 3 -> 5, 1 -> 0
    assert row.eligible_pct == 100.0  # the rounded 5 of 5: the exact 3 of 5 (60 %) would undo the rounding
    assert (row.download_median_mbps, row.download_p10_mbps, row.upload_median_mbps, row.mos_median) == (
        21.46, 9.0, 5.0, 4.25)
    assert row.wifi_pct == 0.0  # 1 of 3 known shows as 0 of 5


@given(st.integers(min_value=5, max_value=5000).flatmap(
    lambda homes: st.tuples(st.just(homes), st.integers(0, homes), st.integers(0, homes))))
def test_a_shown_share_is_the_share_of_the_shown_counts(counts: tuple[int, int, int]) -> None:
    homes, eligible, wifi = counts
    row = published_row("NG5", "district", homes=homes, eligible=eligible, not_yet_known=0,
                        **{**FIGURES, "wifi_homes": wifi, "wifi_known_homes": homes})
    assert row.homes is not None and row.eligible is not None
    for shown, part in ((row.eligible_pct, row.eligible), (row.wifi_pct, (wifi + 2) // 5 * 5)):
        exact = Decimal(100 * part) / Decimal(row.homes)  # of the shown (rounded) counts, to 1 decimal
        assert abs(Decimal(str(shown)) - exact) <= Decimal("0.05"), (counts, row)


def test_a_share_never_gives_back_the_exact_counts() -> None:
    # issue 15: 7 eligible of 12 showed as "10 homes, 10 eligible, 58.3 %", and only 7 of 12 gives 58.3.
    row = published_row("NG5", "district", homes=12, eligible=7, not_yet_known=0, **FIGURES)
    assert (row.homes, row.eligible, row.eligible_pct) == (10, 5, 50.0)
    wifi = published_row("NG5", "district", homes=7, eligible=0, not_yet_known=0,
                         **{**FIGURES, "wifi_homes": 3, "wifi_known_homes": 7})
    assert wifi.wifi_pct == 100.0  # 3 of 7 (42.9 %: homes = 7) shows as 5 of 5


def test_shares_and_missing_figures() -> None:
    assert share_pct(2, 3) == 66.7 and share_pct(1, 8) == 12.5 and share_pct(0, 7) == 0.0
    assert share_pct(0, 0) is None
    row = published_row("NG", "area", homes=9, eligible=0, not_yet_known=9, download_median_mbps=None,
                        download_p10_mbps=None, upload_median_mbps=None, mos_median=None, wifi_homes=0,
                        wifi_known_homes=0)
    assert (row.homes, row.eligible, row.eligible_pct, row.not_yet_known, row.wifi_pct) == (10, 0, 0.0, 10, None)
    assert row.download_median_mbps is None and row.mos_median is None


@pytest.mark.parametrize("count, shown", [(0, None), (4, None), (5, 5), (7, 5), (8, 10), (14, 15), (16, 15),
                                          (17, 15), (18, 20)])
def test_hub_counts_are_hidden_below_five_and_rounded_above(count: int, shown: int | None) -> None:
    assert published_hub_count(count) == shown


@pytest.mark.parametrize("shown, behind", [(None, range(0, 5)), (5, range(5, 8)), (10, range(8, 13)),
                                           (15, range(13, 18))])
def test_counts_behind_a_published_count(shown: int | None, behind: range) -> None:
    assert counts_behind(shown) == behind


@pytest.mark.parametrize("team_size", range(1, 40))
def test_team_feasibility_is_shown_only_where_every_count_behind_it_agrees(team_size: int) -> None:
    """By brute force over the exact counts: group them by what is published, and the answer shown must be the
    exact answer where the whole group agrees, and withheld (None) where it does not."""
    groups: dict[int | None, list[int]] = {}
    for count in range(0, 80):
        shown = None if count < 5 else int((Decimal(count) / 5).quantize(Decimal(1), ROUND_HALF_UP)) * 5
        groups.setdefault(shown, []).append(count)
    for counts in groups.values():
        answers = {count >= team_size for count in counts}
        expected = answers.pop() if len(answers) == 1 else None
        for count in counts:
            assert published_team_possible(count, team_size) is expected, (count, team_size)


def test_a_team_of_17_is_not_said_possible_beside_15_homes() -> None:
    # 17 exact homes show as 15 (13 to 17): "possible" would say 17; 13 with a team of 14, "not possible", 13.
    assert (published_hub_count(17), published_team_possible(17, 17)) == (15, None)
    assert (published_hub_count(13), published_team_possible(13, 14)) == (15, None)
    assert published_team_possible(18, 17) is True and published_team_possible(12, 13) is False

"""The Ofcom Connected Nations prior: small files in both layouts, with shares worked out by hand below."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.planning.map_model import OFCOM_PRIOR, AreaRow
from homeshore.planning.ofcom import OfcomError, OfcomPrior, load_ofcom, prior_rows, read_ofcom

UNABLE = "% of premises unable to receive {}Mbit/s"

# 2018 layout, with a BOM and the premises column last. "unable" shares at 2/5/10/30 Mbit/s.
OFCOM_2018 = "\ufeff" + "\n".join([
    "pcds,pca,SFBB availability (% premises)," + ",".join(UNABLE.format(s) for s in (2, 5, 10, 30))
    + ",All Premises",
    "NG5 1AB,NG,90,0,10,30,50,20",   # unable at 8 = 10 + (30 - 10) * 3/5 = 22 -> 78 % of 20 premises
    "NG5 1AD,NG,99,0,0,5,20,10",     # 0 + (5 - 0) * 3/5 = 3 -> 97 % of 10
    "NG5 2XY,NG,50,0,20,40,60,30",   # 20 + (40 - 20) * 3/5 = 32 -> 68 % of 30
    "NG7 3ZZ,NG,100,0,0,0,5,5",      # 0 -> 100 % of 5
    "NG7 3AA,NG,100,0,<3,0,5,8",     # a band, not a number: skipped
    "NG7 3AB,NG,100,0,0,,5,8",       # blank: skipped
    "NG7 3AC,NG,100,0,0,0,5,0",      # no premises: skipped
    "XX,XX,100,0,0,0,5,8",           # not a postcode: skipped
    "NG5,NG,100,0,0,0,5,8",          # a district alone, not a postcode: skipped
]) + "\n"
# By hand, download minimum 8 Mbit/s:
#   NG5 = (20*78 + 10*97 + 30*68) / 60 = (1560 + 970 + 2040) / 60 = 4570 / 60 = 76.1666...
#   NG7 = 100 (5 premises);  NG = (4570 + 5*100) / 65 = 5070 / 65 = 78.0
#   NG5 1 = (1560 + 970) / 30 = 84.333...;  NG5 2 = 68;  NG7 3 = 100

# 2023+ layout: other order, other case and spacing, extra columns, no 2 Mbit/s column. `postcode` (no space)
# deliberately disagrees with `postcode_space`, which is the one to read.
OFCOM_2023 = "\n".join([
    " Postcode_Space ,postcode,All premises,postcode area," + UNABLE.format(10) + "," + UNABLE.format(5)
    + ",UFBB availability (% premises)," + UNABLE.format(30).upper(),
    "S1 2AB,NG59ZZ,40,S,100,50,0,100",   # 50 + (100 - 50) * 3/5 = 80 -> 20 % of 40
    "S1 2AD,NG59ZZ,10,S,10,0,0,50",      # 0 + 10 * 3/5 = 6 -> 94 % of 10
    "NG5 4QQ,S12AB,40,NG,0,0,0,0",       # 0 -> 100 % of 40
]) + "\n"
#   S1 = (40*20 + 10*94) / 50 = 1740 / 50 = 34.8;  NG5 (this file alone) = 100
#   merged with the 2018 file: NG5 = (4570 + 40*100) / (60 + 40) = 85.7;  NG = (5070 + 4000) / 105 = 86.38...


def shares(prior: OfcomPrior) -> dict[str, float]:
    return {code: estimate.share_reaching_pct for code, estimate in prior.estimates.items()}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "2018.csv", tmp_path / "2023.csv"
    old.write_text(OFCOM_2018, encoding="utf-8")
    new.write_text(OFCOM_2023, encoding="utf-8")
    return old, new


@pytest.mark.parametrize("level, expected", [
    ("district", {"NG5": 4570 / 60, "NG7": 100.0}),
    ("area", {"NG": 78.0}),
    ("sector", {"NG5 1": 2530 / 30, "NG5 2": 68.0, "NG7 3": 100.0}),
])
def test_2018_layout_premises_weighted_at_every_level(level: str, expected: dict[str, float]) -> None:
    prior = read_ofcom(OFCOM_2018.splitlines(keepends=True), level)
    assert shares(prior) == pytest.approx(expected, abs=1e-9)
    assert (prior.layout, prior.level, prior.rows_read, prior.rows_skipped) == ("2018", level, 9, 5)


def test_estimates_count_premises_and_postcodes_used() -> None:
    prior = read_ofcom(OFCOM_2018.splitlines(keepends=True), "district")
    assert [(e.area, e.premises, e.postcodes) for e in prior.estimates.values()] == [("NG5", 60, 3), ("NG7", 5, 1)]


def test_2023_layout_reads_postcode_space_not_postcode(files: tuple[Path, Path]) -> None:
    prior = load_ofcom([files[1]], "district")
    assert prior.layout == "2023+"
    assert shares(prior) == pytest.approx({"S1": 34.8, "NG5": 100.0}, abs=1e-9)
    assert (prior.rows_read, prior.rows_skipped) == (3, 0)


def test_merging_files_weights_by_premises(files: tuple[Path, Path]) -> None:
    prior = load_ofcom(list(files), "district")
    assert shares(prior) == pytest.approx({"NG5": 85.7, "NG7": 100.0, "S1": 34.8}, abs=1e-9)
    assert prior.estimates["NG5"].premises == 100 and prior.estimates["NG5"].postcodes == 4
    assert (prior.rows_read, prior.rows_skipped, prior.layout) == (12, 5, "2018, 2023+")
    assert shares(load_ofcom(list(files), "area")) == pytest.approx({"NG": 9070 / 105, "S": 34.8}, abs=1e-9)


@pytest.mark.parametrize("download_min_mbps, expected_ng5", [
    (10, (20 * 70 + 10 * 95 + 30 * 60) / 60),  # exactly a threshold: its column alone
    (5, (20 * 90 + 10 * 100 + 30 * 80) / 60),
    (2, 100.0),
    (30, (20 * 50 + 10 * 80 + 30 * 40) / 60),
    (20, (20 * 60 + 10 * 87.5 + 30 * 50) / 60),  # halfway 10..30: 30+10=40, 5+7.5=12.5, 40+10=50 unable
])
def test_other_download_minimums(download_min_mbps: float, expected_ng5: float) -> None:
    prior = read_ofcom(OFCOM_2018.splitlines(keepends=True), "district", download_min_mbps)
    assert prior.estimates["NG5"].share_reaching_pct == pytest.approx(expected_ng5, abs=1e-9)


@given(st.lists(st.tuples(st.integers(1, 500), st.lists(st.integers(0, 100), min_size=4, max_size=4)),
                min_size=1, max_size=8),
       st.fractions(min_value=2, max_value=30, max_denominator=8))
@settings(max_examples=60, deadline=None)
def test_any_file_matches_a_piecewise_linear_reference(rows: list, download_min: Fraction) -> None:
    # Reference: the "unable" share as a piecewise-linear function through (2, u2), (5, u5), (10, u10),
    # (30, u30), evaluated exactly in fractions; one postcode per row, all in NG5.
    lines = ["pcds,All Premises," + ",".join(UNABLE.format(s) for s in (2, 5, 10, 30))]
    weighted = Fraction(0)
    for number, (premises, unable) in enumerate(rows):
        unable = sorted(unable)  # more premises are unable to receive a higher speed
        lines.append(f"NG5 {number % 10}AB,{premises}," + ",".join(map(str, unable)))
        points = list(zip((2, 5, 10, 30), unable))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if x0 <= download_min <= x1:
                at_d = y0 + Fraction(y1 - y0, x1 - x0) * (download_min - x0)
                break
        weighted += premises * (100 - at_d)
    expected = weighted / sum(premises for premises, _ in rows)
    prior = read_ofcom(lines, "district", float(download_min))
    assert prior.estimates["NG5"].share_reaching_pct == pytest.approx(float(expected), abs=1e-9)


def test_prior_rows_skip_measured_areas() -> None:
    prior = read_ofcom(OFCOM_2018.splitlines(keepends=True), "sector")
    rows = prior_rows(prior, {"NG5 2", "NG9 9"})
    assert rows == [
        AreaRow(area="NG5 1", level="sector", homes=None, eligible=None, eligible_pct=84.3,
                download_median_mbps=None, download_p10_mbps=None, upload_median_mbps=None, mos_median=None,
                wifi_pct=None, source=OFCOM_PRIOR, suppressed=False, not_yet_known=None),
        AreaRow(area="NG7 3", level="sector", homes=None, eligible=None, eligible_pct=100.0,
                download_median_mbps=None, download_p10_mbps=None, upload_median_mbps=None, mos_median=None,
                wifi_pct=None, source=OFCOM_PRIOR, suppressed=False, not_yet_known=None),
    ]
    assert prior_rows(prior, {"NG5 1", "NG5 2", "NG7 3"}) == []


def one_line_error(text: str, *args: object) -> str:
    with pytest.raises(OfcomError) as caught:
        read_ofcom(text.splitlines(keepends=True), *args, name="cov.csv")  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unknown_columns_name_what_was_seen() -> None:
    message = one_line_error("postcode_name,coverage\nNG5 1AB,99\n", "district")
    assert message.startswith("cov.csv: no postcode column")
    assert all(word in message for word in ("'pcds'", "'postcode_space'", "postcode_name, coverage"))


def test_missing_premises_or_unable_column_is_named() -> None:
    message = one_line_error(f"pcds,{UNABLE.format(5)},{UNABLE.format(10)}\nNG5 1AB,1,2\n", "district")
    assert "'All Premises'" in message and "columns seen: pcds, % of premises" in message
    message = one_line_error(f"pcds,All Premises,{UNABLE.format(5)}\nNG5 1AB,1,2\n", "district")
    assert f"no '{UNABLE.format(10)}' column" in message


@pytest.mark.parametrize("text, words", [
    ("", ("cov.csv", "empty file")),
    ("pcds,All Premises,x\n", (f"no '{UNABLE.format(5)}' column", "columns seen: pcds, All Premises, x")),
    (f"pcds,All Premises,{UNABLE.format(5)},{UNABLE.format(10)}\n", ("cov.csv", "no usable row (0 rows")),
    (f"pcds,All Premises,{UNABLE.format(5)},{UNABLE.format(10)}\nZZ,1,2,3\nNG5 1AB,0,1,1\n",
     ("no usable row (2 rows",)),
    (f"pcds,All Premises,{UNABLE.format(5)},{UNABLE.format(10)}\nNG5 1AB,1,2," + "9" * 200_000 + "\n",
     ("cov.csv, line 2: not a CSV file",)),  # a field past the csv module's limit
])
def test_empty_or_unusable_files(text: str, words: tuple[str, ...]) -> None:
    message = one_line_error(text, "district")
    assert all(word in message for word in words), message


@pytest.mark.parametrize("download_min_mbps", [1.9, 30.5, 100.0, float("nan")])
def test_download_minimum_outside_the_published_thresholds(download_min_mbps: float) -> None:
    assert "2 to 30 Mbit/s" in one_line_error(OFCOM_2018, "district", download_min_mbps)


def test_a_needed_threshold_column_missing_for_that_minimum(files: tuple[Path, Path]) -> None:
    with pytest.raises(OfcomError, match=r"2023\.csv: no '% of premises unable to receive 2Mbit/s' column"):
        load_ofcom([files[1]], "district", 3.0)


def test_level_and_file_errors(tmp_path: Path, files: tuple[Path, Path]) -> None:
    assert "unknown level 'county'" in one_line_error(OFCOM_2018, "county")
    binary = tmp_path / "cover.xlsx"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00\x81 binary")
    with pytest.raises(OfcomError, match=r"cover\.xlsx.*not UTF-8"):
        load_ofcom([files[0], binary], "district")
    with pytest.raises(OfcomError, match="no Ofcom file"):
        load_ofcom([], "district")
    with pytest.raises(FileNotFoundError):  # the CLI names the file from the OSError
        load_ofcom([tmp_path / "missing.csv"], "district")

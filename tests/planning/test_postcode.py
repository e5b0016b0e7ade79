"""postcode_district against the real list of Great Britain's postcode districts (../shared/geo)."""

from __future__ import annotations

import csv

import pytest

from homeshore.planning.postcode import PostcodeError, postcode_district
from tests.conftest import SHARED

DISTRICTS = SHARED / "geo" / "gb_postcode_district_centroids.csv"
NON_GEOGRAPHIC = {"NPT"}  # Newport's non-geographic district: not of the outward-code format


def real_districts() -> list[str]:
    with DISTRICTS.open(newline="") as handle:
        return [row["district"] for row in csv.DictReader(handle)]


def test_every_real_district_is_its_own_district_and_heads_a_full_postcode() -> None:
    districts = [d for d in real_districts() if d not in NON_GEOGRAPHIC]
    assert len(districts) > 2800
    assert [postcode_district(d) for d in districts] == districts
    assert [postcode_district(f"{d} 1AB") for d in districts] == districts
    assert [postcode_district(f"{d.lower()}9zz") for d in districts] == districts  # no space, lower case


@pytest.mark.parametrize("text, district", [
    ("NG5 1AB", "NG5"), ("ng5 1ab", "NG5"), ("  NG5   1AB ", "NG5"), ("NG51AB", "NG5"),
    ("SW1A 1AA", "SW1A"), ("W1A 0AX", "W1A"), ("M1 1AE", "M1"), ("B33 8TH", "B33"), ("CR2 6XH", "CR2"),
    ("DN55 1PT", "DN55"), ("EC1A 1BB", "EC1A"), ("GIR 0AA", "GIR"), ("NG5", "NG5"), ("sw1a", "SW1A"),
])
def test_known_postcodes_reduce_to_their_district(text: str, district: str) -> None:
    assert postcode_district(text) == district


@pytest.mark.parametrize("text", ["", "   ", "12345", "NG5 1A", "NG5 11AB", "NGG5 1AB", "N 1AB", "NG5-1AB",
                                  "NG5 1AB extra", "SW1A1AAA", "Q"])
def test_anything_else_is_refused_in_one_line_naming_it(text: str) -> None:
    with pytest.raises(PostcodeError) as caught:
        postcode_district(text)
    assert "\n" not in str(caught.value) and repr(text.strip()) in str(caught.value)

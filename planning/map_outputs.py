"""Writing a map's four files into the output directory: map.html, map.svg, areas.geojson, areas.csv.

Each file is written to a temporary name and renamed, so a planner never opens half a map, and a failed run
leaves the previous map whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from homeshore.planning.map_html import render_html
from homeshore.planning.map_model import MapData
from homeshore.planning.map_svg import render_svg
from homeshore.planning.map_tables import areas_csv, areas_geojson

FILES = ("map.html", "map.svg", "areas.geojson", "areas.csv")


def write_map(data: MapData, out_dir: Path) -> dict[str, Path]:
    """The files written, by name. Raises OSError (the caller says which directory)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        "map.html": render_html(data),
        "map.svg": render_svg(data),
        "areas.geojson": json.dumps(areas_geojson(data), separators=(",", ":"), ensure_ascii=False),
        "areas.csv": areas_csv(data.rows, data.coverage),
    }
    written = {}
    for name in FILES:
        written[name] = _replace(out_dir / name, texts[name])
    return written


def _replace(path: Path, text: str) -> Path:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.chmod(temporary, 0o666 & ~_umask())  # as open() would have made it: a map is for sharing
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

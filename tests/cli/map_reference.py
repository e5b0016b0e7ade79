"""An independent computation of areas.csv from raw tests, written plainly from the rules in issue 7 and
planning/eligibility.py's docstring (statistics.quantiles, loops, no code of the product's planning package), and
a generator of raw tests for the map's tests.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
OVERHEAD = 1514 / 1448  # line rate per unit of TCP goodput (planning/policy.py's documented allowance)


@dataclass
class Raw:
    time: datetime
    agent: str
    postcode: str  # full ("NG5 3AB") or a district alone ("NG5")
    download_mbps: float | None = None
    upload_mbps: float | None = None
    idle_rtt_ms: float | None = None
    loaded_rtt_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    mos: float | None = None
    conn: str | None = None

    @property
    def district(self) -> str:
        return self.postcode.split()[0]

    @property
    def sector(self) -> str | None:
        parts = self.postcode.split()
        return f"{parts[0]} {parts[1][0]}" if len(parts) == 2 else None

    def area(self, level: str) -> str | None:
        if level == "district":
            return self.district
        if level == "sector":
            return self.sector
        return re.match(r"[A-Z]+", self.district)[0]


def pct(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def home_status(tests: list[Raw]) -> tuple[str, dict]:
    """("eligible" | "not_eligible" | "not_yet_known", the home's medians) under the default policy and rules."""
    speed = [t for t in tests if t.download_mbps is not None and t.download_mbps >= 0]
    peak = [t for t in speed if 19 <= t.time.astimezone(LONDON).hour < 23]

    def values(name: str, low: float = 0.0, high: float = math.inf) -> list[float]:
        return [getattr(t, name) for t in tests if getattr(t, name) is not None and low <= getattr(t, name) <= high]

    medians = {
        "download": statistics.median(values("download_mbps")) if values("download_mbps") else None,
        "upload": statistics.median(values("upload_mbps")) if values("upload_mbps") else None,
        "mos": statistics.median(values("mos", 1, 5)) if values("mos", 1, 5) else None,
    }
    conns = [t.conn for t in tests if t.conn in ("wired", "wifi", "cellular")]
    medians["wifi"] = (sum(c == "wifi" for c in conns) > len(conns) / 2) if conns else None
    if len(speed) < 3 or len(peak) < 1:
        return "not_yet_known", medians
    ok = round(pct(values("download_mbps"), 10) * OVERHEAD, 3) >= 8.0
    if values("upload_mbps"):
        ok &= round(pct(values("upload_mbps"), 10) * OVERHEAD, 3) >= 1.0
    idle = values("idle_rtt_ms")
    if idle:
        ok &= round(pct(idle, 90), 3) <= 100.0
    if values("loaded_rtt_ms"):
        limit = min(statistics.median(idle) + 100.0, 200.0) if idle else 200.0
        ok &= round(pct(values("loaded_rtt_ms"), 90), 3) <= round(limit, 3)
    if values("jitter_ms"):
        ok &= round(pct(values("jitter_ms"), 90), 3) <= 30.0
    if values("loss_pct", 0, 100):
        ok &= round(pct(values("loss_pct", 0, 100), 90), 3) <= 1.0
    if values("mos", 1, 5):
        ok &= round(pct(values("mos", 1, 5), 10), 3) >= 4.0
    return ("eligible" if ok else "not_eligible"), medians


def round5(count: int) -> int:
    return int(math.floor(count / 5 + 0.5)) * 5


def round5_share(part: int, whole: int) -> float | None:
    """A share as published: of the rounded counts, so that it gives back nothing finer than they do (issue 15)."""
    return round(100.0 * round5(part) / round5(whole), 1) if round5(whole) else None


def published_team(eligible_homes: int, team_size: int) -> tuple[int | None, bool | None]:
    """(the count shown, whether a team is shown possible) for a hub: the count hidden below 5 else rounded; the
    answer only where every exact count that shows the same gives the same one, else None."""
    shown = None if eligible_homes < 5 else round5(eligible_homes)
    same = [count for count in range(0, eligible_homes + 10)
            if (None if count < 5 else round5(count)) == shown]
    answers = {count >= team_size for count in same}
    return shown, (answers.pop() if len(answers) == 1 else None)


def expected_areas(raws: list[Raw], level: str, until: datetime, window_days: float = 28.0) -> dict[str, dict]:
    """area -> {column: value or None}, as areas.csv should hold it (counts rounded, figures rounded)."""
    start = until - timedelta(days=window_days)
    by_home: dict[str, list[Raw]] = defaultdict(list)
    for raw in raws:
        if start < raw.time <= until:
            by_home[raw.agent].append(raw)
    homes_by_area: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for agent, tests in by_home.items():
        latest = max(tests, key=lambda t: t.time)
        area = latest.area(level)
        if area is not None:
            homes_by_area[area].append(home_status(tests))
    out = {}
    for area, homes in homes_by_area.items():
        row: dict = {"area": area, "level": level, "source": "measured"}
        if len(homes) < 5:
            row |= {key: None for key in ("homes", "eligible", "eligible_pct", "download_median_mbps",
                                          "download_p10_mbps", "upload_median_mbps", "mos_median", "wifi_pct")}
        else:
            eligible = sum(status == "eligible" for status, _ in homes)
            downloads = [m["download"] for _, m in homes if m["download"] is not None]
            uploads = [m["upload"] for _, m in homes if m["upload"] is not None]
            moses = [m["mos"] for _, m in homes if m["mos"] is not None]
            wifi = [m["wifi"] for _, m in homes if m["wifi"] is not None]
            row |= {
                "homes": round5(len(homes)), "eligible": round5(eligible),
                "eligible_pct": round5_share(eligible, len(homes)),
                "download_median_mbps": round(statistics.median(downloads), 2) if downloads else None,
                "download_p10_mbps": round(pct(downloads, 10), 2) if downloads else None,
                "upload_median_mbps": round(statistics.median(uploads), 2) if uploads else None,
                "mos_median": round(statistics.median(moses), 2) if moses else None,
                "wifi_pct": round5_share(sum(wifi), len(wifi)),
            }
        out[area] = row
    return out


# Districts with real centroids in ../shared/geo, some crowded, some with too few homes to show.
DISTRICT_HOMES = {"NG5": 14, "NG7": 9, "NG18": 12, "NG19": 6, "NG20": 3, "S1": 7, "S10": 2, "DE1": 5, "LE10": 4,
                  "LN1": 8, "IV1": 1}


def generate(seed: int, until: datetime) -> list[Raw]:
    """Homes with 1-7 tests each over 40 days before `until` (some outside the 28-day window), good and poor
    lines, tests at all hours (the evening peak included or not), some homes that moved district, some rows
    with a district-only postcode, Wi-Fi and wired."""
    rng = random.Random(seed)
    raws: list[Raw] = []
    number = 0
    for district, homes in DISTRICT_HOMES.items():
        for _ in range(homes):
            number += 1
            agent = f"home-{number:03d}"
            good = rng.random() < 0.6
            base = rng.uniform(12, 70) if good else rng.uniform(3, 12)
            sector = rng.choice((1, 2)) if homes > 10 else rng.randint(0, 9)  # crowded sectors in big districts
            conn = rng.choice(["wired", "wifi", "wifi", "unknown", None])
            for _ in range(rng.randint(1, 8)):
                hours_back = rng.uniform(0, 40 * 24)
                if rng.random() < 0.3:  # an evening test: between 19:00 and 23:00 UK time on that day
                    day = (until - timedelta(hours=hours_back)).astimezone(LONDON).replace(hour=19, minute=0)
                    hours_back = (until - (day + timedelta(minutes=rng.uniform(0, 239)))).total_seconds() / 3600
                postcode = f"{district} {sector}{rng.choice('ABDEFGH')}{rng.choice('JLNPQRS')}"
                if rng.random() < 0.05:
                    postcode = district
                raws.append(Raw(
                    time=(until - timedelta(hours=hours_back)).replace(microsecond=0),
                    agent=agent, postcode=postcode,
                    download_mbps=round(base * rng.uniform(0.7, 1.1), 2),
                    upload_mbps=round(rng.uniform(0.9, 20), 2) if rng.random() < 0.9 else None,
                    idle_rtt_ms=round(rng.uniform(8, 60), 1),
                    loaded_rtt_ms=round(rng.uniform(20, 130 if good else 260), 1),
                    jitter_ms=round(rng.uniform(0.5, 12), 2),
                    loss_pct=rng.choice([0.0, 0.0, 0.1, 0.4] if good else [0.0, 0.4, 1.5]),
                    mos=round(rng.uniform(4.0, 4.4) if good else rng.uniform(3.6, 4.4), 2)
                    if rng.random() < 0.7 else None,
                    conn=conn))
    # A home that moved: its older tests in NG5, its latest in LN1.
    raws.append(Raw(time=until - timedelta(days=30), agent="home-001", postcode="LN1 1AA", download_mbps=30.0))
    raws.append(Raw(time=until - timedelta(minutes=5), agent="home-002", postcode="LN1 3DE", download_mbps=31.5))
    return raws


def csv_text(raws: list[Raw]) -> str:
    header = "time,agent,postcode,download_mbps,upload_mbps,idle_rtt_ms,loaded_rtt_ms,jitter_ms,loss_pct,mos,conn," \
             "comment\n"

    def cell(value: object) -> str:
        return "" if value is None else str(value)

    lines = [",".join([raw.time.isoformat(), raw.agent, raw.postcode, *(cell(getattr(raw, name)) for name in (
        "download_mbps", "upload_mbps", "idle_rtt_ms", "loaded_rtt_ms", "jitter_ms", "loss_pct", "mos", "conn")),
        "ignored"]) for raw in raws]
    return header + "\n".join(lines) + "\n"


UNTIL = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)

"""The outcome of a readiness check: one Criterion per rule, the overall verdict, and its JSON form.

Not measured: a criterion whose figure is missing (or unusable) is WARN with value None, never PASS. The
overall verdict is FAIL if any criterion fails (a measured failure stands even when other figures are missing),
else WARN if any warns or was not measured, else PASS. `could_not_measure` says an essential figure (speed,
idle RTT, jitter, loss) is missing: `homeshore check` exits 1 on FAIL, else 2 when it could not measure.
RTT under load and MOS are not essential (a quick check may skip them); missing, they only warn.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


CRITERIA: tuple[str, ...] = ("download", "upload", "idle_rtt", "loaded_rtt", "jitter", "loss", "mos")  # DESIGN.md
# How each criterion is named to a reader (the terminal panel and the HTML report alike).
CRITERION_LABELS: dict[str, str] = {
    "download": "Download", "upload": "Upload", "idle_rtt": "Round trip (idle)",
    "loaded_rtt": "Round trip (under load)", "jitter": "Jitter", "loss": "Packet loss", "mos": "Call quality (MOS)"}
ESSENTIAL_CRITERIA = frozenset({"download", "upload", "idle_rtt", "jitter", "loss"})


@dataclass(frozen=True)
class Criterion:
    name: str  # one of CRITERIA
    status: Status
    value: float | None  # None: not measured; download and upload: line rate
    threshold: float  # FAIL beyond it
    warn_threshold: float  # WARN beyond it (the WARN band lies between the two)
    unit: str
    advice: str  # always states the value (or that there is none) and the threshold
    goodput_mbps: float | None = None  # download and upload: the measured goodput the line rate comes from

    @property
    def measured(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Verdict:
    criteria: tuple[Criterion, ...]
    bufferbloat_grade: str | None = None  # None when idle or loaded RTT was not measured

    @property
    def overall(self) -> Status:
        statuses = {criterion.status for criterion in self.criteria}
        for status in (Status.FAIL, Status.WARN):
            if status in statuses:
                return status
        return Status.PASS

    @property
    def could_not_measure(self) -> bool:
        return any(not c.measured for c in self.criteria if c.name in ESSENTIAL_CRITERIA)

    def criterion(self, name: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.name == name:
                return criterion
        raise KeyError(name)


def verdict_dict(verdict: Verdict) -> dict:
    """The `verdict` and `criteria` members of `homeshore check --json` (DESIGN.md); the CLI adds the rest."""
    return {
        "verdict": str(verdict.overall),
        "criteria": [
            {"name": c.name, "status": str(c.status), "value": c.value, "threshold": c.threshold, "unit": c.unit,
             "advice": c.advice}
            for c in verdict.criteria
        ],
    }

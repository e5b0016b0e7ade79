"""The link's capacity, learnt from the agent's own speed tests, and how much of it the interface is using: the
evidence of `upload_saturated` and `download_saturated` (planning/cause.py). Pure.

A speed test reports TCP goodput; the interface counts whole Ethernet frames, so the capacity is the goodput's
line rate (planning/policy.Policy.line_rate_mbps: + 4.6 % at MTU 1500) and a saturated link reads a use near 1.
Until the first speed test of this process the capacity is unknown and the use is None (no rule trips).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from homeshore.collector.schema import Sample
from homeshore.planning.policy import Policy


@dataclass(frozen=True)
class LinkCapacity:
    """Line rates in Mbit/s; None until measured."""

    download_mbps: float | None = None
    upload_mbps: float | None = None


def learnt(capacity: LinkCapacity, samples: Iterable[Sample], policy: Policy = Policy()) -> LinkCapacity:
    """`capacity` updated by the last `bandwidth` sample among `samples` (each direction it measured)."""
    for sample in samples:
        if sample.measurement != "bandwidth":
            continue
        download, upload = sample.fields.get("download_mbps"), sample.fields.get("upload_mbps")
        capacity = LinkCapacity(
            policy.line_rate_mbps(float(download)) if isinstance(download, float) and download > 0
            else capacity.download_mbps,
            policy.line_rate_mbps(float(upload)) if isinstance(upload, float) and upload > 0 else capacity.upload_mbps)
    return capacity


def link_use(rate_mbps: float | None, capacity_mbps: float | None) -> float | None:
    """Traffic over capacity (1.0: full); None when either is unknown."""
    if rate_mbps is None or not capacity_mbps:
        return None
    return round(rate_mbps / capacity_mbps, 3)

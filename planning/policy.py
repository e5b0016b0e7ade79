"""The readiness policy: the thresholds a home must meet, with the defaults of DESIGN.md and issue 5.

A `Policy` checks its own values when built, so a policy from code and one from a file (`policy_file.py`) obey
the same bounds. Every name carries its unit; the TOML keys are the field names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# Line rate per unit of TCP goodput over IPv4 and Ethernet with a 1500-byte MTU: a full segment carries 1448
# bytes of payload (1500 - 20 IPv4 - 20 TCP - 12 timestamp option, RFC 7323) in a 1514-byte frame (+ 14 bytes
# of Ethernet header), and a shaper (tc tbf, an ISP's rate limiter) counts frames. 1514/1448 = 1.0456: a
# 10 Mbit/s link gives iperf3 about 9.56 Mbit/s of goodput (measured here through tc tbf on a veth pair at 7, 8
# and 10 Mbit/s: 6.70, 7.67 and 9.58 Mbit/s, ratios 1.044-1.045). Preamble, FCS and inter-frame gap are not counted:
# shapers do not see them. Links with more framing (PPPoE, VDSL) can raise the allowance in the policy file.
TCP_IPV4_ETHERNET_OVERHEAD_PCT = 100.0 * (1514 / 1448 - 1.0)

FIGURE_DECIMALS = 3  # figures are compared and shown to 0.001 of their unit, far below measurement noise


class PolicyError(ValueError):
    """A policy value or file that cannot be used; the message is one line naming the key (and file, line)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Policy:
    """Readiness thresholds (inclusive: a figure equal to its threshold does not fail) and WARN bands.

    WARN band: a figure that meets its threshold by less than `warn_margin_pct` of it (download 8 to 10 Mbit/s,
    upload 1 to 1.25 Mbit/s, idle RTT above 75 ms, RTT under load above idle + 75 ms or 150 ms, jitter above
    22.5 ms, loss above 0.75 %); MOS warns below `mos_min + mos_warn_margin` (4.2), a margin of 25 % of 4.0
    would cover the whole scale.
    """

    download_min_mbps: float = 8.0  # the seed's rule, on line rate (goodput corrected by protocol_overhead_pct)
    upload_min_mbps: float = 1.0  # on line rate too: a 1 Mbit/s uplink gives ~0.96 Mbit/s of goodput
    idle_rtt_max_ms: float = 100.0  # Microsoft Teams network requirements: RTT < 100 ms
    loaded_rtt_increase_max_ms: float = 100.0  # DESIGN.md: RTT under load <= idle + 100 ms ...
    loaded_rtt_max_ms: float = 200.0  # ... and issue 5: <= 200 ms whatever the idle RTT
    jitter_max_ms: float = 30.0
    loss_max_pct: float = 1.0
    mos_min: float = 4.0  # synthetic G.711 call, ITU-T G.107 E-model
    warn_margin_pct: float = 25.0
    mos_warn_margin: float = 0.2
    protocol_overhead_pct: float = TCP_IPV4_ETHERNET_OVERHEAD_PCT
    # Traffic on the interface beyond the test's own above this marks a measurement as disturbed (advice says
    # so); below it is household background (notifications, sync).
    quiet_traffic_max_mbps: float = 0.5

    def __post_init__(self) -> None:
        for field in fields(self):
            check_value(field.name, getattr(self, field.name))

    def line_rate_mbps(self, goodput_mbps: float) -> float:
        """The line rate a TCP goodput (what iperf3 or a speed test reports) needs, at FIGURE_DECIMALS."""
        return round(goodput_mbps * (1.0 + self.protocol_overhead_pct / 100.0), FIGURE_DECIMALS)


@dataclass(frozen=True)
class Range:
    """The values a policy key admits."""

    low: float
    high: float
    low_allowed: bool = True  # False: the value must be above `low` (a limit of 0 would fail every home)

    def admits(self, value: float) -> bool:
        above_low = value >= self.low if self.low_allowed else value > self.low
        return above_low and value <= self.high

    def describe(self) -> str:
        return f"{self.low:g} {'<=' if self.low_allowed else '<'} value <= {self.high:g}"


_RATE = Range(0.0, 10_000.0)
_DELAY_LIMIT = Range(0.0, 10_000.0, low_allowed=False)
RANGES: dict[str, Range] = {
    "download_min_mbps": _RATE,
    "upload_min_mbps": _RATE,
    "idle_rtt_max_ms": _DELAY_LIMIT,
    "loaded_rtt_increase_max_ms": _DELAY_LIMIT,
    "loaded_rtt_max_ms": _DELAY_LIMIT,
    "jitter_max_ms": _DELAY_LIMIT,
    "loss_max_pct": Range(0.0, 100.0),
    "mos_min": Range(1.0, 5.0),  # the MOS scale (ITU-T P.800)
    "warn_margin_pct": Range(0.0, 90.0),
    "mos_warn_margin": Range(0.0, 4.0),
    "protocol_overhead_pct": Range(0.0, 50.0),
    "quiet_traffic_max_mbps": _RATE,
}


def check_value(key: str, value: object, ranges: dict[str, Range] = RANGES) -> float:
    """`value` as a float if it suits policy key `key` (its range in `ranges`); PolicyError naming the key
    otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PolicyError(f"{key} must be a number, not {type(value).__name__} {value!r}", key)
    if not math.isfinite(value):
        raise PolicyError(f"{key} must be a finite number, not {value!r}", key)
    allowed = ranges[key]
    if not allowed.admits(value):
        raise PolicyError(f"{key} = {value!r} is out of range ({allowed.describe()})", key)
    return float(value)

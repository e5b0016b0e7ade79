"""The thresholds of the cause rules (planning/cause.py), the `[cause]` table of the policy file.

Each default says where it comes from. A window is poor when any of its figures crosses the first group; the
other groups decide which cause explains it. Checked when built, like `Policy`.

    [cause]
    cpu_busy_pct = 80
    wifi_signal_min_dbm = -67
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from homeshore.planning.policy import Range, check_value


@dataclass(frozen=True)
class CausePolicy:
    """Thresholds of the cause rules (a figure equal to its threshold does not trip it)."""

    # A poor window. MOS 3.6 is R = 70 in ITU-T G.107 (Annex B, the E-model's R-to-MOS mapping), the lower
    # edge of "some users dissatisfied" in ITU-T G.109; loss and jitter as the readiness policy's limits.
    mos_poor_below: float = 3.6
    loss_poor_pct: float = 1.0
    jitter_poor_ms: float = 30.0
    # The machine: Operata flags a softphone's host above 80 % CPU as a warning and above 90 % as critical;
    # the cause is named at the critical level, where audio processing and capture start to starve.
    cpu_busy_pct: float = 90.0
    # Wi-Fi: -70 dBm is the common "fair" boundary of signal strength (-67 dBm is what voice deployment guides
    # ask for, below -70 dBm rates drop and retries climb). Retries: frames the card gave up on after its retry
    # limit; a few per second is our own choice of "the radio is struggling", not a published figure.
    wifi_signal_min_dbm: float = -70.0
    wifi_retries_max_per_s: float = 5.0
    # The home segment (this machine to the default gateway, one hop on the home's own network): ITU-T Y.1541
    # class 0 allows 50 ms of delay variation end to end, and the first hop should take a small share of it;
    # a wired LAN hop has well under 1 ms of jitter and a healthy Wi-Fi hop a few ms.
    gateway_jitter_max_ms: float = 10.0
    gateway_rtt_max_ms: float = 30.0
    gateway_loss_max_pct: float = 1.0
    # The link: traffic on the interface over the capacity the last speed test measured. At a use of 0.9 an
    # M/M/1 queue holds 9 packets on average (rho / (1 - rho)): the router's buffer fills and voice waits.
    upload_use_max: float = 0.9
    download_use_max: float = 0.9

    def __post_init__(self) -> None:
        for field in fields(self):
            check_value(field.name, getattr(self, field.name), CAUSE_RANGES)


_DELAY = Range(0.0, 10_000.0, low_allowed=False)
_PCT = Range(0.0, 100.0)
_USE = Range(0.0, 10.0, low_allowed=False)
CAUSE_RANGES: dict[str, Range] = {
    "mos_poor_below": Range(1.0, 5.0),  # the MOS scale (ITU-T P.800)
    "loss_poor_pct": _PCT,
    "jitter_poor_ms": _DELAY,
    "cpu_busy_pct": Range(0.0, 100.0, low_allowed=False),
    "wifi_signal_min_dbm": Range(-120.0, 0.0),
    "wifi_retries_max_per_s": Range(0.0, 100_000.0),
    "gateway_jitter_max_ms": _DELAY,
    "gateway_rtt_max_ms": _DELAY,
    "gateway_loss_max_pct": _PCT,
    "upload_use_max": _USE,
    "download_use_max": _USE,
}

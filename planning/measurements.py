"""What one readiness check measured, as the policy reads it: plain figures, None where not measured."""

from __future__ import annotations

from dataclasses import dataclass

# The connection kinds are the schema's `conn` tag, defined once there.
from homeshore.collector.schema import CONNECTIONS, KNOWN_CONNECTIONS, Connection  # noqa: F401 - re-exported


@dataclass(frozen=True)
class ReadinessMeasurements:
    """One check's figures and the host context they were taken in; any figure may be None (not measured).

    Goodputs are TCP payload rates as they arrived (iperf3's receiver figure, or `homeshore serve`'s receipt);
    the policy converts them to line rate. Loaded RTTs are the UDP probe's RTT while the download and the
    upload phase ran. The host context (psutil, /sys) explains a figure: the link type, the jitter Wi-Fi adds
    when the probe could tell (RTT to the gateway), traffic on the interface beyond the test's own during the
    test, and CPU load.
    """

    download_goodput_mbps: float | None = None
    upload_goodput_mbps: float | None = None
    idle_rtt_ms: float | None = None
    loaded_rtt_download_ms: float | None = None
    loaded_rtt_upload_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    mos: float | None = None  # synthetic G.711 call, ITU-T G.107 E-model
    connection: Connection = "unknown"
    wifi_jitter_added_ms: float | None = None
    other_download_mbps: float | None = None  # received beyond the test's own, mean over the test
    other_upload_mbps: float | None = None  # sent beyond the test's own, mean over the test
    cpu_pct: float | None = None  # whole machine, mean over the test
    udp_blocked: bool = False  # no packet of the test call crossed: the network let no UDP through

    def __post_init__(self) -> None:
        if self.connection not in CONNECTIONS:
            raise ValueError(f"connection must be one of {', '.join(CONNECTIONS)}, not {self.connection!r}")

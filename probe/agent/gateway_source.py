"""The gateway source: the home segment (round trip, jitter and loss of echoes to the default gateway) on its
own thread and ticker, the host source's interval (every second during a call) but never more often than
GATEWAY_EVERY_S. A probe waits up to GATEWAY_TIMEOUT_S for lost replies; on its own thread that never delays the
other host figures (Telegraf: each input on its own ticker).

Each probe goes into the context history (for the causes of call windows) and out as a `host` sample with the
gateway_* fields; the gateway's address never leaves this module. Cost: GATEWAY_ECHOES echo requests of 84 bytes
a probe, about 1 ms of CPU.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

from homeshore.collector.schema import Sample
from homeshore.probe.agent.context_history import ContextHistory, ContextReading
from homeshore.probe.agent.health import Health
from homeshore.probe.agent.runtime import Runtime
from homeshore.probe.gateway_probe import HomeSegment
from homeshore.quality.results import rounded

log = logging.getLogger("homeshore.agent")

GATEWAY_ECHOES = 5  # per probe, GATEWAY_ECHO_GAP_S apart: done within ~25 ms on a sound home network
GATEWAY_ECHO_GAP_S = 0.005
GATEWAY_TIMEOUT_S = 0.5  # a reply later than this counts as lost (a home hop takes milliseconds)
GATEWAY_EVERY_S = 1.0  # at most one probe a second, however short host.interval_s: bounded cost for the router
GATEWAY_REFRESH_S = 60.0  # the default route is read again this often


def gateway_sample(segment: HomeSegment, tags: Mapping[str, str], conn: str, time_ns: int) -> Sample:
    """The `host` point of one probe of the home segment (figures rounded to 3 places, as every stored one)."""
    return Sample("host", {**tags, "conn": conn},
                  {"gateway_rtt_ms": rounded(segment.rtt_mean_ms), "gateway_jitter_ms": rounded(segment.jitter_ms),
                   "gateway_loss_pct": rounded(segment.loss_pct)}, time_ns)


class GatewayCollector:
    """One probe of the home segment per call. A router that has never answered is one that ignores echo
    requests, not one that loses everything (its 100 % would name every poor window `home_network`): no figures
    until it answers once. Without CAP_NET_RAW it says so once and stops probing."""

    def __init__(self, runtime: Callable[[], Runtime], health: Health, history: ContextHistory) -> None:
        self.runtime = runtime
        self.health = health
        self.history = history
        self._gateway: str | None = None
        self._looked_up_s = -math.inf
        self._refused = False
        self._answered = False

    def __call__(self) -> list[Sample]:
        from homeshore.probe.gateway import default_gateway
        from homeshore.probe.gateway_probe import GatewayProbeError, probe_gateway

        if time.monotonic() - self._looked_up_s >= GATEWAY_REFRESH_S:
            gateway = default_gateway()
            self._gateway = gateway.address if gateway else None
            self._looked_up_s = time.monotonic()
        if self._gateway is None or self._refused:
            return []
        started = time.time()
        try:
            segment = probe_gateway(self._gateway, count=GATEWAY_ECHOES, interval_s=GATEWAY_ECHO_GAP_S,
                                    timeout_s=GATEWAY_TIMEOUT_S)
        except GatewayProbeError as error:
            log.warning("home segment not measured: %s", error)
            self._refused = True
            return []
        self._answered = self._answered or segment.received > 0
        if not self._answered:
            return []
        now = time.time()
        self.history.add(ContextReading(now, now - started, gateway=segment))
        return [gateway_sample(segment, self.runtime().tags, self.health.conn, time.time_ns())]

"""The synthetic call of `homeshore check`: G.711-sized packets at 50 per second, both ways through the reflector.

    call = run_synthetic_call("collector.example.org", 8610, seconds=30)    # blocks for ~30 s
    call.mos, call.loss_pct, call.jitter_ms, call.upstream.jitter_ms

For homes with no calls yet: what a call through this path would sound like, before there is one to capture.
The packets are the latency probe's (probe/udpprobe_wire.py, 172 bytes: a 20-ms G.711 packet with its RTP
header), sent by its loop (probe/latency.py's UdpProbe: probe k due at start + k * 20 ms on the monotonic clock,
replies matched by test id, sequence number and echoed send time, an ICMP error before any reply raising
NoReflector or ServerUnreachable). What this module adds is keeping the reflector's receive time of each reply,
which splits the round trip into its two legs; probe/synthetic_score.py turns the records into figures.

A 30-s call at 50 packets/s is 1,500 packets, 258 KB each way, well within the reflector's limits (500 packets/s
per source, 8 MB per test).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from homeshore.probe import udpprobe_wire as wire
from homeshore.probe.latency import CouldNotReach, NoReflector, ServerUnreachable, UdpProbe
from homeshore.probe.synthetic_score import PACKET_S, Echo, SyntheticCallResult, score_call

CALL_S = 30.0
_PROGRESS_EVERY_S = 0.25

__all__ = ["CALL_S", "CouldNotReach", "NoReflector", "ServerUnreachable", "SyntheticCallResult",
           "SyntheticCall", "run_synthetic_call"]


class SyntheticCall(UdpProbe):
    """UdpProbe sending G.711-sized probes every 20 ms for `seconds`, and keeping each reply's reflector
    timestamp (`echoes`, in arrival order) besides what UdpProbe keeps."""

    def __init__(self, server: str, port: int, *, seconds: float = CALL_S) -> None:
        if not seconds > 0:
            raise ValueError(f"a call lasts more than 0 s, not {seconds}")
        super().__init__(server, port, interval_s=PACKET_S, size=wire.G711_SIZE, seconds=seconds)
        self.echoes: list[Echo] = []

    def running(self, timeout_s: float) -> bool:
        """Wait up to timeout_s for the call (sending and the last replies) to end; whether it still runs."""
        assert self._thread is not None, "start() first"
        self._thread.join(timeout_s)
        return self._thread.is_alive()

    def score(self) -> SyntheticCallResult:
        """The call's figures, once it ended (stop() or wait() returned)."""
        assert self.result is not None, "the call has not ended"
        return score_call(self._send_ns, self.echoes, reply_timeout_s=self.reply_timeout_s)

    def _on_reply(self, probe: wire.Probe, arrival_ns: int) -> None:
        self.echoes.append(Echo(probe.seq, probe.server_recv_ns, arrival_ns))


def run_synthetic_call(server: str, port: int, *, seconds: float = CALL_S,
                       on_progress: Callable[[float], None] | None = None) -> SyntheticCallResult:
    """Call server:port's reflector for `seconds` (blocking, plus up to 2 s for the last replies) and score the
    call. on_progress(fraction 0..1 of the call's length) is called from the calling thread about four times a
    second. CouldNotReach (NoReflector, ServerUnreachable) when there is no reflector to call; the socket is
    opened in the calling thread, so in its network namespace."""
    started_s = time.monotonic()
    with SyntheticCall(server, port, seconds=seconds) as call:  # an exception here (Ctrl-C) ends the call
        while call.running(_PROGRESS_EVERY_S):
            if on_progress is not None:
                on_progress(min(1.0, (time.monotonic() - started_s) / seconds))
    return call.score()

"""The synthetic call's figures from its send and receive records (pure: numbers in, a frozen record out).

The call (probe/synthetic_call.py) sends probe k (a 172-byte G.711 packet, probe/udpprobe_wire.py) every 20 ms
to the reflector, which returns it with its own receive time written in. Each packet thus crossed two legs, and
each is scored as the RTP stream a call would carry over it, by the quality/ engine (quality/stream.py:
RFC 3550 A.8 jitter, RFC 3550 A.1 sequence accounting, the adaptive jitter buffer's discards; RFC 3611 §4.7.2
bursts and gaps; the G.107 E-model):
- upstream (home -> server) arrives at the reflector's receive time; its transit is that time minus our send
  time. The two clocks differ by a constant (both are monotonic clocks, and in the lab the same one), which
  jitter, built on differences of transit times, never sees; a constant is all it adds to the transit;
- downstream (server -> home) arrives here; its transit is our arrival time minus the reflector's receive time
  (the reflector's few microseconds of answering fall on this leg).
Each leg is fed to the engine as sent by a perfectly paced RTP sender, PCMU at 8000 Hz: packet k carries
sequence k and timestamp 160 k and arrives at 20 ms * k + its transit on that leg. The engine then sees that
leg's delay variation and nothing else: neither our sending thread's scheduling on a busy machine nor, on the
way back, the upstream leg's variation that a reflector (unlike a far end with its own clock) passes on. The
order a leg delivers packets in is the order of those arrival times, so a leg reorders exactly when its own
delay varies by more than the 20 ms between packets.

Loss. A reply that never came was lost on one leg or the other; without the reflector telling which requests
it saw (it does not keep per-test state beyond its limits), the legs cannot be told apart. The loss reported is
the round trip's: the share of the call's packets that did not make it there and back. It is also the loss each
leg is scored with, so each leg's MOS is what a call would get if all of that loss fell on its side: pessimistic
by up to a factor two of the loss on each side when both legs lose, exact when one leg does all the losing
(a saturated upload, a bad Wi-Fi downlink: the usual cases), and never optimistic, which suits a readiness gate.
Replies later than the reply timeout (2 s) count as lost, as in the latency probe (probe/latency.py); a jitter
buffer would have dropped them long before.

The call's score for the policy is the worse leg's: R and MOS of the leg with the lower MOS, its burst loss
(RFC 3611 burst density: the loss rate inside bursts, discards included), and the larger of the two legs'
jitter. The E-model's mouth-to-ear delay per leg is, as quality/stream.py's RtpStream.score takes it, half the
median round trip plus that leg's jitter-buffer playout delay plus one packet (20 ms of packetisation): a
conversational MOS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from homeshore.probe.latency import REPLY_TIMEOUT_S, LatencyResult, summarize
from homeshore.probe.udpprobe_wire import G711_SIZE
from homeshore.quality import emodel
from homeshore.quality.results import LossFigures
from homeshore.quality.sequence import MISSING, RECEIVED
from homeshore.quality.stream import RtpStream, loss_figures

CODEC = "PCMU"  # G.711 mu-law: RFC 3551 static payload type 0
PAYLOAD_TYPE = 0
CLOCK_HZ = 8000
PACKET_S = 0.020  # 20 ms per packet: 50 packets/s
PACKET_MS = PACKET_S * 1000
SAMPLES_PER_PACKET = round(CLOCK_HZ * PACKET_S)  # 160
PAYLOAD_BYTES = G711_SIZE - 12  # the probe's size less an RTP header: 160 bytes of G.711
# As SDP would bind it. (The engine still checks the rate against the arrival times: 160 per 20 ms agrees.)
_SIGNALLED = {PAYLOAD_TYPE: (CODEC, CLOCK_HZ, 1)}
_ONE_WINDOW_S = 1e9  # the engine's 10-s windows are for live calls; the synthetic call is scored as a whole


@dataclass(frozen=True)
class Echo:
    """One reply: its probe's sequence number, the reflector's receive time (its clock) and our arrival time."""

    seq: int
    server_recv_ns: int
    arrival_ns: int


@dataclass(frozen=True)
class LegScore:
    """One direction of the call, as an RTP receiver at its end would score it.

    packets counts every copy that arrived, duplicates included; loss holds the engine's loss figures over all
    packets of the call (lost = the round trip's, see the module docstring; discarded = arrived, but after the
    jitter buffer's playout time). Jitter figures are RFC 3550 J in ms: its mean over the call (what the policy
    reads, as tshark's "mean jitter"), its maximum and its value at the end; None with fewer than two packets.
    jitter_buffer_ms is the adaptive buffer's playout delay at the end of the call; one_way_delay_ms the
    mouth-to-ear delay the E-model was given (None when no RTT was measured: then a listening MOS)."""

    direction: str  # "upstream" (home -> server) or "downstream" (server -> home)
    packets: int
    duplicates: int
    reordered: int
    loss: LossFigures
    jitter_ms: float | None
    jitter_max_ms: float | None
    jitter_last_ms: float | None
    jitter_buffer_ms: float
    one_way_delay_ms: float | None
    r_factor: float
    mos: float
    mos_kind: str  # "conversational", or "listening" when no delay was known

    @property
    def burst_loss_pct(self) -> float:
        return 100.0 * self.loss.burst_density


@dataclass(frozen=True)
class SyntheticCallResult:
    """A synthetic G.711 call. Loss is the round trip's (the module docstring says why); rtt_ms is the median
    round trip; jitter_ms, burst_loss_pct, r_factor, mos and mos_kind are the worse leg's (`worse`: the leg
    with the lower MOS), jitter the larger of the two. rtt_ms and jitter_ms are None only when no reply came
    back in time. round_trip holds the latency probe's figures of the same packets."""

    duration_s: float
    packets_sent: int
    packets_received: int  # distinct packets back in time
    loss_pct: float
    burst_loss_pct: float
    rtt_ms: float | None
    jitter_ms: float | None
    jitter_up_ms: float | None
    jitter_down_ms: float | None
    r_factor: float
    mos: float
    mos_kind: str
    codec: str
    worse: str
    upstream: LegScore
    downstream: LegScore
    round_trip: LatencyResult


def score_call(send_ns: Sequence[int], echoes: Sequence[Echo], *,
               reply_timeout_s: float = REPLY_TIMEOUT_S) -> SyntheticCallResult:
    """Score a call from the send time of each packet (index: sequence number, our monotonic clock, ns) and
    the replies in arrival order (duplicates and replies to unknown sequence numbers welcome: they are counted
    or ignored as an RTP receiver would)."""
    if not send_ns:
        raise ValueError("a call needs at least one packet sent")
    sent = len(send_ns)
    timeout_ns = reply_timeout_s * 1e9
    in_time = [e for e in echoes if 0 <= e.seq < sent and e.arrival_ns - send_ns[e.seq] <= timeout_ns]
    round_trip = summarize(list(send_ns), [(e.seq, e.arrival_ns) for e in echoes if 0 <= e.seq < sent],
                           reply_timeout_s=reply_timeout_s, interval_s=PACKET_S, size_bytes=G711_SIZE)
    # Upstream: one arrival per copy the reflector received; copies of one reply (same reflector timestamp)
    # were duplicated on the way back, not on the way there.
    upstream_transits = sorted({(e.seq, e.server_recv_ns - send_ns[e.seq]) for e in in_time})
    downstream_transits = [(e.seq, e.arrival_ns - e.server_recv_ns) for e in in_time]
    rtt_ms = round_trip.rtt_median_ms
    upstream = score_leg("upstream", sent, upstream_transits, rtt_ms)
    downstream = score_leg("downstream", sent, downstream_transits, rtt_ms)
    worse = min((upstream, downstream), key=lambda leg: leg.mos)  # upstream on a tie
    jitters = [leg.jitter_ms for leg in (upstream, downstream) if leg.jitter_ms is not None]
    return SyntheticCallResult(
        duration_s=round_trip.duration_s, packets_sent=sent, packets_received=round_trip.received,
        loss_pct=round_trip.loss_pct, burst_loss_pct=worse.burst_loss_pct, rtt_ms=rtt_ms,
        jitter_ms=max(jitters) if jitters else None, jitter_up_ms=upstream.jitter_ms,
        jitter_down_ms=downstream.jitter_ms, r_factor=worse.r_factor, mos=worse.mos, mos_kind=worse.mos_kind,
        codec=CODEC, worse=worse.direction, upstream=upstream, downstream=downstream, round_trip=round_trip)


def score_leg(direction: str, sent: int, transits: Sequence[tuple[int, int]], rtt_ms: float | None) -> LegScore:
    """Score one leg from (sequence number, one-way transit ns) per packet copy that crossed it, of `sent`
    packets 20 ms apart. Transits may carry any constant offset (another host's clock)."""
    stream = RtpStream(0, ("synthetic", direction), 0.0, _SIGNALLED, _ONE_WINDOW_S)
    if transits:
        base_ns = min(transit for _, transit in transits)
        arrivals = sorted((seq * PACKET_S + (transit - base_ns) / 1e9, seq) for seq, transit in transits)
        for arrival_s, seq in arrivals:
            stream.add(arrival_s, False, PAYLOAD_TYPE, seq & 0xFFFF, (seq * SAMPLES_PER_PACKET) & 0xFFFFFFFF,
                       PAYLOAD_BYTES)
        stream.finish()  # (a stream that never had a packet cannot settle its format: nothing to finish)
    loss = loss_figures(_call_loss_map(stream, sent, {seq for seq, _ in transits}), PACKET_MS)
    jitter, buffer, tracker = stream.jitter, stream.jitter_buffer, stream.sequence
    buffer_ms = buffer.current_delay_ms if buffer is not None else 0.0
    delay_ms = emodel.mouth_to_ear_ms(rtt_ms, buffer_ms, PACKET_MS)
    scored = emodel.score(CODEC, loss.effective_loss_pct, burst_r=loss.burst_ratio, one_way_delay_ms=delay_ms)
    assert scored is not None  # G.711 is in the E-model's codec table
    updated = jitter is not None and jitter.count > 0
    return LegScore(
        direction=direction, packets=stream.packets, duplicates=tracker.duplicates if tracker else 0,
        reordered=tracker.reordered if tracker else 0, loss=loss,
        jitter_ms=jitter.mean_ms if updated else None, jitter_max_ms=jitter.max_ms if updated else None,
        jitter_last_ms=jitter.jitter_ms if updated else None, jitter_buffer_ms=buffer_ms,
        one_way_delay_ms=delay_ms, r_factor=scored.r_factor, mos=scored.mos, mos_kind=scored.kind)


def _call_loss_map(stream: RtpStream, sent: int, received: set[int]) -> bytes:
    """One byte per packet of the call (MISSING, RECEIVED, DISCARDED). The engine's map runs from the first to
    the last packet that arrived; a call knows what it sent, so losses before and after count too."""
    tracker = stream.sequence
    if tracker is not None and tracker.resets == 0:
        first, last = min(received), max(received)
        engine_map = tracker.loss_map()
        if len(engine_map) == last - first + 1:
            return bytes(first) + engine_map + bytes(sent - 1 - last)
    # No packet at all, or more than RFC 3550's MAX_DROPOUT (3,000 packets: a minute) lost in a row, which the
    # engine takes for a sender restarting its sequence: the map from the sequence numbers, discards unknown.
    flags = bytearray([MISSING]) * sent
    for seq in received:
        flags[seq] = RECEIVED
    return bytes(flags)

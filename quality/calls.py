"""Calls, not only streams: live RTP streams grouped into calls, with a sample per 10-second window and per end.

Pure: header frames and times in, samples out; the clock is whatever the caller passes, so tests drive it with
packet times. A call is both directions of one media session: the streams SIP/SDP bound to one Call-ID (kept only
as a salted hash), or, without signalling (WebRTC), the streams between the same two endpoints either way. A call
starts with its first media and ends on SIP BYE, RTCP BYE for all its streams, or when its media has been idle.

Direction is seen from this machine: inbound streams are measured here as they arrive ("capture"); an outbound
stream leaves from here undamaged, so its quality is what the far end says in RTCP receiver reports ("rtcp"),
and without such reports it is reported with no quality figures rather than a perfect score it never earned.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from homeshore.quality import repair, scoring, sip
from homeshore.quality.analyzer import WINDOW_S, Analyzer
from homeshore.quality.results import StreamResult, WindowResult, rounded
from homeshore.quality.stream import RtpStream

IDLE_TIMEOUT_S = 30.0  # no media for this long: the call is over (a hold longer than this starts a new call)
LATE_PACKET_S = 1.0  # windows close this long after their end, so packets stamped just before still count
TREND_WINDOWS = 12  # the last two minutes of window MOS, for the trend column

INBOUND, OUTBOUND = "inbound", "outbound"
FROM_CAPTURE, FROM_RTCP = "capture", "rtcp"
WINDOW, END = "window", "end"


@dataclass(frozen=True)
class CallSample:
    """One direction of one call over one window (phase "window") or its whole life (phase "end").
    Fields follow DESIGN.md's `homeshore calls --json` contract; figures a source cannot give are None."""

    phase: str
    time_s: float  # Unix time: the window's start, or the stream's last packet for "end"
    call: str  # salted hash: never a Call-ID, number or address
    direction: str
    source: str
    ssrc: int
    codec: str
    packets: int
    lost: int | None  # in this window, or over the whole stream for "end"
    lost_total: int | None
    loss_pct: float | None
    jitter_ms: float | None
    jitter_max_ms: float | None
    rtt_ms: float | None
    r_factor: float | None
    mos: float | None
    clock_hz: int | None  # the codec's RTP clock (from SDP, the static table, or inferred)
    mos_model: str | None = None  # "g107" or "g107.1" (wideband codecs): which E-model scored r_factor and mos
    mos_note: str | None = None  # why mos is None although a model applies ("AMR-WB mode unknown ..."), or is a floor


@dataclass(frozen=True)
class DirectionView:
    """What `homeshore calls` shows for one direction of a call in progress."""

    direction: str
    source: str
    ssrc: int
    codec: str
    packets: int
    loss_pct: float | None
    jitter_ms: float | None
    mos: float | None
    trend_mos: tuple[float | None, ...]


@dataclass(frozen=True)
class CallView:
    call: str
    started_s: float
    directions: tuple[DirectionView, ...]


@dataclass(frozen=True)
class CallSummary:
    """A call that ended: why, when, and its streams' final figures (their "end" samples)."""

    call: str
    started_s: float
    ended_s: float
    reason: str  # "sip-bye", "rtcp-bye" or "idle"
    samples: tuple[CallSample, ...]


class _Leg:
    """Bookkeeping for one stream of a call."""

    __slots__ = ("stream", "call", "direction", "trend", "far_end_lost")

    def __init__(self, stream: RtpStream, call: str, direction: str):
        self.stream = stream
        self.call = call
        self.direction = direction
        self.trend: deque[float | None] = deque(maxlen=TREND_WINDOWS)
        self.far_end_lost = 0  # cumulative loss of the last receiver report already reported in a window


class CallTracker:
    """Feed it header frames (`add_frame`) and the time (`tick`); it returns samples and the calls that ended."""

    def __init__(self, local_addresses: frozenset[bytes], *, salt: bytes | None = None, window_s: float = WINDOW_S,
                 idle_timeout_s: float = IDLE_TIMEOUT_S):
        self.local_addresses = local_addresses
        self.idle_timeout_s = idle_timeout_s
        self.analyzer = Analyzer(window_s=window_s, salt=salt, on_window=self._on_window,
                                 local_addresses=local_addresses)
        self._legs: dict[int, _Leg] = {}  # id(stream) -> leg
        self._started: dict[str, float] = {}  # call -> first media
        self._samples: list[CallSample] = []
        self.ended: list[CallSummary] = []
        self.fragments = 0  # RTP-like flows too short to be a call, dropped
        self._rtt_by_call: dict[str, float] = {}

    def add_frame(self, time_s: float, linktype: int, frame: bytes) -> None:
        self.analyzer.add_snapped_frame(time_s, linktype, frame)

    def tick(self, now_s: float) -> list[CallSample]:
        """Close the windows that are over, end the calls that are over; the samples made since the last tick,
        in order. Summaries of ended calls are appended to `ended`."""
        self.analyzer.advance(now_s - LATE_PACKET_S)
        self._end_calls(now_s)
        samples, self._samples = self._samples, []
        return samples

    def close(self, now_s: float) -> list[CallSample]:
        """Capture is stopping: every call in progress ends now."""
        self.analyzer.advance(now_s - LATE_PACKET_S)
        for call in {self._leg(stream).call for stream in self._call_streams()}:
            self._end_call(call, "capture stopped", now_s)
        self._forget_fragments()
        samples, self._samples = self._samples, []
        return samples

    # --- the live view -------------------------------------------------------------------------------------
    def calls_in_progress(self) -> list[CallView]:
        by_call: dict[str, list[DirectionView]] = {}
        for stream in self._call_streams():
            leg = self._leg(stream)
            if not repair.is_repair(stream.codec):
                by_call.setdefault(leg.call, []).append(self._view(leg))
        return [
            CallView(call, self._started.get(call, 0.0), tuple(sorted(views, key=lambda v: v.direction)))
            for call, views in sorted(by_call.items(), key=lambda item: self._started.get(item[0], 0.0))
        ]

    def _view(self, leg: _Leg) -> DirectionView:
        stream = leg.stream
        if leg.direction == OUTBOUND:
            far_end = stream.far_end
            loss_pct = far_end.fraction_lost_pct if far_end else None
            jitter_ms = far_end.jitter_ms if far_end else None
            mos = leg.trend[-1] if leg.trend else None
            source = FROM_RTCP if far_end else FROM_CAPTURE
        else:
            # Refreshed every second for hour-long calls: counts only (the burst analysis of the whole stream
            # is for windows and the end); a full score only before the first window, while the stream is short.
            tracker = stream.sequence
            loss_pct = round(100.0 * tracker.lost / tracker.expected, 2) if tracker and tracker.expected else 0.0
            jitter_ms = stream.jitter.jitter_ms if stream.jitter else None
            mos = leg.trend[-1] if leg.trend else stream.score(stream.loss()).mos
            source = FROM_CAPTURE
        return DirectionView(leg.direction, source, stream.ssrc, stream.codec, stream.packets, loss_pct, jitter_ms, mos,
                             tuple(leg.trend))

    # --- grouping --------------------------------------------------------------------------------------------
    def _leg(self, stream: RtpStream) -> _Leg:
        leg = self._legs.get(id(stream))
        if leg is None:
            src, sport, dst, dport, _channel = stream.flow
            analyzer = self.analyzer
            call = analyzer.call_of_endpoint.get((dst, dport)) or analyzer.call_of_endpoint.get((src, sport))
            if call is None:  # no signalling seen: the media session is the pair of endpoints, either way round
                low, high = sorted((src + sport.to_bytes(2, "big"), dst + dport.to_bytes(2, "big")))
                call = sip.call_key(low + high, analyzer.salt)
            direction = OUTBOUND if src in self.local_addresses and dst not in self.local_addresses else INBOUND
            leg = self._legs[id(stream)] = _Leg(stream, call, direction)
            self._started.setdefault(call, stream.start_s)
        return leg

    def _call_streams(self) -> list[RtpStream]:
        """Streams out of probation: confirmed as RTP, codec and clock rate known (0.64 s of media at 50/s). A
        flow that never gets there (a few packets straggling after a BYE, a burst of noise) is not a call."""
        return [s for s in self.analyzer.unique_streams() if s.pending is None]

    # --- samples ---------------------------------------------------------------------------------------------
    def _on_window(self, stream: RtpStream, window: WindowResult) -> None:
        if repair.is_repair(stream.codec):
            return  # retransmissions and FEC: not the voice, so never a window of the call (repair.py)
        leg = self._leg(stream)
        sample = self._window_sample(leg, window)
        leg.trend.append(sample.mos)
        self._samples.append(sample)

    def _window_sample(self, leg: _Leg, window: WindowResult) -> CallSample:
        stream = leg.stream
        if leg.direction == OUTBOUND:
            return self._rtcp_sample(leg, WINDOW, window.start_s, window.packets)
        lost_total = stream.sequence.lost if stream.sequence else 0
        return CallSample(
            WINDOW, window.start_s, leg.call, leg.direction, FROM_CAPTURE, stream.ssrc, stream.codec, window.packets,
            window.loss.lost, lost_total, round(window.loss.loss_pct, 3), rounded(window.jitter_ms),
            rounded(window.jitter_max_ms), self._rtt_ms(leg.call), window.score.r_factor, window.score.mos,
            stream.clock_hz, window.score.mos_model, window.score.mos_note,
        )

    def _rtcp_sample(self, leg: _Leg, phase: str, time_s: float, packets: int) -> CallSample:
        """An outbound stream as the far end reports it; no report yet: no quality figures."""
        stream = leg.stream
        far_end = stream.far_end
        if far_end is None:
            return CallSample(phase, time_s, leg.call, OUTBOUND, FROM_CAPTURE, stream.ssrc, stream.codec, packets,
                              None, None, None, None, None, None, None, None, stream.clock_hz)
        lost = far_end.cumulative_lost if phase == END else max(0, far_end.cumulative_lost - leg.far_end_lost)
        leg.far_end_lost = far_end.cumulative_lost
        rtt_ms = self._rtt_ms(leg.call)
        delay_ms = None if rtt_ms is None else rtt_ms / 2 + stream.nominal_packet_ms
        score = scoring.score(stream.codec, far_end.fraction_lost_pct, one_way_delay_ms=delay_ms)
        return CallSample(
            phase, time_s, leg.call, OUTBOUND, FROM_RTCP, stream.ssrc, stream.codec, packets, lost,
            far_end.cumulative_lost, far_end.fraction_lost_pct, rounded(far_end.jitter_ms), None, rtt_ms,
            score.r_factor, score.mos, stream.clock_hz, score.mos_model, score.mos_note,
        )

    def _end_sample(self, leg: _Leg, result: StreamResult) -> CallSample:
        if leg.direction == OUTBOUND:
            return self._rtcp_sample(leg, END, result.last_time_s, result.packets)
        return CallSample(
            END, result.last_time_s, leg.call, leg.direction, FROM_CAPTURE, result.ssrc, result.codec, result.packets,
            result.loss.lost, result.loss.lost, round(result.loss.loss_pct, 3), rounded(result.jitter_last_ms),
            rounded(result.jitter_max_ms), self._rtt_ms(leg.call), result.score.r_factor, result.score.mos,
            result.clock_hz, result.score.mos_model, result.score.mos_note,
        )

    def _rtt_ms(self, call: str) -> float | None:
        """The call's round trip: from the far end's receiver reports about what this machine sends (the last
        known value while the call's streams are being ended one by one)."""
        rtts = [leg.stream.far_end.rtt_ms for leg in self._legs.values()
                if leg.call == call and leg.stream.far_end is not None and leg.stream.far_end.rtt_ms is not None]
        if rtts:
            self._rtt_by_call[call] = round(sum(rtts) / len(rtts), 3)
        return self._rtt_by_call.get(call)

    # --- endings ---------------------------------------------------------------------------------------------
    def _end_calls(self, now_s: float) -> None:
        analyzer = self.analyzer
        streams_by_call: dict[str, list[RtpStream]] = {}
        for stream in self._call_streams():
            streams_by_call.setdefault(self._leg(stream).call, []).append(stream)
        for call, streams in streams_by_call.items():
            if call in analyzer.ended_calls:
                self._end_call(call, "sip-bye", now_s)
            elif all(stream.ssrc in analyzer.bye_ssrcs for stream in streams):
                self._end_call(call, "rtcp-bye", now_s)
            elif all(stream.last_s < now_s - self.idle_timeout_s for stream in streams):
                self._end_call(call, "idle", now_s)
        analyzer.ended_calls.intersection_update(streams_by_call)  # a BYE for a call with no media here is moot
        self._forget_fragments(now_s)

    def _end_call(self, call: str, reason: str, now_s: float) -> None:
        samples = []
        ended_s = 0.0
        self._rtt_ms(call)  # while every leg is still there
        for stream in self._call_streams():
            leg = self._legs.get(id(stream))
            if leg is None or leg.call != call:
                continue
            result = self.analyzer.remove(stream)
            del self._legs[id(stream)]
            if result is not None and not repair.is_repair(result.codec):
                samples.append(self._end_sample(leg, result))
                ended_s = max(ended_s, result.last_time_s)
        self.analyzer.forget_call(call)
        self._rtt_by_call.pop(call, None)
        self._samples.extend(samples)
        self.ended.append(CallSummary(call, self._started.pop(call, ended_s), ended_s or now_s, reason, tuple(samples)))

    def _forget_fragments(self, now_s: float | None = None) -> None:
        """Flows that never left probation, once idle (or all of them when capture stops): bounded memory."""
        for stream in self.analyzer.unique_streams():
            if stream.pending is not None and (now_s is None or stream.last_s < now_s - self.idle_timeout_s):
                self.analyzer.remove(stream)
                self._legs.pop(id(stream), None)
                self.fragments += 1

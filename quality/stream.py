"""One RTP stream (5-tuple + SSRC): detection, clock rate, sequence, jitter, jitter buffer and 10-second windows.

Packets enter in arrival order as header fields. The first ones wait in a probation buffer: they confirm that the
flow is RTP at all (RTP found without signalling must show consistent sequence and timestamp steps), and they
decide the clock rate (signalled, static, or inferred, with a flag when they disagree) before any jitter is
computed. Then the buffer is replayed and later packets are accounted at once.
"""

from __future__ import annotations

import time
from typing import Final

from collections import Counter
from statistics import median

from homeshore.quality import amr_wb, bursts, emodel, emodel_wb, payload_bitrate, repair, scoring
from homeshore.quality.clock import infer_clock_hz, timeline
from homeshore.quality.codec_inference import infer_codec, unscored_reason
from homeshore.quality.codecs import (
    COMFORT_NOISE_PAYLOAD_TYPES,
    STATIC_PAYLOAD_TYPES,
    canonical_codec,
    is_comfort_noise_codec,
    is_event_codec,
)
from homeshore.quality.jitter import JitterMeter
from homeshore.quality.jitterbuffer import JitterBuffer, make_jitter_buffer
from homeshore.quality.results import FarEndReport, LossFigures, QualityScore, WindowResult
from homeshore.quality.sequence import (
    DUPLICATE,
    IN_ORDER,
    MAX_DROPOUT,
    MAX_MISORDER,
    MISSING,
    RESET,
    SEQ_MOD,
    STRAY,
    SequenceTracker,
)

PROBATION_PACKETS: Final = 32  # enough timestamp steps to infer a clock rate
# ... over enough time: arrival jitter of +-10 ms over 32 10-ms packets (0.31 s) moves the fitted rate by a few
# per cent, past the snap (clock.py). 20-ms packets span 0.62 s in 32, so only shorter packets wait longer.
PROBATION_MIN_S: Final = 0.6
MAX_PROBATION_PACKETS: Final = 256  # probation ends here however many of them were padding
CONFIRM_PACKETS: Final = 4  # consistent packets before an unsignalled flow counts as RTP
SILENCE_TS_STEPS: Final = 4  # a timestamp jump of more than this many packet steps with the next sequence number: silence
DYNAMIC_PT_MIN: Final = 96
VIDEO_CLOCK_HZ: Final = 90000  # RFC 3551 §5: every video payload format uses a 90 kHz clock
EVENT_PAYLOAD_BYTES: Final = 4  # RFC 4733 §2.3: one event is 4 bytes
FAX_SETTLE_S: Final = 1.0  # RTP still in order this long after a switch to T.38: this stream did not pause
SRTP_AUTH_TAG_BYTES: Final = 10  # RFC 3711 §5.2 HMAC-SHA1-80, WebRTC's: after the (encrypted) payload
PADDING: Final = -1  # the payload size a padding-only packet is recorded with

_PLAYED = bytes.maketrans(b"\x00\x01\x02", b"\x00\x01\x00")  # received map -> 1 for played, 0 for lost/discarded

# (arrival s since stream start, marker, payload type, sequence, timestamp, payload bytes or PADDING)
Packet = tuple[float, bool, int, int, int, int]


class RtpStream:
    __slots__ = (
        "ssrc",
        "flow",
        "signalled",
        "start_s",
        "last_s",
        "pending",
        "confirmed",
        "packets",
        "accounted",
        "event_packets",
        "comfort_noise_packets",
        "padding_packets",
        "_probation_padding",
        "_padding_run",
        "timestamp_jumps",
        "payload_type",
        "codec",
        "codec_source",
        "webrtc_flow",
        "clock_hz",
        "clock_source",
        "problems",
        "nominal_ts_step",
        "event_pts",
        "cn_pts",
        "sequence",
        "jitter",
        "jitter_buffer",
        "ts_ext",
        "_last_ts",
        "_last_seq",
        "_next_seq",
        "_silence_ts_step",
        "_window_end_s",
        "window_s",
        "windows",
        "_window_index",
        "_window_mark",
        "far_end",
        "on_window",
        "jitter_buffer_ms",
        "fax_since_s",
        "fmtp",
        "codec_mode_kbps",
        "repair_label",
        "media_kind",
        "plain_rtp",
        "codec_bitrate_kbps",
        "constant_bitrate",
    )

    def __init__(self, ssrc: int, flow, start_s: float, signalled: dict | None, window_s: float, on_window=None,
                 jitter_buffer_ms: float | None = None):
        self.ssrc = ssrc
        self.flow = flow  # opaque to the stream: the analyzer's description of where it came from
        self.signalled = signalled  # SDP rtpmap for this flow: pt -> (name, clock_hz, channels), or None
        self.start_s = start_s
        self.last_s = start_s
        self.pending: list[Packet] | None = []
        self.confirmed = signalled is not None
        self.packets = 0
        self.accounted = 0
        self.event_packets = 0
        self.comfort_noise_packets = 0
        self.padding_packets = 0
        self._probation_padding = 0  # padding-only packets among `pending`
        self._padding_run = 0  # padding-only packets received in order since the last media packet
        self.timestamp_jumps = 0
        self.payload_type = -1
        self.codec = "unknown"
        self.codec_source = "unknown"  # "sdp", "static", "inferred" or "unknown"
        self.webrtc_flow = False  # STUN or DTLS seen on this 5-tuple before the stream (set by the analyzer)
        self.clock_hz: int | None = None
        self.clock_source = "unknown"
        self.problems: list[str] = []
        self.nominal_ts_step = 0
        self.event_pts: frozenset[int] = frozenset()
        self.cn_pts: frozenset[int] = COMFORT_NOISE_PAYLOAD_TYPES
        self.sequence: SequenceTracker | None = None
        self.jitter: JitterMeter | None = None
        self.jitter_buffer: JitterBuffer | None = None  # made when the clock rate is known
        self.ts_ext = 0
        self._last_ts = 0
        self._last_seq = 0
        self._next_seq = -1  # the sequence number the fast path expects; -1 while it must not be taken
        self._silence_ts_step = 0
        self.window_s = window_s
        self.windows: list[WindowResult] = []
        self._window_index = int(start_s // window_s)
        self._window_end_s = (self._window_index + 1) * window_s
        self._window_mark = (0, 0, 0, 0)  # expected, packets accounted, duplicates, reordered at the window's start
        self.far_end: FarEndReport | None = None  # set by the analyzer from RTCP
        self.on_window = on_window
        self.jitter_buffer_ms = jitter_buffer_ms  # None: adaptive playout; else a fixed depth
        self.fax_since_s: float | None = None  # while set (Unix time of a switch to T.38), a gap is no loss
        self.fmtp: dict[int, str] = {}  # SDP a=fmtp for this flow: pt -> parameters (set by the analyzer)
        self.codec_mode_kbps: float | None = None  # AMR-WB: the mode sent (payload sizes) or signalled (mode-set)
        self.repair_label: str | None = None  # rtx or fec when SDP's a=ssrc-group names this SSRC (the analyzer)
        self.media_kind = "unknown"  # "audio" or "video", from the clock rate (RFC 3551 §5: video is 90 kHz)
        self.plain_rtp: bool | None = None  # SDP: RTP/AVP(F) True, an SRTP profile False; no SDP: None
        self.codec_bitrate_kbps: tuple[float, float] | None = None  # Opus: (lowest, highest), see _opus_bitrate
        self.constant_bitrate = False  # Opus: every payload of probation the same size (CBR)

    # --- arrival -------------------------------------------------------------------------------------------
    def add(self, arrival_s: float, marker: bool, payload_type: int, sequence: int, timestamp: int, size: int,
            padded: bool = False) -> None:
        """One packet; `padded`: its P bit (RFC 3550 §5.1), `size` its payload bytes without the padding."""
        self.packets += 1
        self.last_s = arrival_s
        if (sequence == self._next_seq and payload_type == self.payload_type and not marker and not padded
                and arrival_s < self._window_end_s):
            # Fast path, the bulk of every call: the next packet of a settled stream, same codec, same window, no
            # talkspurt start. It does exactly what _account does for such a packet.
            ts_step = (timestamp - self._last_ts) & 0xFFFFFFFF
            if ts_step <= self._silence_ts_step:
                tracker, jitter, buffer = self.sequence, self.jitter, self.jitter_buffer
                assert tracker is not None and jitter is not None and buffer is not None  # set with _next_seq
                ext = tracker.next_in_order()
                self.accounted += 1
                self.ts_ext = ts_ext = self.ts_ext + ts_step
                self._last_ts = timestamp
                self._last_seq = sequence
                self._padding_run = 0
                self._next_seq = (sequence + 1) & 0xFFFF
                arrival = arrival_s - self.start_s
                jitter.update(arrival, ts_ext)
                if not buffer.offer(arrival, ts_ext, False):
                    tracker.mark_discarded(ext)
                return
        pending = self.pending
        if padded and (size == 0 or timestamp == (pending[-1][4] if pending else self._last_ts)):
            # Padding only (a browser probing for bandwidth): no audio and no new timestamp. In SRTP the padding
            # count is encrypted, so the repeated timestamp is what tells it from a padded audio packet.
            size = PADDING
        if pending is not None:
            pending.append((arrival_s - self.start_s, marker, payload_type, sequence, timestamp, size))
            if size == PADDING:
                self._probation_padding += 1
            if not self.confirmed and len(pending) >= CONFIRM_PACKETS:
                if _consistent(pending):
                    self.confirmed = True
                elif len(pending) >= PROBATION_PACKETS:
                    # bounded memory while an RTP-looking flow fails to behave like RTP
                    if pending.pop(0)[5] == PADDING:
                        self._probation_padding -= 1
                    self.packets -= 1
            if self.confirmed and ((len(pending) - self._probation_padding >= PROBATION_PACKETS
                                    and pending[-1][0] - pending[0][0] >= PROBATION_MIN_S)
                                   or len(pending) >= MAX_PROBATION_PACKETS):
                self._settle()  # (padding says nothing of the clock: probation counts media packets)
            return
        self._account(arrival_s - self.start_s, marker, payload_type, sequence, timestamp, size)

    def _settle(self) -> None:
        """End of probation: choose payload type, codec and clock rate, then replay the buffered packets."""
        pending = self.pending
        assert pending is not None
        self.pending = None
        self._choose_format(pending)
        for packet in pending:
            self._account(*packet)

    def _choose_format(self, pending: list[Packet]) -> None:
        signalled = self.signalled or {}
        event_pts = {pt for pt, fmt in signalled.items() if is_event_codec(fmt[0])}
        cn_pts = set(COMFORT_NOISE_PAYLOAD_TYPES) | {pt for pt, fmt in signalled.items() if is_comfort_noise_codec(fmt[0])}
        media = [p for p in pending if p[5] != PADDING]
        padding_only = not media
        if padding_only:
            self.problems.append("padding only (bandwidth probes): no audio")
            media = pending
        counts = Counter(p[2] for p in media if p[2] not in event_pts and p[2] not in cn_pts)
        if not counts:  # only events (or comfort noise) in the capture
            counts = Counter(p[2] for p in media)
        main_pt = counts.most_common(1)[0][0]
        # RFC 4733 events without SDP: another dynamic payload type, 4-byte payloads, beside an audio stream.
        for pt in counts:
            if pt != main_pt and all(self._is_event(pt, p[5]) for p in media if p[2] == pt):
                event_pts.add(pt)
        main_packets = [p for p in media if p[2] == main_pt]
        repeats = sum(1 for a, b in zip(main_packets, main_packets[1:]) if a[4] == b[4])
        if all(self._is_event(main_pt, p[5]) for p in main_packets) and 2 * repeats >= len(main_packets) - 1:
            event_pts.add(main_pt)  # RFC 4733 §2.5: one timestamp for all packets of an event
        self.event_pts = frozenset(event_pts)
        self.cn_pts = frozenset(cn_pts)
        self.payload_type = main_pt

        if main_pt in signalled:
            name, clock_hz, _channels = signalled[main_pt]
            self.codec, stated, source = canonical_codec(name), clock_hz, "sdp"
        elif main_pt in STATIC_PAYLOAD_TYPES:
            fmt = STATIC_PAYLOAD_TYPES[main_pt]
            self.codec, stated, source = fmt.codec, fmt.clock_hz, "static"
        else:
            self.codec, stated, source = f"PT{main_pt}", None, "unknown"
        if main_pt in event_pts:
            self.problems.append("telephone-event only: the audio of this SSRC is not in the capture")

        steps = []
        for before, after in zip(media, media[1:]):
            if after[2] == before[2] == main_pt and after[3] == (before[3] + 1) & 0xFFFF and not after[1]:
                step = (after[4] - before[4]) & 0xFFFFFFFF
                if step:
                    steps.append(step)
        self.nominal_ts_step = int(median(steps)) if steps else 0
        inferred = infer_clock_hz(timeline([(p[0], p[3], p[4]) for p in main_packets]))
        if stated is not None and (inferred is None or inferred == stated):
            self.clock_hz, self.clock_source = stated, source
        elif inferred is not None:
            self.clock_hz, self.clock_source = inferred, "inferred"
            if stated is not None:
                self.problems.append(f"clock mismatch: {source} says {stated} Hz, timestamps step at {inferred} Hz")
        if source != "unknown":
            self.codec_source = source
        elif self.clock_hz:
            guessed = infer_codec(main_pt, self.clock_hz, self.nominal_ts_step, self.webrtc_flow)
            if guessed is not None:
                self.codec, self.codec_source = guessed, "inferred"
        self._label_repair(source, padding_only)
        if self.clock_hz:
            self.media_kind = "video" if self.clock_hz == VIDEO_CLOCK_HZ else "audio"
        if self.codec == "AMR-WB":
            # What was sent (the payload sizes of probation) over what was allowed (a mode-set of one).
            self.codec_mode_kbps = amr_wb.dominant_mode([p[5] for p in main_packets]) or amr_wb.mode_from_fmtp(
                self.fmtp.get(main_pt, ""))
        if self.codec == "opus" and self.clock_hz:
            self._opus_bitrate(main_packets, self.clock_hz)
        unscored = unscored_reason(self.codec)
        if unscored is not None:
            self.problems.append(unscored)
        if self.clock_hz and not repair.is_repair(self.codec):  # a repair stream's timestamps are not its own
            self.jitter = JitterMeter(self.clock_hz)
            self.jitter_buffer = make_jitter_buffer(self.jitter_buffer_ms, self.clock_hz)
            audio = self.clock_hz < VIDEO_CLOCK_HZ and self.nominal_ts_step
            self._silence_ts_step = SILENCE_TS_STEPS * self.nominal_ts_step if audio else 0x7FFFFFFF

    def _opus_bitrate(self, packets: list[Packet], clock_hz: int) -> None:
        """Opus's bitrate from the payload sizes of probation (payload_bitrate.py). Under SRTP the payload ends in
        an authentication tag whose length the headers do not say: 4 or 10 bytes (RFC 5764 §4.1.2) or 16 (AEAD,
        RFC 7714) on a WebRTC flow, none on plain RTP; so the bitrate is a range, (tag 16, tag 0 or 4)."""
        media = [(p[3], p[4], p[5]) for p in packets if p[5] != PADDING]
        tags = (0, 0) if self.plain_rtp else (16, 4) if self.plain_rtp is False or self.webrtc_flow else (16, 0)
        low = payload_bitrate.consecutive_bitrate_kbps(media, clock_hz, tags[0])
        high = payload_bitrate.consecutive_bitrate_kbps(media, clock_hz, tags[1])
        if low is not None and high is not None:
            self.codec_bitrate_kbps = (low, high)
            self.constant_bitrate = len({size for _seq, _ts, size in media}) == 1

    def _label_repair(self, source: str, padding_only: bool) -> None:
        """rtx, fec or red (repair.py): by its SDP encoding name, by an SDP a=ssrc-group naming this SSRC, or, with
        no signalling, a padding-only stream on a WebRTC flow (a bandwidth probe on the sender's RTX SSRC)."""
        label = repair.label_of_encoding(self.codec) if source == "sdp" else None
        if label is None and self.repair_label is not None:
            label, source = self.repair_label, "sdp"
        if label is None and source == "unknown" and padding_only and self.webrtc_flow:
            label, source = repair.RTX, "inferred"
        if label is not None:
            self.codec, self.codec_source = label, source

    # --- accounting ----------------------------------------------------------------------------------------
    def _account(self, arrival: float, marker: bool, payload_type: int, seq: int, timestamp: int, size: int) -> None:
        window_index = int((self.start_s + arrival) // self.window_s)
        if window_index > self._window_index:  # (a packet stamped before a window live capture closed joins the next)
            self._close_window(window_index)
        self.accounted += 1
        tracker = self.sequence
        if tracker is None:
            tracker = self.sequence = SequenceTracker(seq)
            kind, ext = IN_ORDER, seq
            self._last_ts = timestamp
            self._last_seq = seq
        elif self.fax_since_s is not None:
            kind, ext = self._after_fax(tracker, arrival, seq, marker)
        else:
            kind, ext = tracker.update(seq, marker)
        if kind == DUPLICATE or kind == STRAY:
            # A duplicate must not count twice in jitter (Wireshark lets it). When it re-delivers the newest packet,
            # its later arrival becomes the transit reference: the copy a receiver would still be holding (this
            # also gives rtpproxy's figure on rtpproxy_dups.a, where the first copy came 19 ms early).
            if kind == DUPLICATE and ext == tracker.max_ext and self.jitter is not None and payload_type == self.payload_type:
                self.jitter.rereference(arrival, self.ts_ext)
            return
        if size == PADDING:
            # It took a sequence number, so it counts as received for loss; it carries nothing to time or play.
            self.padding_packets += 1
            if kind == IN_ORDER and ext == tracker.max_ext:
                self._padding_run += 1
                if self.jitter is not None:
                    self._next_seq = (seq + 1) & 0xFFFF
            return
        if payload_type != self.payload_type and payload_type not in self.cn_pts and self._is_event(payload_type, size):
            self.event_pts = self.event_pts | {payload_type}
        if payload_type in self.event_pts:
            self.event_packets += 1
            return
        if payload_type in self.cn_pts:
            self.comfort_noise_packets += 1
            if self.jitter is not None:
                self.jitter.restart()
            return
        jitter, buffer, clock_hz = self.jitter, self.jitter_buffer, self.clock_hz
        if jitter is None:
            return
        assert buffer is not None and clock_hz is not None  # made with the jitter meter
        ts_step = (timestamp - self._last_ts) & 0xFFFFFFFF
        if ts_step >= 0x80000000:
            ts_step -= 0x100000000
        new_talkspurt = False
        if kind == RESET or (kind == IN_ORDER and ts_step < 0):
            # A new segment, or a timestamp that went back while the sequence went on (a gateway switching
            # timelines, e.g. around a T.38 fax): no transit difference across it means anything.
            if kind != RESET:
                self.timestamp_jumps += 1
            self.ts_ext = 0
            jitter.restart()
            buffer.resync()
            new_talkspurt = True
        else:
            self.ts_ext += ts_step
            if marker and clock_hz < VIDEO_CLOCK_HZ:
                # Audio: the marker starts a talkspurt after silence (RFC 3551 §4.1): no transit across the gap.
                # (Video sets it on the last packet of a frame, RFC 3551 §5.1, which says nothing about silence.)
                jitter.restart()
                new_talkspurt = True
            elif (
                kind == IN_ORDER
                and seq == (self._last_seq + 1 + self._padding_run) & 0xFFFF
                and self.nominal_ts_step
                and clock_hz < VIDEO_CLOCK_HZ
                and ts_step > SILENCE_TS_STEPS * self.nominal_ts_step
            ):
                jitter.restart()  # silence suppression without a marker bit
                new_talkspurt = True
        self._last_ts = timestamp
        self._last_seq = seq
        self._padding_run = 0
        if kind == IN_ORDER and ext == tracker.max_ext and self.fax_since_s is None:
            self._next_seq = (seq + 1) & 0xFFFF
        jitter.update(arrival, self.ts_ext)
        if not buffer.offer(arrival, self.ts_ext, new_talkspurt):
            tracker.mark_discarded(ext)

    def switch_to_fax(self, time_s: float) -> None:
        """The call switched to T.38 fax (a 2xx answer with `m=image ... udptl t38`, ITU-T T.38 Annex D) at `time_s`:
        the RTP may stop until the call switches back, and the sequence numbers it skips meanwhile are no loss.
        Packets take the slow path until that is settled (a gap after the switch, or RTP still flowing)."""
        if self.fax_since_s is None:
            self.fax_since_s = time_s
            self._next_seq = -1
            self.problems.append(f"switched to T.38 fax at {time.strftime('%H:%M:%S', time.gmtime(time_s))} UTC")

    def _after_fax(self, tracker: SequenceTracker, arrival: float, seq: int, marker: bool) -> tuple[int, int]:
        since_s = self.fax_since_s
        assert since_s is not None
        step = (seq - tracker.max_ext) & 0xFFFF
        if self.start_s + arrival >= since_s and 1 < step < SEQ_MOD - MAX_MISORDER:
            self.fax_since_s = None  # RTP back after the fax phase: a new segment, the skipped numbers not lost
            return RESET, tracker.resume(seq)
        if self.start_s + arrival >= since_s + FAX_SETTLE_S:
            self.fax_since_s = None  # still in order well after the switch: this stream never paused
        return tracker.update(seq, marker)

    def _is_event(self, payload_type: int, size: int) -> bool:
        """RFC 4733 events without SDP: another dynamic payload type carrying 4-byte event records, at any clock
        rate (WebRTC sends telephone-event/48000), in clear or in SRTP with its 10-byte authentication tag."""
        if size % EVENT_PAYLOAD_BYTES:
            size -= SRTP_AUTH_TAG_BYTES
        return payload_type >= DYNAMIC_PT_MIN and size % EVENT_PAYLOAD_BYTES == 0 and 0 < size <= 16

    def _close_window(self, next_index: int) -> None:
        tracker = self.sequence
        if tracker is not None and self.accounted > self._window_mark[1]:  # (a live stream gone quiet: no sample)
            expected_before, accounted_before, duplicates_before, reordered_before = self._window_mark
            loss = loss_figures(tracker.loss_map_from(expected_before), self.nominal_packet_ms)
            jitter = self.jitter
            window = WindowResult(
                start_s=self._window_index * self.window_s,
                duration_s=self.window_s,
                packets=self.accounted - accounted_before,
                duplicates=tracker.duplicates - duplicates_before,
                reordered=tracker.reordered - reordered_before,
                loss=loss,
                jitter_ms=jitter.jitter_ms if jitter is not None and jitter.count else None,
                jitter_max_ms=jitter.start_window() if jitter is not None else None,
                score=self.score(loss),
            )
            self.windows.append(window)
            if self.on_window is not None:
                self.on_window(self, window)
            self._window_mark = (tracker.expected, self.accounted, tracker.duplicates, tracker.reordered)
        self._window_index = next_index
        self._window_end_s = (next_index + 1) * self.window_s

    # --- results -------------------------------------------------------------------------------------------
    @property
    def nominal_packet_ms(self) -> float:
        if self.clock_hz and self.nominal_ts_step:
            return 1000.0 * self.nominal_ts_step / self.clock_hz
        return 20.0

    def advance(self, now_s: float) -> None:
        """Live capture: close the current window once `now_s` (Unix time) has passed its end, even if no packet
        came since. A stream still in probation has no windows yet."""
        if self.pending is None and now_s >= self._window_end_s:
            self._close_window(int(now_s // self.window_s))

    def finish(self) -> None:
        """End of capture or of the stream: settle a short stream and close its last window."""
        if self.pending is not None:
            if not self.confirmed:
                return
            self._settle()
        self._close_window(self._window_index + 1)

    def loss(self) -> LossFigures:
        tracker = self.sequence
        return loss_figures(tracker.loss_map() if tracker else b"", self.nominal_packet_ms)

    def score(self, loss: LossFigures) -> QualityScore:
        # Video is no voice; Opus goes to the wideband model, which says why it has no MOS, or that it is a
        # floor (mos_note).
        if not loss.expected or self.codec == "unknown" or (
                unscored_reason(self.codec) is not None and not emodel_wb.is_wideband(self.codec)):
            return QualityScore(None, None, "unknown")
        buffer_ms = self.jitter_buffer.current_delay_ms if self.jitter_buffer else 0.0
        delay_ms = emodel.mouth_to_ear_ms(self.far_end.rtt_ms if self.far_end is not None else None, buffer_ms,
                                          self.nominal_packet_ms)
        return scoring.score(self.codec, loss.effective_loss_pct, burst_r=loss.burst_ratio, one_way_delay_ms=delay_ms,
                             mode_kbps=self.codec_mode_kbps, bitrate_kbps=self.codec_bitrate_kbps,
                             constant_bitrate=self.constant_bitrate)


def loss_figures(loss_map: bytes, packet_ms: float) -> LossFigures:
    expected = len(loss_map)
    lost = loss_map.count(MISSING)
    discarded = loss_map.count(2)
    if not expected:
        return LossFigures(0, 0, 0, 0.0, 0.0, 0.0, 1.0)
    played = loss_map.translate(_PLAYED)
    pattern = bursts.loss_pattern(played, packet_ms)
    return LossFigures(
        expected=expected,
        lost=lost,
        discarded=discarded,
        burst_density=pattern.burst_density,
        gap_density=pattern.gap_density,
        mean_burst_packets=pattern.mean_burst_packets,
        burst_ratio=bursts.burst_ratio(played),
        loss_runs=pattern.consecutive_loss_histogram,
    )


def _consistent(packets: list[Packet]) -> bool:
    """RTP without signalling: the recent packets of one SSRC step forward in sequence (by less than RFC 3550's
    MAX_DROPOUT, so heavy loss still confirms) and in timestamp, CONFIRM_PACKETS - 1 times; exact duplicates are
    passed over (some captures hold every packet twice). Random bytes that merely start with version 2 almost
    never repeat an SSRC, let alone with ordered sequence numbers."""
    steps = 0
    for before, after in zip(packets, packets[1:]):
        seq_step = (after[3] - before[3]) & 0xFFFF
        ts_step = (after[4] - before[4]) & 0xFFFFFFFF
        if seq_step == 0 and ts_step == 0:
            continue
        if not 0 < seq_step < MAX_DROPOUT or ts_step >= 0x80000000 or ts_step > 10 * 90000:
            steps = 0
            continue
        steps += 1
    return steps >= CONFIRM_PACKETS - 1

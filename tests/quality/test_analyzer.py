"""The engine end to end (Analyzer.add_udp / add_frame / finish): synthetic streams whose every figure is known in
advance, built byte by byte in synthetic.py, and damaged or foreign input that must never raise.

The reference figures are computed here, independently of homeshore: loss from the sequence numbers the test sent,
jitter from a plain RFC 3550 A.8 loop over the arrival times and timestamps the test chose.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from homeshore.quality.analyzer import MAX_CANDIDATES, Analyzer
from homeshore.quality.capture import analyze_capture
from homeshore.quality.export import stream_dict
from homeshore.quality.rtcp import ntp_middle32
from tests.quality.synthetic import (
    dtls_record,
    report_block,
    rtcp_rr,
    rtcp_sr,
    rtp_header_len,
    rtp_packet,
    stun_binding_request,
    telephone_event,
    turn_channel_data,
    udp_frame,
    write_pcap,
)

SRC_IP, DST_IP = "192.0.2.10", "198.51.100.20"
SRC, DST = socket.inet_aton(SRC_IP), socket.inet_aton(DST_IP)
SPORT, DPORT = 40000, 50000
T0 = 1_700_000_000.0
SALT = bytes(16)
SSRC = 0x5EED1234
WRAP_TS = 1 << 32
CONFIRMED_AFTER = 8  # an unsignalled flow is RTP once 4 packets step consistently; leave a margin before damage


def run(datagrams, *, as_frames: bool = False, **analyzer_args) -> tuple[Analyzer, list]:
    """Feed (time_s, payload) on the test's one flow, or full (time_s, src, sport, dst, dport, payload) tuples, as
    UDP payloads (`add_udp`, live capture) or as Ethernet frames (`add_frame`, capture files)."""
    analyzer = Analyzer(salt=SALT, **analyzer_args)
    for item in datagrams:
        time_s, src, sport, dst, dport, payload = (item[0], SRC, SPORT, DST, DPORT, item[1]) if len(item) == 2 else item
        if as_frames:
            frame = udp_frame(socket.inet_ntoa(src), sport, socket.inet_ntoa(dst), dport, payload)
            analyzer.add_frame(time_s, 1, frame)
        else:
            analyzer.add_udp(time_s, src, sport, dst, dport, payload)
    return analyzer, analyzer.finish()


def one_stream(results, ssrc: int = SSRC):
    matching = [r for r in results if r.ssrc == ssrc]
    assert len(matching) == 1, [(hex(r.ssrc), r.src, r.packets) for r in results]
    return matching[0]


def a8_jitter_ms(arrivals_s, timestamps, clock_hz, talkspurt_starts=()) -> tuple[float, float]:
    """RFC 3550 A.8 in arrival order over unwrapped timestamps: (max J, last J) in ms. J is not updated for a packet
    in `talkspurt_starts` (indices): no transit difference across silence (RFC 3550 §6.4.1, RFC 3551 §4.1)."""
    jitter = jitter_max = 0.0
    for i in range(1, len(arrivals_s)):
        if i in talkspurt_starts:
            continue
        d = (arrivals_s[i] - arrivals_s[i - 1]) * clock_hz - (timestamps[i] - timestamps[i - 1])
        jitter += (abs(d) - jitter) / 16
        jitter_max = max(jitter_max, jitter)
    return 1000 * jitter_max / clock_hz, 1000 * jitter / clock_hz


def g711_stream(count: int, *, seq0: int = 1000, ts0: int = 5000, t0: float = T0) -> list[tuple[float, bytes]]:
    """(arrival_s, packet) of `count` PCMA packets, 20 ms apart, no network delay variation."""
    return [(t0 + 0.02 * n, rtp_packet(seq0 + n, ts0 + 160 * n, SSRC)) for n in range(count)]


# --- damaged and foreign input --------------------------------------------------------------------------------

LINKTYPES = (0, 1, 101, 113, 276)


def wrap_udp(linktype: int, payload: bytes) -> bytes:
    """A well-formed frame of `linktype` carrying `payload` as a UDP datagram SRC:SPORT -> DST:DPORT."""
    ip = udp_frame(SRC_IP, SPORT, DST_IP, DPORT, payload)[14:]
    if linktype == 0:
        return struct.pack("<I", 2) + ip  # BSD loopback, AF_INET in little-endian host order
    if linktype == 1:
        return udp_frame(SRC_IP, SPORT, DST_IP, DPORT, payload)
    if linktype == 101:
        return ip
    if linktype == 113:
        return struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800) + ip  # Linux cooked v1
    return struct.pack("!HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, bytes(8)) + ip  # Linux cooked v2 (276)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=40))
def test_arbitrary_udp_payloads_never_raise(payloads):
    analyzer, results = run([(T0 + 0.02 * i, payload) for i, payload in enumerate(payloads)])
    assert analyzer.udp_datagrams == len(payloads)  # a TURN ChannelData datagram is counted once, not twice
    for result in results:
        json.dumps(stream_dict(result, windows=True), allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LINKTYPES), st.lists(st.tuples(st.booleans(), st.binary(max_size=120)), max_size=30))
def test_arbitrary_frames_never_raise(linktype, frames):
    """Raw arbitrary frames, and well-formed frames of the link type whose UDP payload is arbitrary."""
    analyzer = Analyzer(salt=SALT)
    for i, (wrapped, data) in enumerate(frames):
        analyzer.add_frame(T0 + 0.02 * i, linktype, wrap_udp(linktype, data) if wrapped else data)
    analyzer.finish()
    assert analyzer.packets_read == len(frames)
    assert analyzer.udp_datagrams + analyzer.undecoded == len(frames)
    assert analyzer.udp_datagrams >= sum(1 for wrapped, _ in frames if wrapped)


# RTP-shaped input: two SSRCs on one flow, small sequence steps so streams do get confirmed, then every oddity:
# backwards steps, repeated and huge timestamp steps, events, comfort noise, markers, header fields that claim
# CSRCs, an extension or padding the packet does not have, time going backwards and 11 s gaps.
_RTP_FIELDS = st.tuples(
    st.integers(0, 1),  # which SSRC
    st.integers(-4, 8),  # sequence step
    st.sampled_from((0, 160, 160, 320, 960, -160, 1 << 31, 900_000)),  # timestamp step
    st.sampled_from((0, 8, 8, 13, 18, 96, 101, 111, 127)),  # payload type
    st.booleans(),  # marker
    st.sampled_from((0, 1, 4, 16, 160)),  # payload bytes
    st.sampled_from((0.02, 0.02, 0.0, 0.0201, -0.5, 11.0)),  # arrival step (s)
    st.sampled_from((0, 0, 0, 0x0F, 0x10, 0x20)),  # bits OR-ed into the first byte: CC, X, P
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_RTP_FIELDS, max_size=120), st.integers(0, 0xFFFF), st.integers(0, WRAP_TS - 1))
def test_rtp_shaped_nonsense_never_raises(fields, seq0, ts0):
    seqs, tss = [seq0, seq0 + 7], [ts0, ts0 + 99]
    time_s, datagrams = T0, []
    for which, seq_step, ts_step, pt, marker, size, time_step, bits in fields:
        seqs[which] += seq_step
        tss[which] += ts_step
        time_s += time_step
        packet = bytearray(rtp_packet(seqs[which], tss[which], SSRC + which, pt, marker, bytes(size)))
        packet[0] |= bits
        datagrams.append((time_s, bytes(packet)))
    _, results = run(datagrams)
    for result in results:
        assert 0 <= result.loss.lost <= result.loss.expected
        assert 0.0 <= result.loss.loss_pct <= 100.0
        assert result.duplicates <= result.packets
        json.dumps(stream_dict(result, windows=True), allow_nan=False)
    assert run(datagrams, as_frames=True)[1] == results  # capture files and live capture agree, packet for packet


@settings(max_examples=40, deadline=None)
@given(
    positions=st.lists(st.integers(CONFIRMED_AFTER, 98), min_size=1, max_size=6, unique=True),
    dropped=st.sets(st.integers(1, 98), max_size=10),
)
def test_truncated_copies_never_raise_and_leave_loss_alone(positions, dropped):
    """Every prefix of some packets, right after them. A prefix shorter than the 12-byte RTP header is no RTP at
    all and changes nothing; a longer one holds a whole header (these packets have no CSRC or extension) and is a
    duplicate, because a receiver cannot tell a cut payload from a short one. Expected and lost never move."""
    stream = [(t, p) for t, p in g711_stream(100) if struct.unpack_from("!H", p, 2)[0] - 1000 not in dropped]
    mixed, whole_header_copies = [], 0
    for index, (time_s, packet) in enumerate(stream):
        mixed.append((time_s, packet))
        if index in positions:
            for length in range(len(packet)):
                mixed.append((time_s + 0.0001, packet[:length]))
                whole_header_copies += length >= 12
    clean = one_stream(run(stream)[1])
    assert (clean.packets, clean.loss.expected, clean.loss.lost) == (len(stream), 100, len(dropped))
    for as_frames in (False, True):
        damaged = one_stream(run(mixed, as_frames=as_frames)[1])
        assert damaged.packets == clean.packets + whole_header_copies
        assert damaged.duplicates == whole_header_copies
        assert (damaged.loss.expected, damaged.loss.lost, damaged.reordered, damaged.resets) == (
            clean.loss.expected, clean.loss.lost, clean.reordered, clean.resets)


def test_cut_headers_in_a_running_stream_are_malformed_not_packets():
    """With 2 CSRCs and a one-word header extension the header is 28 bytes: a prefix of 12..27 bytes is a malformed
    packet (as it is, counted in malformed_rtp, when it starts a stream) and must not count as a packet or duplicate."""
    extension = b"\x10\xff\x00\x00"  # RFC 8285 one-byte element: audio level (RFC 6464)
    packets = [(T0 + 0.02 * n, rtp_packet(n, 160 * n, SSRC, csrcs=(1, 2), extension=extension)) for n in range(100)]
    header_len = rtp_header_len(packets[0][1])
    assert header_len == 12 + 2 * 4 + 4 + 4
    mixed = list(packets)
    time_s, packet = packets[50]
    mixed[51:51] = [(time_s + 0.0001, packet[:length]) for length in range(12, header_len)]
    _, clean = run(packets)
    analyzer, results = run(mixed)
    clean, damaged = one_stream(clean), one_stream(results)
    assert (damaged.packets, damaged.duplicates, damaged.loss.lost) == (clean.packets, 0, 0) == (100, 0, 0)
    assert damaged.jitter_max_ms == clean.jitter_max_ms
    assert analyzer.malformed_rtp == header_len - 12


# --- loss, duplicates and reordering --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(50, 3000),
    wraps_inside=st.booleans(),
    data=st.data(),
    drop_pct=st.integers(0, 20),
    dup_pct=st.integers(0, 10),
    swap_pct=st.integers(0, 10),
    seed=st.integers(0, 2**32 - 1),
)
@example(count=3000, wraps_inside=True, data=None, drop_pct=20, dup_pct=10, swap_pct=10, seed=7)
def test_synthetic_g711_stream_counts_are_exact(count, wraps_inside, data, drop_pct, dup_pct, swap_pct, seed):
    rng = random.Random(seed)
    if data is None:  # the explicit example: both wraps a third of the way in
        seq0, ts0 = 0x10000 - count // 3, WRAP_TS - 160 * (count // 3) + 7
    elif wraps_inside:  # 16-bit sequence and 32-bit timestamp both wrap at a random packet inside the stream
        seq0 = 0x10000 - data.draw(st.integers(1, count - 1), label="sequence wraps after")
        ts0 = WRAP_TS - 160 * data.draw(st.integers(1, count - 1), label="timestamp wraps after") + rng.randrange(160)
    else:
        seq0, ts0 = data.draw(st.integers(0, 0xFFFF)), data.draw(st.integers(0, WRAP_TS - 1))
    kept = [n for n in range(count) if n in (0, count - 1) or rng.randrange(100) >= drop_pct]
    # Disjoint adjacent swaps, never the first packets (probation) nor the last: each makes exactly one packet late.
    order, swaps, i = list(kept), 0, CONFIRMED_AFTER
    while i < len(order) - 2:
        if rng.randrange(100) < swap_pct:
            order[i], order[i + 1] = order[i + 1], order[i]
            swaps, i = swaps + 1, i + 2
        else:
            i += 1
    arrivals, duplicates = [], 0
    for n in order:
        arrivals.append(n)
        if rng.randrange(100) < dup_pct:
            arrivals.append(n)
            duplicates += 1
    datagrams, last_s = [], 0.0
    for n in arrivals:
        last_s = max(last_s + 0.0001, T0 + 0.02 * n + 0.001)
        datagrams.append((last_s, rtp_packet(seq0 + n, ts0 + 160 * n, SSRC)))

    for as_frames in (False, True):
        stream = one_stream(run(datagrams, as_frames=as_frames)[1])
        assert stream.packets == len(arrivals)  # duplicates included, as Wireshark counts
        assert stream.loss.expected == count
        assert stream.loss.lost == count - len(kept)
        assert stream.duplicates == duplicates
        assert stream.reordered == swaps
        assert stream.resets == 0
        assert (stream.codec, stream.clock_hz, stream.clock_source) == ("PCMA", 8000, "static")


# --- jitter ---------------------------------------------------------------------------------------------------


def _delayed_stream(rng: random.Random, count: int, ts0: int, seq0: int):
    """PCMA with 5-20 ms network delay and a 20-80 ms spike on 3 % of packets (which reorders some)."""
    delays = [rng.uniform(0.005, 0.020) + (rng.uniform(0.02, 0.08) if rng.random() < 0.03 else 0.0)
              for _ in range(count)]
    order = sorted(range(count), key=lambda n: (T0 + 0.02 * n + delays[n], n))
    arrivals = [T0 + 0.02 * n + delays[n] for n in order]
    timestamps = [ts0 + 160 * n for n in order]  # unwrapped; the packets carry them modulo 2**32
    packets = [(arrivals[k], rtp_packet(seq0 + n, timestamps[k], SSRC)) for k, n in enumerate(order)]
    return packets, arrivals, timestamps


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(60, 1500))
def test_jitter_is_rfc3550_a8_and_the_timestamp_wrap_is_seamless(seed, count):
    packets, arrivals, timestamps = _delayed_stream(random.Random(seed), count, ts0=1000, seq0=300)
    expected_max_ms, expected_last_ms = a8_jitter_ms(arrivals, timestamps, 8000)
    assert expected_max_ms > 0.1  # the delays are real: a meter stuck at 0 cannot pass
    for as_frames in (False, True):
        stream = one_stream(run(packets, as_frames=as_frames)[1])
        assert stream.clock_hz == 8000
        assert stream.jitter_max_ms == pytest.approx(expected_max_ms, abs=1e-6)
        assert stream.jitter_last_ms == pytest.approx(expected_last_ms, abs=1e-6)

    # The same stream with timestamps shifted to wrap past 2**32 halfway through (and sequence numbers at 65535).
    wrapped, _, _ = _delayed_stream(random.Random(seed), count, ts0=WRAP_TS - 160 * (count // 2) - 33,
                                    seq0=0x10000 - count // 2)
    shifted = one_stream(run(wrapped, as_frames=True)[1])
    assert shifted.jitter_max_ms == pytest.approx(stream.jitter_max_ms, abs=1e-9)
    assert shifted.jitter_last_ms == pytest.approx(stream.jitter_last_ms, abs=1e-9)
    assert (shifted.loss.expected, shifted.loss.lost, shifted.resets) == (count, 0, 0)
    # no "timestamp discontinuities", no sequence reset across either wrap: the same notes as the unwrapped stream
    # (a spike can make the jitter buffer discard enough for a "MOS ... from jitter-buffer discards" note)
    assert shifted.problems == stream.problems
    assert not [problem for problem in shifted.problems if "discontinu" in problem or "reset" in problem]


# --- clock rate -----------------------------------------------------------------------------------------------


def _small_delay_stream(pt: int, ts_step: int, payload_for, seed: int, count: int = 300):
    rng = random.Random(seed)
    arrivals = [T0 + 0.02 * n + rng.uniform(0.0, 0.002) for n in range(count)]  # 0-2 ms: no reordering
    timestamps = [90_000 + ts_step * n for n in range(count)]
    packets = [(arrivals[n], rtp_packet(7 + n, timestamps[n], SSRC, pt, payload=payload_for(rng)))
               for n in range(count)]
    return packets, arrivals, timestamps


def test_dynamic_payload_type_without_sdp_gets_its_clock_inferred():
    """Opus-like: PT 111, 960 timestamp units every 20 ms, encrypted-looking payload, no SDP: 48 kHz inferred."""
    packets, arrivals, timestamps = _small_delay_stream(111, 960, lambda rng: os.urandom(rng.randrange(60, 121)), 1)
    stream = one_stream(run(packets)[1])
    assert (stream.payload_type, stream.clock_hz, stream.clock_source) == (111, 48000, "inferred")
    expected_max_ms, expected_last_ms = a8_jitter_ms(arrivals, timestamps, 48000)
    assert stream.jitter_max_ms == pytest.approx(expected_max_ms, abs=1e-6)
    assert stream.jitter_last_ms == pytest.approx(expected_last_ms, abs=1e-6)
    assert stream.loss.lost == 0


def test_static_payload_type_uses_its_rfc3551_clock():
    packets, arrivals, timestamps = _small_delay_stream(0, 160, lambda rng: b"\xff" * 160, 2)
    stream = one_stream(run(packets)[1])
    assert (stream.codec, stream.clock_hz, stream.clock_source) == ("PCMU", 8000, "static")
    assert stream.jitter_max_ms == pytest.approx(a8_jitter_ms(arrivals, timestamps, 8000)[0], abs=1e-6)


# --- telephone events and comfort noise -----------------------------------------------------------------------


def _audio_with_events(with_events: bool):
    """500 PCMA packets; two RFC 4733 events (12 and 6 packets, the end packet sent 3 times) interleaved 10 ms after
    audio packets 100 and 300. The events take sequence numbers; their timestamp is the audio's at event start."""
    rng = random.Random(3)
    audio_delays = [rng.uniform(0.0, 0.008) for _ in range(500)]
    events = {100: 12, 300: 6} if with_events else {}
    datagrams, seq, audio_arrivals, event_packets = [], 0, [], 0
    ongoing = []  # event packets still to send: (event timestamp, number within event, packets in event)
    for n in range(500):
        arrival = T0 + 0.02 * n + audio_delays[n]
        datagrams.append((arrival, rtp_packet(seq, 160 * n, SSRC)))
        audio_arrivals.append(arrival)
        seq += 1
        if n in events:
            ongoing = [(160 * n, k, events[n]) for k in range(events[n])]
        if ongoing:
            event_ts, k, total = ongoing.pop(0)
            end = k >= total - 3
            payload = telephone_event(5, end, 10, 160 * min(k + 1, total - 2))
            datagrams.append((T0 + 0.02 * n + 0.010 + rng.uniform(0, 0.005),
                              rtp_packet(seq, event_ts, SSRC, 101, marker=k == 0, payload=payload)))
            seq += 1
            event_packets += 1
    return datagrams, audio_arrivals, event_packets


def test_telephone_events_count_in_sequence_but_stay_out_of_jitter():
    plain, audio_arrivals, _ = _audio_with_events(False)
    with_events, _, event_packets = _audio_with_events(True)
    assert event_packets == 18
    without = one_stream(run(plain)[1])
    stream = one_stream(run(with_events)[1])
    assert stream.event_packets == event_packets
    assert stream.packets == 500 + event_packets
    assert (stream.loss.expected, stream.loss.lost, stream.duplicates) == (500 + event_packets, 0, 0)
    assert (stream.codec, stream.payload_type) == ("PCMA", 8)
    expected_max_ms, expected_last_ms = a8_jitter_ms(audio_arrivals, [160 * n for n in range(500)], 8000)
    assert without.jitter_max_ms == pytest.approx(expected_max_ms, abs=1e-6)
    assert stream.jitter_max_ms == pytest.approx(without.jitter_max_ms, abs=1e-9)
    assert stream.jitter_last_ms == pytest.approx(without.jitter_last_ms, abs=1e-9)


@pytest.mark.parametrize("marker", [True, False], ids=["marker", "no-marker"])
def test_comfort_noise_counts_in_sequence_and_splits_talkspurts(marker):
    """Audio 0..199, then 1 s of silence sent as RFC 3389 comfort noise (PT 13, one every 100 ms), then audio again,
    25 ms slower (another path), with or without the marker bit (RFC 3551 §4.1). No transit difference spans the
    silence: the step in delay must not enter J."""
    rng = random.Random(4)
    datagrams, arrivals, timestamps, seq = [], [], [], 0
    for n in range(400):
        arrival = T0 + 0.02 * n + rng.uniform(0.0, 0.001) + (0.025 if n >= 250 else 0.0)
        if 200 <= n < 250:
            if n % 5 == 0:
                datagrams.append((arrival, rtp_packet(seq, 160 * n, SSRC, 13, payload=b"\x40")))
                seq += 1
            continue
        datagrams.append((arrival, rtp_packet(seq, 160 * n, SSRC, 8, marker=marker and n == 250)))
        arrivals.append(arrival)
        timestamps.append(160 * n)
        seq += 1
    stream = one_stream(run(datagrams)[1])
    assert stream.comfort_noise_packets == 10
    assert (stream.packets, stream.loss.expected, stream.loss.lost) == (360, 360, 0)
    assert (stream.codec, stream.payload_type) == ("PCMA", 8)
    expected_max_ms, expected_last_ms = a8_jitter_ms(arrivals, timestamps, 8000, talkspurt_starts={200})
    assert a8_jitter_ms(arrivals, timestamps, 8000)[0] > expected_max_ms + 1.0  # the premise: the step would show
    assert stream.jitter_max_ms == pytest.approx(expected_max_ms, abs=1e-6)
    assert stream.jitter_last_ms == pytest.approx(expected_last_ms, abs=1e-6)


# --- 10-second windows ----------------------------------------------------------------------------------------


def test_ten_second_windows_are_aligned_and_add_up(tmp_path):
    """35 s from 1_700_000_003.0. Windows count every arriving packet, duplicates included, in the window where it
    arrived; loss is counted in the window where the packet after the gap arrives."""
    start = 1_700_000_003.0
    dropped = {900, 901, 950, 1100}  # at 21.00, 21.02, 22.00 and 25.00 s: inside the third window only
    duplicated = {600, 700}  # at 15 and 17 s: the second window
    datagrams = []
    for n in range(1750):
        if n in dropped:
            continue
        time_s = round(start + 0.02 * n, 6)
        payload = rtp_packet(40000 + n, 123 + 160 * n, SSRC)
        datagrams.append((time_s, SRC_IP, SPORT, DST_IP, DPORT, payload))
        if n in duplicated:
            datagrams.append((round(time_s + 0.0005, 6), SRC_IP, SPORT, DST_IP, DPORT, payload))
    capture = analyze_capture(write_pcap(tmp_path / "windows.pcap", datagrams))
    (stream,) = capture.streams
    windows = stream.windows
    assert [w.start_s for w in windows] == [1_700_000_000.0, 1_700_000_010.0, 1_700_000_020.0, 1_700_000_030.0]
    assert all(w.duration_s == 10.0 for w in windows)
    per_window = Counter(int(d[0] // 10) * 10 for d in datagrams)
    assert [w.packets for w in windows] == [per_window[int(w.start_s)] for w in windows] == [350, 502, 496, 400]
    assert sum(w.packets for w in windows) == stream.packets == 1750 - 4 + 2
    assert [w.duplicates for w in windows] == [0, 2, 0, 0]
    assert [w.loss.lost for w in windows] == [0, 0, 4, 0]
    assert sum(w.loss.expected for w in windows) == stream.loss.expected == 1750
    assert windows[2].score.mos < windows[0].score.mos


def test_windows_are_also_delivered_as_they_close():
    seen = []
    analyzer, results = run(g711_stream(1500, t0=T0 + 5.0), on_window=lambda stream, window: seen.append(window))
    assert seen == list(one_stream(results).windows)
    assert [w.start_s for w in seen] == [T0, T0 + 10, T0 + 20, T0 + 30]


# --- WebRTC: STUN, DTLS, SRTP and SRTCP on one 5-tuple; TURN ChannelData ---------------------------------------


def test_webrtc_demultiplexing_finds_both_streams(tmp_path):
    rng = random.Random(5)
    client, server, relay = "10.0.0.5", "203.0.113.9", "198.51.100.77"
    direct_ssrc, relayed_ssrc = 0x0A0B0C0D, 0x11223344
    direct_drops, relayed_drops = {17, 18, 150, 299}, {40, 41, 42}
    datagrams, stun, dtls, rtcp = [], 0, 0, 0

    def opus_srtp(seq, ts, ssrc):
        # The RTP header stays in clear under SRTP (RFC 3711 §3.1); payload ciphertext, then an 80-bit auth tag.
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randrange(40, 120))) + os.urandom(10)
        return rtp_packet(seq, ts, ssrc, 111, marker=seq == 0, payload=payload)

    def srtcp(ssrc):
        # SR header and sender SSRC in clear, the rest encrypted, then E=1|index and the tag (RFC 3711 §3.4).
        header = struct.pack("!BBHI", 0x80, 200, 6, ssrc)
        return header + os.urandom(20) + struct.pack("!I", 0x80000000 | rng.randrange(1 << 31)) + os.urandom(10)

    for n in range(2):
        datagrams.append((T0 - 0.5 + 0.1 * n, client, 5000, server, 6000, stun_binding_request(os.urandom(12))))
        stun += 1
    datagrams.append((T0 - 0.2, client, 5000, server, 6000, dtls_record(b"\x01" + os.urandom(60))))  # ClientHello
    dtls += 1
    datagrams.append((T0 - 0.5, client, 7000, relay, 3478, stun_binding_request(os.urandom(12))))
    stun += 1
    for n in range(400):
        t = T0 + 0.02 * n + rng.uniform(0, 0.002)
        if n not in direct_drops:
            datagrams.append((t, client, 5000, server, 6000, opus_srtp(n, 960 * n, direct_ssrc)))
        if n not in relayed_drops:
            inner = opus_srtp(n, 3_000_000 + 960 * n, relayed_ssrc)
            datagrams.append((t + 0.001, client, 7000, relay, 3478, turn_channel_data(0x4001, inner)))
        if n % 50 == 25:
            datagrams.append((t + 0.003, client, 5000, server, 6000, srtcp(direct_ssrc)))  # RFC 5761 mux
            datagrams.append((t + 0.004, client, 5000, server, 6000,
                              rtcp_rr(0x0F0F0F0F, [report_block(0x99999999, fraction=3, lsr=0, dlsr=0)])))
            datagrams.append((t + 0.005, client, 7000, relay, 3478, turn_channel_data(0x4001, srtcp(relayed_ssrc))))
            datagrams.append((t + 0.006, client, 5000, server, 6000, stun_binding_request(os.urandom(12))))
            rtcp += 3
            stun += 1
    datagrams.sort(key=lambda d: d[0])
    capture = analyze_capture(write_pcap(tmp_path / "webrtc.pcap", datagrams))
    assert capture.warnings == ()
    assert (capture.packets_read, capture.udp_datagrams, capture.undecoded) == (len(datagrams), len(datagrams), 0)
    assert (capture.stun_packets, capture.dtls_packets, capture.rtcp_packets) == (stun, dtls, rtcp)
    assert len(capture.streams) == 2
    direct = one_stream(capture.streams, direct_ssrc)
    relayed = one_stream(capture.streams, relayed_ssrc)
    assert (direct.via, direct.src, direct.dst) == ("direct", "10.0.0.5:5000", "203.0.113.9:6000")
    assert (relayed.via, relayed.src, relayed.dst) == ("turn-channel 0x4001", "10.0.0.5:7000", "198.51.100.77:3478")
    for stream, drops in ((direct, direct_drops), (relayed, relayed_drops)):
        assert (stream.packets, stream.loss.expected, stream.loss.lost) == (400 - len(drops), 400, len(drops))
        assert (stream.payload_type, stream.clock_hz, stream.clock_source) == (111, 48000, "inferred")
        assert stream.duplicates == 0


# --- RTCP: round trip, far-end loss, conversational MOS -------------------------------------------------------


def test_receiver_report_gives_rtt_far_end_loss_and_conversational_mos():
    """We (SRC) send stream X and an SR at t_sr; the far end answers with an RR about X that echoes the SR (LSR) and
    says it held it 250 ms (DLSR). It reaches us 290 ms after t_sr: RTT = A - LSR - DLSR = 40 ms (RFC 3550
    §6.4.1)."""
    t_sr = T0 + 3.0
    fraction, cumulative = 13, 25  # 13/256 = 5.08 %
    rr = rtcp_rr(0xFA4E4D00, [report_block(SSRC, fraction=fraction, lost=cumulative, highest=1200, jitter=40,
                                           lsr=ntp_middle32(t_sr), dlsr=int(0.25 * 65536))])
    sr = rtcp_sr(SSRC, t_sr, 5000 + 160 * 150, 150, 150 * 160)
    stream = g711_stream(500)
    with_rtcp = sorted(stream + [(t_sr, SRC, SPORT + 1, DST, DPORT + 1, sr),
                                 (t_sr + 0.290, DST, DPORT + 1, SRC, SPORT + 1, rr)], key=lambda d: d[0])
    analyzer, results = run(with_rtcp)
    reported = one_stream(results)
    assert analyzer.rtcp_packets == 2
    assert reported.far_end is not None
    assert reported.far_end.rtt_ms == pytest.approx(40.0, abs=0.1)
    assert reported.far_end.fraction_lost_pct == round(100 * fraction / 256, 2) == 5.08
    assert reported.far_end.cumulative_lost == cumulative
    assert reported.far_end.jitter_ms == pytest.approx(40 / 8)  # 40 timestamp units at 8 kHz
    assert reported.score.mos_kind == "conversational"

    alone = one_stream(run(stream)[1])
    assert alone.far_end is None
    assert alone.score.mos_kind == "listening"
    assert reported.score.mos <= alone.score.mos  # a known delay can only lower the score


def test_random_loss_lowers_the_mos_of_the_same_codec():
    rng = random.Random(6)
    stream = g711_stream(2000)
    lossy = [stream[0]] + [p for p in stream[1:-1] if rng.random() >= 0.05] + [stream[-1]]
    clean, lossy = one_stream(run(stream)[1]), one_stream(run(lossy)[1])
    assert clean.loss.lost == 0 and 3.5 < lossy.loss.loss_pct < 6.5
    assert lossy.codec == clean.codec == "PCMA"
    # G.711 with no loss and no delay known: the G.107 default rating, R = 93.2 and MOS 4.41 (§7.7, Annex B).
    assert (clean.score.r_factor, clean.score.mos) == (pytest.approx(93.21, abs=0.05), pytest.approx(4.41, abs=0.005))
    assert lossy.score.mos < clean.score.mos
    assert lossy.score.r_factor < clean.score.r_factor


# --- no RTP where there is none -------------------------------------------------------------------------------

NON_RTP_CAPTURES = (
    "ndpi_zoom.pcap",
    "ndpi_signal.pcap",
    "ndpi_rtps.pcap",
    "ndpi_telegram.pcap",
    "ndpi_rtcp_multiple_pkts_in_the_same_datagram.pcap",
)


@pytest.mark.parametrize("name", NON_RTP_CAPTURES)
def test_no_rtp_streams_invented_in_non_rtp_captures(name, pcaps):
    capture = analyze_capture(pcaps / name)
    assert capture.udp_datagrams > 0  # the file was read, and its UDP reached the engine
    invented = [(hex(s.ssrc), s.src, s.dst, s.packets) for s in capture.streams if s.packets > 10]
    assert invented == []


def test_encrypted_noise_that_starts_like_rtp_is_not_rtp():
    """Encrypted transports (QUIC, Telegram, WireGuard) put random bytes on the wire; about a quarter start with
    version 2, and some repeat a connection id where RTP has its SSRC. 6000 such datagrams on one flow, every other
    one with the same 4 bytes at offset 8: no stream, and candidate memory stays bounded."""
    rng = random.Random(8)
    analyzer = Analyzer(salt=SALT)
    for n in range(6000):
        noise = bytearray(rng.getrandbits(8) for _ in range(rng.randrange(12, 200)))
        noise[0] = 0x80 | (noise[0] & 0x3F)  # version 2, any P/X/CC
        if 192 <= noise[1] <= 223:
            noise[1] &= 0x7F  # not an RTCP packet type (RFC 5761): it must be judged as RTP
        if n % 2:
            noise[8:12] = b"\x5e\xed\x12\x34"
        analyzer.add_udp(T0 + 0.001 * n, SRC, SPORT, DST, DPORT, bytes(noise))
        assert len(analyzer.streams) <= MAX_CANDIDATES + 1
    assert analyzer.finish() == []

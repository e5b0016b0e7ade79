"""Every shared capture, analysed by homeshore and by tshark 4.0 (`-z rtp,streams`) on the same file.

On ordinary streams the two must agree: the same streams, the same packet and loss counts, and max jitter within
0.02 ms. Where tshark is known to be wrong (duplicates read as negative loss, sequence resets, DTMF inside an
audio stream, a signalled clock rate that the timestamps contradict), the stream is listed in KNOWN_DIVERGENCES
with the reason and the figure homeshore must give instead; those figures are checked in test_rtpproxy.py and
below.
"""

from __future__ import annotations

import pytest

from homeshore.quality.capture import analyze_capture
from tests.conftest import PCAPS, require_tool
from tests.references.tshark import rtp_streams

ORDINARY_MIN_PACKETS = 20  # shorter heuristic "streams" are mostly encrypted noise that tshark takes for RTP
MAX_JITTER_TOLERANCE_MS = 0.02

# (file, ssrc or None for every stream of the file) -> (why tshark's figure is not the reference, what homeshore
# must report instead: {attribute: value} checked on the stream, with "ssrc" selecting it when given)
KNOWN_DIVERGENCES: dict[tuple[str, int | None], tuple[str, dict]] = {
    ("rtpproxy_dups.a.pcap", None): (
        "a duplicate: tshark counts -1 lost and lets it inflate jitter (rtpproxy: 0 lost, 1 dup, test_rtpproxy.py)",
        {"packets": 384, "lost": 0, "duplicates": 1},
    ),
    ("rtpproxy_sess6.a.pcap", None): (
        "two sequence resets: tshark reports -475 lost and 376 ms jitter (rtpproxy: 0 lost, 1.83 ms)",
        {"packets": 2546, "lost": 0, "resets": 2},
    ),
    ("rtppcap_SIP_DTMF2.pcap", 0x5711BF84): (
        "telephone-event packets inside the audio stream inflate tshark's jitter to 15.8 ms; plain RFC 3550 "
        "without the events gives 0.015 ms",
        {"ssrc": 0x5711BF84, "packets": 666, "lost": 0, "jitter_max_ms": (0.015, 0.005)},
    ),
    ("rtpdump_sample1_ipv4_amr-nb.pcap", None): (
        "every uplink packet captured twice: tshark counts -515 lost; they are 526 duplicates of 526 distinct "
        "packets out of 537 sent (sequence numbers 1-537), so 11 are really lost",
        {"ssrc": 0x0025B105, "packets": 1052, "lost": 11, "duplicates": 526},
    ),
    ("sipp_dtmf_2833_1.pcap", None): (
        "RFC 4733 retransmits the end-of-event packet: duplicates, not -2 lost",
        {"lost": 0, "duplicates": 2},
    ),
    ("ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", 0x17D90134): (
        "comfort noise, events and a timestamp reset before the T.38 switch: tshark carries transit differences "
        "across them into J (1.343 ms); homeshore restarts the reference there and says so",
        {"ssrc": 0x17D90134, "packets": 1171, "lost": 0, "problem": "timestamp discontinuit"},
    ),
    ("rtppcap_sip-rtp-l16.pcap", 0x043DA985): (
        "SDP says L16 at 11025 Hz but the timestamps step at 8000 Hz: tshark shows 8.731 ms of jitter that is "
        "not there; homeshore infers 8000 Hz and flags the mismatch",
        {"ssrc": 0x043DA985, "packets": 366, "lost": 0, "clock_hz": 8000, "clock_source": "inferred",
         "jitter_max_ms": (0.013, 0.01), "problem": "clock mismatch"},
    ),
    ("ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", 0x0EAF0EAF): (
        "after the re-INVITE to T.38 the gateway keeps sending G.711 RTP with the same SSRC on the port; tshark "
        "decodes those 27 packets as T.38 because of the SDP",
        {"ssrc": 0x0EAF0EAF, "packets": 159},
    ),
    ("rtpproxy_dtmf.pcap", 938313715): (
        "telephone-event only (the audio is not in the capture); tshark nets 52 RFC 4733 retransmissions against "
        "loss (141); 99 distinct packets of 292 sequence numbers were seen",
        {"ssrc": 938313715, "packets": 151, "lost": 193, "duplicates": 52, "problem": "telephone-event only"},
    ),
    ("ndpi_stun_google_meet.pcapng", 0): (
        "RTP padding probes (SSRC 0, P and X set): tshark's heuristic drops 11 of the 104 as 'data' and then "
        "counts their sequence numbers as 10 lost",
        {"ssrc": 0, "packets": 104, "lost": 0},
    ),
    ("ndpi_snapchat_call_v1.pcapng", 0x0EA53582): (
        "RTP with RFC 8285 extensions on UDP port 443, which tshark's QUIC dissector claims by port",
        {"ssrc": 0x0EA53582, "problem": None},
    ),
}
# Jitter needs the clock rate: tshark prints 0 for dynamic payload types it has no SDP for ("RTPType-N").
UNKNOWN_CLOCK_PAYLOAD = "RTPType-"
NO_CLOCK_PAYLOADS = {"rtpevent"}  # telephone-event: tshark computes no jitter (its timestamps do not advance)
# Captures whose RTP tshark only finds when told the port (loopback capture without signalling).
DECODE_AS = {"rtpproxy_DLT_NULL.a.pcap": ("udp.port==12344,rtp",)}
# Captures in which tshark 4.0 (heuristic RTP on) finds no RTP stream at all: encrypted or proprietary media,
# signalling only, or RTP on a port another dissector claims. Every other capture must give tshark a stream, so
# a reference that silently finds nothing cannot pass for agreement.
TSHARK_FINDS_NO_RTP = {
    "ndpi_google_meet.pcapng", "ndpi_linecall_falsepositve.pcap", "ndpi_rtcp_multiple_pkts_in_the_same_datagram.pcap",
    "ndpi_rtps.pcap", "ndpi_signal.pcap", "ndpi_sip_hello.pcapng", "ndpi_snapchat_call_v1.pcapng",
    "ndpi_stun_dtls_rtp_unidir.pcapng", "ndpi_zoom.pcap", "ndpi_zoom2.pcap", "ndpi_zoom_p2p.pcapng",
}


def _divergence(name: str, ssrc: int):
    return KNOWN_DIVERGENCES.get((name, ssrc)) or KNOWN_DIVERGENCES.get((name, None))


def _captures() -> list[str]:
    return sorted(p.name for p in PCAPS.glob("*.pcap*")) if PCAPS.is_dir() else []


def _without_ports(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[0]


@pytest.mark.parametrize("name", _captures())
def test_ordinary_streams_match_tshark(name: str) -> None:
    require_tool("tshark")
    path = PCAPS / name
    streams = analyze_capture(path).streams
    ours = {(s.src, s.dst, s.ssrc): s for s in streams}
    # A stream whose port changed mid-call is one stream to homeshore (followed by SSRC, as rtpproxy does) and
    # several to tshark: compare it with the sum of tshark's pieces.
    followed = {(_without_ports(s.src), _without_ports(s.dst), s.ssrc): s for s in streams
                if any(p.startswith("port changed") for p in s.problems)}
    all_theirs = rtp_streams(path, decode_as=DECODE_AS.get(name, ()))
    assert bool(all_theirs) is (name not in TSHARK_FINDS_NO_RTP), f"tshark found {len(all_theirs)} RTP streams"
    pieces: dict[tuple, list] = {}
    for theirs in all_theirs:
        pieces.setdefault((_without_ports(theirs.src), _without_ports(theirs.dst), theirs.ssrc), []).append(theirs)
    for theirs in all_theirs:
        if theirs.packets < ORDINARY_MIN_PACKETS or _divergence(name, theirs.ssrc):
            continue
        merged_key = (_without_ports(theirs.src), _without_ports(theirs.dst), theirs.ssrc)
        if merged_key in followed:
            stream = followed[merged_key]
            assert stream.packets == sum(p.packets for p in pieces[merged_key]), (pieces[merged_key], stream.packets)
            continue
        stream = ours.get((theirs.src, theirs.dst, theirs.ssrc))
        assert stream is not None, f"tshark's stream {theirs} not found; homeshore has {sorted(ours)}"
        assert stream.packets == theirs.packets, (theirs, stream.packets)
        assert stream.loss.lost == theirs.lost, (theirs, stream.loss.lost)
        if UNKNOWN_CLOCK_PAYLOAD not in theirs.payload and theirs.payload not in NO_CLOCK_PAYLOADS:
            assert stream.jitter_max_ms == pytest.approx(theirs.max_jitter_ms, abs=MAX_JITTER_TOLERANCE_MS), theirs
    # No invented streams: every stream homeshore reports with enough packets is one tshark also sees.
    theirs_keys = {(s.src, s.dst, s.ssrc) for s in all_theirs}
    for key, stream in ours.items():
        if stream.packets >= ORDINARY_MIN_PACKETS and not _divergence(name, stream.ssrc):
            merged_key = (_without_ports(stream.src), _without_ports(stream.dst), stream.ssrc)
            assert key in theirs_keys or merged_key in pieces, \
                f"homeshore reports {key} ({stream.packets} packets) that tshark does not"


@pytest.mark.parametrize("name,ssrc", sorted(KNOWN_DIVERGENCES, key=str))
def test_where_tshark_is_wrong_homeshore_gives_the_documented_figure(name: str, ssrc: int | None, pcaps) -> None:
    _reason, expected = KNOWN_DIVERGENCES[(name, ssrc)]
    expected = dict(expected)
    streams = analyze_capture(PCAPS / name).streams
    wanted = expected.pop("ssrc", None)
    candidates = [s for s in streams if wanted is None or s.ssrc == wanted]
    assert candidates, f"no stream {wanted!r} in {name}: {[(hex(s.ssrc), s.packets) for s in streams]}"
    stream = max(candidates, key=lambda s: s.packets)
    for attribute, value in expected.items():
        if attribute == "problem":
            if value is not None:
                assert any(value in problem for problem in stream.problems), stream.problems
        elif attribute == "lost":
            assert stream.loss.lost == value
        elif isinstance(value, tuple):
            assert getattr(stream, attribute) == pytest.approx(value[0], abs=value[1]), attribute
        else:
            assert getattr(stream, attribute) == value, attribute

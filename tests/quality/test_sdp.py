"""SDP parsing: hand-written bodies, every SDP in the SIP captures against tshark, fuzzing."""

from __future__ import annotations

import functools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality.sdp import SdpSession, parse_sdp
from tests.conftest import require_tool
from tests.references.captures import pdml_packets, udp_payloads

SIP_CAPTURES = [
    "shanewa_SIP_call_RTP_G711.pcap",
    "rtppcap_SIP_DTMF2.pcap",
    "rtppcap_sip-rtp-opus.pcap",
    "rtppcap_sip-rtp-l16.pcap",
    "ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
    "sngrep_aaa.pcap",
]

OFFER = (
    "v=0\r\n"
    "o=alice.smith 2890844526 2890842807 IN IP4 203.0.113.7\r\n"
    "s=Call from +44 7700 900123\r\n"
    "e=alice@example.com\r\n"
    "p=+44 7700 900123\r\n"
    "c=IN IP4 203.0.113.7\r\n"
    "t=0 0\r\n"
    "a=ptime:30\r\n"
    "m=audio 49170 RTP/AVP 0 8 97 101\r\n"
    "a=rtpmap:97 iLBC/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=sendonly\r\n"
    "m=video 51372/2 RTP/AVP 31 96\r\n"
    "c=IN IP6 2001:db8::1\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=ptime:40\r\n"
    "a=rtcp-mux\r\n"
    "m=image 0 udptl t38\r\n"
)


def test_offer_with_two_rtp_sections_and_a_rejected_one():
    session = parse_sdp(OFFER)
    audio, video, image = session.media
    assert (audio.kind, audio.address, audio.port, audio.protocol) == ("audio", "203.0.113.7", 49170, "RTP/AVP")
    assert audio.payload_types == (0, 8, 97, 101)
    assert dict(audio.rtpmap) == {97: ("iLBC", 8000, 1), 101: ("telephone-event", 8000, 1)}
    assert (audio.direction, audio.ptime_ms, audio.rtcp_mux) == ("sendonly", 30.0, False)
    assert (video.kind, video.address, video.port) == ("video", "2001:db8::1", 51372)
    assert video.payload_types == (31, 96)
    assert dict(video.rtpmap) == {96: ("H264", 90000, 1)}
    assert (video.direction, video.ptime_ms, video.rtcp_mux) == ("sendrecv", 40.0, True)
    assert (image.kind, image.port, image.protocol, image.payload_types) == ("image", 0, "udptl", ())


def test_nothing_personal_is_kept():
    text = repr(parse_sdp(OFFER))
    for secret in ("alice", "smith", "example.com", "7700", "900123", "2890844526", "Call from"):
        assert secret not in text


def test_lf_line_ends_bytes_and_case_of_direction():
    body = b"v=0\nc=IN IP4 10.0.0.1/127\nm=audio 4000 RTP/SAVP 111\na=rtpmap:111 opus/48000/2\na=SendRecv\n"
    (media,) = parse_sdp(body).media
    assert media.address == "10.0.0.1"  # RFC 4566 §5.7: /ttl is not part of the address
    assert media.protocol == "RTP/SAVP"
    assert media.rtpmap[111] == ("opus", 48000, 2)
    assert media.direction == "sendrecv"


def test_session_level_direction_applies_unless_the_section_overrides_it():
    body = (
        "v=0\r\nc=IN IP4 10.0.0.1\r\na=inactive\r\n"
        "m=audio 4000 RTP/AVP 0\r\n"
        "m=audio 4002 RTP/AVP 0\r\na=recvonly\r\n"
    )
    assert [m.direction for m in parse_sdp(body).media] == ["inactive", "recvonly"]


def test_webrtc_style_section():
    body = (
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\n"
        "a=rtpmap:126 telephone-event/8000\r\n"
    )
    (media,) = parse_sdp(body).media
    assert media.protocol == "UDP/TLS/RTP/SAVPF"
    assert media.rtcp_mux and media.port == 9 and media.address == "0.0.0.0"
    assert media.payload_types == (111, 63, 9, 0, 8, 13, 110, 126)
    assert media.rtpmap[63] == ("red", 48000, 2)


def test_no_connection_line_gives_no_address():
    assert parse_sdp("v=0\r\nm=audio 4000 RTP/AVP 0\r\n").media[0].address is None


@pytest.mark.parametrize(
    "line",
    [
        "m=audio",  # too short
        "m=audio 70000 RTP/AVP 0",  # port out of range
        "m=audio -1 RTP/AVP 0",
        "m=audio ４０００ RTP/AVP 0",  # non-ASCII digits
    ],
)
def test_malformed_media_line_is_skipped_with_its_attributes(line):
    body = f"v=0\r\n{line}\r\na=rtpmap:96 opus/48000/2\r\nm=audio 5000 RTP/AVP 0\r\n"
    (media,) = parse_sdp(body).media
    assert media.port == 5000 and dict(media.rtpmap) == {}


@pytest.mark.parametrize(
    "attribute",
    [
        "a=rtpmap:96",
        "a=rtpmap:96 opus",
        "a=rtpmap:96 opus/0",
        "a=rtpmap:96 opus/48k",
        "a=rtpmap:200 opus/48000",
        "a=rtpmap:x opus/48000",
        "a=rtpmap:96 /48000",
        "a=rtpmap:96 opus/48000/0",
        "a=rtpmap:96 opus/" + "9" * 5000,
        "a=ptime:abc",
        "a=ptime:-20",
        "a=ptime:nan",
    ],
)
def test_malformed_attributes_are_ignored(attribute):
    (media,) = parse_sdp(f"v=0\r\nm=audio 4000 RTP/AVP 96 abc 300\r\n{attribute}\r\n").media
    assert dict(media.rtpmap) == {} and media.ptime_ms is None
    assert media.payload_types == (96,)


@pytest.mark.parametrize("body", ["", "\r\n", "hello", "m=audio 4000 RTP/AVP 0\r\n", b"\xff\xfe", "x=0\r\nv=0\r\n"])
def test_not_sdp_gives_none(body):
    assert parse_sdp(body) is None


def test_session_without_media():
    assert parse_sdp("v=0\r\ns=-\r\n") == SdpSession(media=())


def test_sessions_are_hashable_and_compare_by_value():
    assert parse_sdp(OFFER) == parse_sdp(OFFER.encode())
    assert hash(parse_sdp(OFFER)) == hash(parse_sdp(OFFER.encode()))


# --- the SIP captures against tshark ----------------------------------------------------------------------------


def sdp_body(sip_payload: bytes) -> bytes:
    """The body of a SIP message, cut here by hand so this test does not depend on the SIP parser."""
    return re.split(rb"\r?\n\r?\n", sip_payload, maxsplit=1)[1]


@functools.cache
def tshark_sdp(name: str) -> dict[int, list[dict]]:
    """Frame number -> media sections as tshark dissects them (from its PDML, in document order)."""
    frames = {}
    for number, packet in pdml_packets(name, "sip && sdp"):
        session = {"address": None, "direction": "sendrecv", "ptime_ms": None}
        sections: list[dict] = []
        line = attribute = pt = None  # the SDP line whose sub-fields are being read
        for f in packet.iter("field"):
            name, show = f.get("name"), f.get("show")
            if name in ("sdp.connection_info", "sdp.media_attr", "sdp.session_attr"):
                line = name
                attribute = show.partition(":")[0].lower()
                target = sections[-1] if sections and name != "sdp.session_attr" else session
                if name != "sdp.connection_info" and attribute in ("sendrecv", "sendonly", "recvonly", "inactive"):
                    target["direction"] = attribute
                if attribute == "rtcp-mux" and sections:
                    sections[-1]["rtcp_mux"] = True
            elif name == "sdp.media":
                line = name
                sections.append({"address": None, "direction": None, "ptime_ms": None, "rtcp_mux": False,
                                 "formats": [], "rtpmap": {}})  # fmt: skip
            elif name == "sdp.connection_info.address":
                (sections[-1] if sections else session)["address"] = show
            elif name == "sdp.media.media":
                sections[-1]["kind"] = show
            elif name == "sdp.media.port":
                sections[-1]["port"] = int(show)
            elif name == "sdp.media.proto":
                sections[-1]["protocol"] = show
            elif name == "sdp.media.format" and line == "sdp.media":
                sections[-1]["formats"].append(bytes.fromhex(f.get("value")).decode())  # raw text, not the label
            elif name == "sdp.media.format" and line == "sdp.media_attr":
                pt = int(show)
            elif name == "sdp.mime.type":
                sections[-1]["rtpmap"][pt] = [show]
            elif name == "sdp.sample_rate":
                sections[-1]["rtpmap"][pt].append(int(show))
            elif name in ("sdp.media_attribute.value", "sdp.session_attr.value") and attribute == "ptime":
                (session if line == "sdp.session_attr" else sections[-1])["ptime_ms"] = float(show)
        for section in sections:
            section["address"] = section["address"] or session["address"]
            section["direction"] = section["direction"] or session["direction"]
            section["ptime_ms"] = section["ptime_ms"] or session["ptime_ms"]
        frames[number] = sections
    return frames


@pytest.mark.parametrize("name", SIP_CAPTURES)
def test_every_sdp_in_the_captures_matches_tshark(name, pcaps):
    require_tool("tshark")
    expected = tshark_sdp(name)
    assert expected, "tshark found no SDP"
    payloads = udp_payloads(name)
    for number, sections in expected.items():
        session = parse_sdp(sdp_body(payloads[number]))
        assert session is not None, number
        assert len(session.media) == len(sections), number
        for media, want in zip(session.media, sections):
            assert (media.kind, media.port, media.protocol) == (want["kind"], want["port"], want["protocol"])
            assert media.address == want["address"], number
            if "RTP" in media.protocol:
                assert list(media.payload_types) == [int(f) for f in want["formats"]], number
            else:
                assert media.payload_types == ()
            assert {pt: [name, clock] for pt, (name, clock, _) in media.rtpmap.items()} == want["rtpmap"], number
            assert media.direction == want["direction"], number
            assert media.ptime_ms == want["ptime_ms"], number
            assert media.rtcp_mux == want["rtcp_mux"], number


def offers_and_answers(name: str) -> list:
    payloads = udp_payloads(name)
    return [parse_sdp(sdp_body(payloads[number])).media[0] for number in sorted(tshark_sdp(name))]


def test_l16_rates_and_channels(pcaps):
    # README: L16 signalled at 8 kHz/2ch, 16 kHz/2ch, 11025 Hz (mono) and 48 kHz (mono); offer then answer.
    require_tool("tshark")
    media = offers_and_answers("rtppcap_sip-rtp-l16.pcap")
    assert [m.rtpmap[99] for m in media] == [
        ("L16", 8000, 2), ("L16", 8000, 2), ("L16", 16000, 2), ("L16", 16000, 2),
        ("L16", 11025, 1), ("L16", 11025, 1), ("L16", 48000, 1), ("L16", 48000, 1),
    ]  # fmt: skip
    assert [m.ptime_ms for m in media] == [None, 20.0, None, 20.0, None, 32.0, None, 20.0]
    assert [m.direction for m in media] == ["recvonly", "sendonly"] * 4


def test_opus_is_bound_at_48_khz_stereo(pcaps):
    # The capture binds Opus to dynamic PT 99 (the pcaps README says 111; the SDP in the file says 99).
    require_tool("tshark")
    offer, answer = offers_and_answers("rtppcap_sip-rtp-opus.pcap")
    assert offer.rtpmap[99] == answer.rtpmap[99] == ("opus", 48000, 2)
    assert answer.rtpmap[101] == ("telephone-event", 8000, 1)


# --- never raise ------------------------------------------------------------------------------------------------

sdp_lines = st.one_of(
    st.text(max_size=40),
    st.builds("{}={}".format, st.sampled_from("vocmaptbk"), st.text(max_size=40)),
    st.builds("m={} {} {} {}".format, *[st.text(max_size=6)] * 4),
    st.builds("m={} {} {} {}".format, st.sampled_from(["audio", "AUDIO", "Video", "image"]),
              st.integers(0, 70_000), st.sampled_from(["RTP/AVP", "rtp/savp", "udptl"]),
              st.lists(st.integers(0, 200), max_size=3).map(lambda pts: " ".join(map(str, pts)))),
    st.builds("a=rtpmap:{} {}/{}/{}".format, *[st.text(max_size=5)] * 4),
    st.builds("a=ptime:{}".format, st.text(max_size=8)),
)


def assert_read_from_the_text(text: str, result: SdpSession | None) -> None:
    """What any parse must agree with: an SDP body starts with v= (RFC 4566 §5), each media section comes from an
    m= line (§5.14: the media type is its first word, the port 0-65535), RTP payload types are 0-127 (RFC 3550
    §5.1) and a direction is one of RFC 4566 §6's four."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    assert (result is None) is (not lines or not lines[0].startswith("v="))
    if result is None:
        return
    m_lines = [line[2:].split() for line in lines[1:] if line.startswith("m=")]
    assert len(result.media) <= len(m_lines)
    for media in result.media:
        assert media.kind in {words[0].lower() for words in m_lines if words}
        assert 0 <= media.port <= 65535 and all(0 <= pt <= 127 for pt in media.payload_types)
        assert media.direction in {"sendrecv", "sendonly", "recvonly", "inactive"}


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    assert_read_from_the_text(data.decode("utf-8", errors="replace"), parse_sdp(data))


@settings(max_examples=500)
@given(st.lists(sdp_lines, max_size=12), st.sampled_from(["\r\n", "\n", "\r"]))
def test_sdp_shaped_text_never_raises(lines, line_end):
    text = line_end.join(["v=0", *lines])
    result = parse_sdp(text)
    assert result is not None
    assert_read_from_the_text(text, result)
    hash(result)

"""SIP parsing: hand-written messages, every SIP message in the captures against tshark, privacy, fuzzing."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality.sip import SipMessage, call_key, looks_like_sip, parse_sip, split_stream
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
SALT = b"test-salt-not-secret"

SDP = (
    b"v=0\r\no=alice 1 1 IN IP4 198.51.100.4\r\ns=-\r\nc=IN IP4 198.51.100.4\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)
INVITE = (
    b"INVITE sip:+447700900123@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 198.51.100.4:5060;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice Smith" <sip:alice@example.com>;tag=1928301774\r\n'
    b"To: <sip:+447700900123@example.com>\r\n"
    b"P-Asserted-Identity: <tel:+447700900456>\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@198.51.100.4>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)
SECRETS = ["alice", "Alice", "Smith", "7700900123", "7700900456", "example.com", "a84b4c76e66710", "1928301774"]


def test_invite_with_sdp():
    message = parse_sip(INVITE, SALT)
    assert message.is_request and message.method == "INVITE" and message.status_code is None
    assert message.call_key == hmac.new(SALT, b"a84b4c76e66710@pc33.example.com", hashlib.sha256).hexdigest()[:16]
    (media,) = message.sdp.media
    assert (media.address, media.port, media.payload_types) == ("198.51.100.4", 4000, (8, 101))
    text = repr(message)
    assert not [s for s in SECRETS if s in text]


def test_response_takes_its_method_from_cseq():
    response = (
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 198.51.100.4\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
        b"To: <sip:bob@example.com>;tag=2\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    message = parse_sip(response, SALT)
    assert message == SipMessage(
        is_request=False, method="INVITE", status_code=180, call_key=parse_sip(INVITE, SALT).call_key, sdp=None
    )


def test_compact_headers_lf_line_ends_and_folding():
    # RFC 3261 §7.3.3 compact forms (i, l, c), bare LF line ends, and a folded Call-ID (§7.3.1).
    message = (
        b"INVITE sip:bob@example.com SIP/2.0\n"
        b"f: <sip:alice@example.com>;tag=9\n"
        b"t: <sip:bob@example.com>\n"
        b"i: a84b4c76e66710@pc33.example.com\n"
        b"CSeq: 1 INVITE\n"
        b"c: application/sdp; charset=utf-8\n"
        b"l: " + str(len(SDP)).encode() + b"\n\n" + SDP
    )
    parsed = parse_sip(message, SALT)
    assert parsed.call_key == parse_sip(INVITE, SALT).call_key
    assert parsed.sdp.media[0].port == 4000


def test_header_names_are_case_insensitive_but_call_id_value_is_not():
    lower = INVITE.replace(b"Call-ID:", b"CALL-id:")
    assert parse_sip(lower, SALT).call_key == parse_sip(INVITE, SALT).call_key
    other = INVITE.replace(b"a84b4c76e66710@pc33", b"A84B4C76E66710@pc33")
    assert parse_sip(other, SALT).call_key != parse_sip(INVITE, SALT).call_key  # RFC 3261 §20.8


def test_salt_changes_the_key():
    assert parse_sip(INVITE, b"one").call_key != parse_sip(INVITE, b"two").call_key
    assert call_key(b"x", b"s") == hmac.new(b"s", b"x", hashlib.sha256).hexdigest()[:16]


def test_content_length_bounds_the_body():
    truncated = INVITE.replace(b"Content-Length: " + str(len(SDP)).encode(), b"Content-Length: 52")
    # 52 bytes end inside the c= line, before m=: an SDP without media
    assert parse_sip(truncated, SALT).sdp.media == ()


@pytest.mark.parametrize(
    "replacement",
    [
        b"Content-Type: multipart/mixed;boundary=unique-boundary-1",
        b"Content-Type: application/isup",
        b"X-Nothing: here",
    ],
)
def test_non_sdp_bodies_are_skipped(replacement):
    assert parse_sip(INVITE.replace(b"Content-Type: application/sdp", replacement), SALT).sdp is None


def test_missing_call_id_gives_none():
    assert parse_sip(INVITE.replace(b"Call-ID: a84b4c76e66710@pc33.example.com\r\n", b""), SALT) is None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"INVITE sip:bob@example.com SIP/2.0\r\n", True),
        (b"OPTIONS sip:192.0.2.1 SIP/2.0\n", True),
        (b"SIP/2.0 200 OK\r\n", True),
        (b"SIP/2.0 100 Trying\r\n", True),
        (b"SIP/2.0 603\r\n", True),
        (b"sip/2.0 486 Busy Here\r\n", True),
        (b"SIP/2.0 2000 OK\r\n", False),
        (b"SIP/2.0 200 OK", False),  # no line end yet
        (b"GET / HTTP/1.1\r\n", False),
        (b"INVITE sip:bob@example.com SIP/3.0\r\n", False),
        (b"INVITE  SIP/2.0\r\n", False),
        (b"0612345678 sip:x SIP/2.0\r\n", False),  # methods are letters
        (b"\r\n\r\n", False),  # RFC 5626 keep-alive
        (bytes([0x80, 0x08]) + b"\x00" * 10, False),  # RTP
        (b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12, False),  # STUN binding request
    ],
)
def test_looks_like_sip(payload, expected):
    assert looks_like_sip(payload) is expected


# --- SIP over TCP -----------------------------------------------------------------------------------------------

RESPONSE = b"SIP/2.0 100 Trying\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"


def test_split_stream_frames_by_content_length():
    buffer = INVITE + b"\r\n\r\n" + RESPONSE + INVITE[:100]
    messages, rest = split_stream(buffer)
    assert messages == [INVITE, RESPONSE]
    assert rest == INVITE[:100]


def test_split_stream_fed_byte_by_byte_gives_the_same_messages():
    stream = INVITE + RESPONSE + INVITE.replace(b"Content-Length:", b"l:")
    pending, got = b"", []
    for i in range(len(stream)):
        messages, pending = split_stream(pending + stream[i : i + 1])
        got += messages
    assert got == [INVITE, RESPONSE, INVITE.replace(b"Content-Length:", b"l:")]
    assert pending == b""


def test_split_stream_resynchronises_after_a_mid_message_start():
    messages, rest = split_stream(INVITE[150:] + RESPONSE)
    assert messages == [RESPONSE] and rest == b""


def test_split_stream_without_content_length_takes_no_body():
    head = b"OPTIONS sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n"
    assert split_stream(head + RESPONSE) == ([head, RESPONSE], b"")


# --- the captures against tshark --------------------------------------------------------------------------------


@functools.cache
def tshark_sip(name: str) -> dict[int, dict[str, list[str]]]:
    """Frame number -> {field name: shown values} for every SIP and SDP field tshark dissects."""
    frames = {}
    for number, packet in pdml_packets(name, "sip"):
        fields: dict[str, list[str]] = {}
        for f in packet.iter("field"):
            if f.get("name", "").startswith(("sip.", "sdp.")):
                fields.setdefault(f.get("name"), []).append(f.get("show"))
        frames[number] = fields
    return frames


@pytest.mark.parametrize("name", SIP_CAPTURES)
def test_every_sip_message_matches_tshark(name, pcaps):
    require_tool("tshark")
    expected = tshark_sip(name)
    assert expected, "tshark found no SIP"
    payloads = udp_payloads(name)
    assert {n for n, p in payloads.items() if looks_like_sip(p)} == set(expected)
    for number, fields in expected.items():
        message = parse_sip(payloads[number], SALT)
        assert message is not None, number
        (call_id,) = fields["sip.Call-ID"]
        assert message.call_key == call_key(call_id.encode(), SALT)
        if "sip.Method" in fields:
            assert message.is_request and [message.method] == fields["sip.Method"]
        else:
            assert not message.is_request and [str(message.status_code)] == fields["sip.Status-Code"]
            assert [message.method] == fields["sip.CSeq.method"]
        if "sdp.media" in fields:
            assert [m.port for m in message.sdp.media] == [int(p) for p in fields["sdp.media.port"]]
            assert [m.kind for m in message.sdp.media] == fields["sdp.media.media"]
        else:
            assert message.sdp is None


@pytest.mark.parametrize("name", SIP_CAPTURES)
def test_one_call_key_per_call_id(name, pcaps):
    require_tool("tshark")
    payloads = udp_payloads(name)
    pairs = {
        (fields["sip.Call-ID"][0], parse_sip(payloads[n], SALT).call_key) for n, fields in tshark_sip(name).items()
    }
    assert len({call_id for call_id, _ in pairs}) == len({key for _, key in pairs}) == len(pairs)


IDENTITY_FIELDS = (
    "sip.From", "sip.To", "sip.Contact", "sip.P-Asserted-Identity", "sip.Remote-Party-ID", "sip.r-uri",
    "sip.from.addr", "sip.to.addr", "sip.contact.uri", "sip.pai.addr",
    "sip.from.user", "sip.to.user", "sip.contact.user", "sip.pai.user", "sip.r-uri.user",
    "sip.from.display.info", "sip.to.display.info", "sip.contact.display.info", "sip.pai.display.info",
    "sip.Call-ID", "sdp.owner.username",
)  # fmt: skip


@pytest.mark.parametrize("name", SIP_CAPTURES)
def test_no_identity_leaves_the_parser(name, pcaps):
    require_tool("tshark")
    payloads = udp_payloads(name)
    checked = 0
    for number, fields in tshark_sip(name).items():
        secrets = {v.strip('"') for f in IDENTITY_FIELDS for v in fields.get(f, []) if v.strip('"')}
        for header in ("sip.From", "sip.To"):
            secrets |= {d for v in fields.get(header, []) for d in re.findall(r"\d{6,}", v)}
        secrets.discard("-")  # sdp.owner.username "-" means "no user"
        text = repr(parse_sip(payloads[number], SALT))
        leaked = [s for s in secrets if s in text]
        assert not leaked, (number, leaked)
        checked += len(secrets)
    assert checked > 0


# --- never raise ------------------------------------------------------------------------------------------------

header_lines = st.one_of(
    st.binary(max_size=40),
    st.builds(
        lambda n, v: n + b": " + v,
        st.sampled_from([b"Call-ID", b"i", b"CSeq", b"Content-Length", b"l", b"Content-Type", b"c", b"X"]),
        st.one_of(st.binary(max_size=30), st.sampled_from([b"application/sdp", b"12", b"1 INVITE", b"99999999999"])),
    ),
)
start_lines = st.one_of(
    st.sampled_from([b"INVITE sip:a@b SIP/2.0", b"SIP/2.0 200 OK", b"SIP/2.0 100"]), st.binary(max_size=30)
)


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data):
    result = parse_sip(data, SALT)
    assert result is None or isinstance(result, SipMessage)
    assert isinstance(looks_like_sip(data), bool)
    messages, rest = split_stream(data)
    assert sum(map(len, messages)) + len(rest) <= len(data)


@settings(max_examples=500)
@given(start_lines, st.lists(header_lines, max_size=8), st.binary(max_size=200), st.sampled_from([b"\r\n", b"\n"]))
def test_sip_shaped_bytes_never_raise(start, headers, body, eol):
    data = eol.join([start, *headers]) + eol + eol + body
    result = parse_sip(data, SALT)
    assert result is None or isinstance(result, SipMessage)
    messages, rest = split_stream(data + data)
    assert all(looks_like_sip(m) for m in messages)

"""RTCP parsing: hand-built compounds with known values, real captures checked against tshark, fuzzing."""

from __future__ import annotations

import functools
import random
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality.rtcp import (
    ReportBlock,
    RtcpCompound,
    SenderInfo,
    is_rtcp,
    ntp_middle32,
    parse_compound,
    rtt_ms,
)
from tests.conftest import PCAPS, require_tool
from tests.references.captures import pdml_packets, udp_payloads

NTP_UNIX_OFFSET_S = 2_208_988_800


# --- builders (RFC 3550 §6.4) ---------------------------------------------------------------------------------


def header(packet_type: int, count: int, length_bytes: int, padding: bool = False) -> bytes:
    assert length_bytes % 4 == 0
    return struct.pack("!BBH", 0x80 | (0x20 if padding else 0) | count, packet_type, length_bytes // 4 - 1)


def block(ssrc=0x11111111, fraction=0, lost=0, highest=0, jitter=0, lsr=0, dlsr=0) -> bytes:
    return struct.pack("!IB", ssrc, fraction) + lost.to_bytes(3, "big", signed=True) + struct.pack(
        "!IIII", highest, jitter, lsr, dlsr
    )


def sr(ssrc, msw, lsw, rtp_ts, packets, octets, blocks=()) -> bytes:
    body = struct.pack("!IIIIII", ssrc, msw, lsw, rtp_ts, packets, octets) + b"".join(blocks)
    return header(200, len(blocks), 4 + len(body)) + body


def rr(ssrc, blocks=()) -> bytes:
    body = struct.pack("!I", ssrc) + b"".join(blocks)
    return header(201, len(blocks), 4 + len(body)) + body


def sdes(ssrc: int, cname: bytes) -> bytes:
    items = bytes([1, len(cname)]) + cname + b"\x00"
    items += b"\x00" * (-(4 + len(items)) % 4)
    body = struct.pack("!I", ssrc) + items
    return header(202, 1, 4 + len(body)) + body


def bye(ssrcs, reason: bytes = b"") -> bytes:
    body = b"".join(struct.pack("!I", s) for s in ssrcs)
    if reason:
        body += bytes([len(reason)]) + reason
        body += b"\x00" * (-len(body) % 4)
    return header(203, len(ssrcs), 4 + len(body)) + body


# --- hand-built cases ------------------------------------------------------------------------------------------


def test_sender_report_with_one_block():
    payload = sr(
        0xD2BD4E3E, 0xC59286D4, 0xF645A1CB, 640, 4, 640,
        [block(0x58F33DEA, fraction=64, lost=-3, highest=0x0004_0004, jitter=17, lsr=0x86D4F645, dlsr=65536)],
    )  # fmt: skip
    compound = parse_compound(payload)
    assert compound == RtcpCompound(packets=compound.packets, encrypted=False)
    (packet,) = compound.packets
    assert packet.packet_type == 200
    assert packet.ssrc == 0xD2BD4E3E
    assert packet.sender_info == SenderInfo(
        ntp_seconds=0xC59286D4 + 0xF645A1CB / 2**32,
        ntp_middle32=0x86D4F645,
        rtp_ts=640,
        packet_count=4,
        octet_count=640,
    )
    assert packet.reports == (
        ReportBlock(
            ssrc=0x58F33DEA, fraction_lost=0.25, cumulative_lost=-3, highest_seq=0x0004_0004,
            jitter_ts=17, lsr=0x86D4F645, dlsr=65536,
        ),
    )  # fmt: skip
    assert packet.bye_ssrcs == ()


@pytest.mark.parametrize(
    ("raw_lost", "expected"),
    [
        (b"\x00\x00\x00", 0),
        (b"\x00\x00\x01", 1),
        (b"\x7f\xff\xff", 0x7FFFFF),  # RFC 3550 A.3 clamp, positive
        (b"\x80\x00\x00", -0x800000),  # RFC 3550 A.3 clamp, negative
        (b"\xff\xff\xff", -1),  # one duplicate more than losses
    ],
)
def test_cumulative_lost_is_signed_24_bit(raw_lost, expected):
    raw_block = struct.pack("!IB", 1, 0) + raw_lost + b"\x00" * 16
    (packet,) = parse_compound(rr(7, [raw_block])).packets
    assert packet.reports[0].cumulative_lost == expected


def test_fraction_lost_is_field_over_256():
    payload = rr(7, [block(fraction=f) for f in (0, 1, 128, 255)])
    assert [b.fraction_lost for b in parse_compound(payload).packets[0].reports] == [0.0, 1 / 256, 0.5, 255 / 256]


def test_compound_rr_sdes_bye_keeps_order_and_drops_sdes_text():
    payload = (
        rr(0xAAAA0001, [block(0xBBBB0002, jitter=40)])
        + sdes(0xAAAA0001, b"alice@example.com")
        + bye([0xAAAA0001, 0xAAAA0002], reason=b"moving to 555-0199")
    )
    compound = parse_compound(payload)
    assert [p.packet_type for p in compound.packets] == [201, 202, 203]
    assert [p.ssrc for p in compound.packets] == [0xAAAA0001, 0xAAAA0001, 0xAAAA0001]
    assert compound.packets[0].reports[0].jitter_ts == 40
    assert compound.packets[1].reports == () and compound.packets[1].sender_info is None
    assert compound.packets[2].bye_ssrcs == (0xAAAA0001, 0xAAAA0002)
    text = repr(compound)
    assert "alice" not in text and "example" not in text and "555" not in text and "moving" not in text


def test_empty_receiver_report_and_bye_without_sources():
    compound = parse_compound(rr(0x01020304) + bye([]))
    assert [(p.packet_type, p.ssrc, p.reports, p.bye_ssrcs) for p in compound.packets] == [
        (201, 0x01020304, (), ()),
        (203, 0, (), ()),
    ]
    assert not compound.encrypted


def test_padding_on_last_packet_is_skipped():
    body = struct.pack("!I", 9) + block(ssrc=5, jitter=3) + b"\x00\x00\x00\x04"  # RFC 3550 §6.4.1 padding
    payload = rr(1) + header(201, 1, 4 + len(body), padding=True) + body
    compound = parse_compound(payload)
    assert not compound.encrypted
    assert compound.packets[1].reports[0].jitter_ts == 3


def test_short_trailing_junk_is_ignored():
    # X-Lite sends two zero bytes after its SDES (shanewa_SIP_call_RTP_G711.pcap frame 529).
    compound = parse_compound(rr(1, [block(jitter=9)]) + sdes(1, b"a@b") + b"\x00\x00")
    assert not compound.encrypted
    assert [p.packet_type for p in compound.packets] == [201, 202]


def test_feedback_and_app_keep_only_the_sender_ssrc():
    fb = header(205, 1, 16) + struct.pack("!III", 0xCAFE, 0xBEEF, 0x00010002)  # RFC 4585 generic NACK
    app = header(204, 0, 16) + struct.pack("!I", 0xCAFE) + b"name" + b"data"
    compound = parse_compound(rr(0xCAFE) + fb + app)
    assert [(p.packet_type, p.ssrc) for p in compound.packets] == [(201, 0xCAFE), (205, 0xCAFE), (204, 0xCAFE)]
    assert "data" not in repr(compound)


@pytest.mark.parametrize("seed", range(200))
def test_srtcp_with_e_flag_is_encrypted_and_keeps_the_clear_ssrc(seed):
    # RFC 3711 §3.4: RR header and SSRC in clear, then ciphertext, then E|SRTCP index and a 10-byte tag.
    rng = random.Random(seed)
    ciphertext = rng.randbytes(24 + 4 * rng.randrange(0, 20))
    payload = (
        header(201, 1, 32) + struct.pack("!I", 0x5EC2E7)
        + ciphertext + struct.pack("!I", 0x8000_0000 | rng.randrange(2**31)) + rng.randbytes(10)
    )  # fmt: skip
    compound = parse_compound(payload)
    assert compound.encrypted
    assert [(p.packet_type, p.ssrc, p.reports, p.sender_info) for p in compound.packets] == [
        (201, 0x5EC2E7, (), None)
    ]


@pytest.mark.parametrize("tag_len", [10, 4])
def test_srtcp_authenticated_only_is_readable(tag_len):
    # RFC 3711 §3.4: E=0 leaves the compound in clear; the index word and the tag follow it.
    plain = sr(0x77, 1, 2, 3, 4, 5, [block(ssrc=0x88, jitter=12)]) + sdes(0x77, b"x@y")
    compound = parse_compound(plain + struct.pack("!I", 42) + b"\xaa" * tag_len)
    assert not compound.encrypted
    assert [p.packet_type for p in compound.packets] == [200, 202]
    assert compound.packets[0].reports[0].jitter_ts == 12


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x80\xc8\x00\x06",  # shorter than header + SSRC
        bytes([0x80, 0x08, 0x12, 0x34]) + b"\x00" * 8,  # RTP PCMA
        bytes([0x80, 0x88, 0x12, 0x34]) + b"\x00" * 8,  # RTP PCMA, marker set
        bytes([0x40, 0xC8, 0x00, 0x06]) + b"\x00" * 24,  # version 1
        header(200, 0, 28)[:2] + b"\x00\x20" + b"\x00" * 24,  # length beyond the payload
        header(201, 2, 32) + b"\x00" * 28,  # two blocks announced, room for one
        header(203, 3, 8) + b"\x00" * 4,  # three BYE sources announced, room for one
    ],
)
def test_not_rtcp_or_malformed_first_header_gives_none(payload):
    assert parse_compound(payload) is None


@pytest.mark.parametrize(
    ("second_octet", "expected"),
    [(0, False), (8, False), (96, False), (127, False), (128, False), (136, False), (191, False),
     (192, True), (193, True), (200, True), (201, True), (202, True), (203, True), (204, True),
     (205, True), (206, True), (223, True), (224, False), (255, False)],
)  # fmt: skip
def test_is_rtcp_by_rfc5761_ranges(second_octet, expected):
    assert is_rtcp(bytes([0x80, second_octet]) + b"\x00" * 10) is expected


def test_is_rtcp_needs_version_2_and_8_bytes():
    assert not is_rtcp(bytes([0x40, 200]) + b"\x00" * 10)
    assert not is_rtcp(bytes([0x80, 200, 0, 1, 0, 0, 0]))
    assert is_rtcp(bytes([0x80, 200, 0, 1, 0, 0, 0, 0]))


# --- NTP middle 32 bits and round-trip time ---------------------------------------------------------------------


def unix_at_middle32(middle32: int, era_high16: int = 0xE8A0) -> float:
    """A plausible Unix time (2023) whose NTP middle 32 bits are `middle32`."""
    ntp = (era_high16 << 16 | middle32 >> 16) + (middle32 & 0xFFFF) / 65536
    return ntp - NTP_UNIX_OFFSET_S


def test_ntp_middle32_of_known_times():
    assert ntp_middle32(-NTP_UNIX_OFFSET_S) == 0  # 1900-01-01
    assert ntp_middle32(0.0) == ((NTP_UNIX_OFFSET_S & 0xFFFF) << 16)  # 1970-01-01, fraction 0
    assert ntp_middle32(0.5) == ((NTP_UNIX_OFFSET_S & 0xFFFF) << 16) | 0x8000
    assert ntp_middle32(unix_at_middle32(0xB7108000)) == 0xB7108000


def test_ntp_middle32_matches_sender_info_of_the_same_instant():
    msw, lsw = 0xC59286D4, 0xF645A1CB
    sender = parse_compound(sr(1, msw, lsw, 0, 0, 0)).packets[0].sender_info
    unix = sender.ntp_seconds - NTP_UNIX_OFFSET_S
    assert abs(ntp_middle32(unix) - sender.ntp_middle32) <= 1  # float rounding of the fraction


def test_rtt_rfc3550_worked_example():
    # RFC 3550 §6.4.1 fig. 2: A=0xb710:8000, LSR=0xb705:2000, DLSR=0x0005:4000 -> RTT 0x0006:2000 = 6.125 s.
    assert rtt_ms(unix_at_middle32(0xB7108000), 0xB7052000, 0x00054000) == pytest.approx(6125.0, abs=0.02)


def test_rtt_across_the_16_bit_seconds_wrap():
    arrival = unix_at_middle32(0x0000_8000)  # 0.5 s after the wrap
    assert rtt_ms(arrival, 0xFFFF_8000, 0x0000_4000) == pytest.approx(750.0, abs=0.02)


@pytest.mark.parametrize(
    ("a", "lsr", "dlsr"),
    [
        (0xB7108000, 0, 0x00054000),  # no SR received yet
        (0xB7108000, 0xB7052000, 0x00100000),  # negative
        (0xB7108000, 0xB6052000, 0x00000000),  # 267 s: absurd
    ],
)
def test_rtt_none_cases(a, lsr, dlsr):
    assert rtt_ms(unix_at_middle32(a), lsr, dlsr) is None


# --- real captures against tshark -------------------------------------------------------------------------------

RTCP_CAPTURES = [
    "shanewa_SIP_call_RTP_G711.pcap",
    "rtpproxy_rtcp.o.pcap",
    "ndpi_rtcp_multiple_pkts_in_the_same_datagram.pcap",
]


@functools.cache
def tshark_rtcp(name: str) -> dict[int, tuple[tuple[tuple[str, str], ...], ...]]:
    """Frame number -> one (field name, shown value) list per RTCP packet, in order, from tshark's PDML."""
    frames = {}
    for number, packet in pdml_packets(name, "rtcp"):
        frames[number] = tuple(
            tuple((f.get("name"), f.get("show")) for f in proto.iter("field"))
            for proto in packet.iter("proto")
            if proto.get("name") == "rtcp"
        )
    return frames


def values(fields, name: str) -> list[int]:
    return [int(show, 0) for field, show in fields if field == name]


@pytest.mark.parametrize("name", RTCP_CAPTURES)
def test_every_rtcp_packet_tshark_finds_parses_to_the_same_fields(name, pcaps):
    require_tool("tshark")
    expected = tshark_rtcp(name)
    assert expected, "tshark found no RTCP"
    payloads = udp_payloads(name)
    for number, tshark_packets in expected.items():
        compound = parse_compound(payloads[number])
        assert compound is not None and not compound.encrypted, number
        assert len(compound.packets) == len(tshark_packets), number
        for packet, fields in zip(compound.packets, tshark_packets):
            assert packet.packet_type == values(fields, "rtcp.pt")[0]
            if packet.packet_type not in (200, 201):
                continue
            assert [packet.ssrc] == values(fields, "rtcp.senderssrc")
            assert [b.ssrc for b in packet.reports] == values(fields, "rtcp.ssrc.identifier")
            assert [round(b.fraction_lost * 256) for b in packet.reports] == values(fields, "rtcp.ssrc.fraction")
            assert [b.cumulative_lost for b in packet.reports] == values(fields, "rtcp.ssrc.cum_nr")
            assert [b.highest_seq for b in packet.reports] == values(fields, "rtcp.ssrc.ext_high")
            assert [b.jitter_ts for b in packet.reports] == values(fields, "rtcp.ssrc.jitter")
            assert [b.lsr for b in packet.reports] == values(fields, "rtcp.ssrc.lsr")
            assert [b.dlsr for b in packet.reports] == values(fields, "rtcp.ssrc.dlsr")
            if packet.packet_type == 200:
                (msw,), (lsw,) = values(fields, "rtcp.timestamp.ntp.msw"), values(fields, "rtcp.timestamp.ntp.lsw")
                info = packet.sender_info
                assert info.ntp_seconds == msw + lsw / 2**32
                assert info.ntp_middle32 == (msw & 0xFFFF) << 16 | lsw >> 16
                assert [info.rtp_ts] == values(fields, "rtcp.timestamp.rtp")
                assert [info.packet_count] == values(fields, "rtcp.sender.packetcount")
                assert [info.octet_count] == values(fields, "rtcp.sender.octetcount")
            else:
                assert packet.sender_info is None


def test_real_sdes_cname_is_not_kept(pcaps):
    payload = udp_payloads("shanewa_SIP_call_RTP_G711.pcap")[529]  # SR + RR + SDES "unknown@200.57.7.204"
    assert b"unknown@" in payload
    assert "unknown" not in repr(parse_compound(payload))


@pytest.mark.parametrize("name", ["shanewa_SIP_call_RTP_G711.pcap", "rtpproxy_rtcp.o.pcap"])
def test_rtp_packets_are_not_taken_for_rtcp(name, pcaps):
    require_tool("tshark")
    rtp_frames = subprocess.run(
        ["tshark", "-r", str(PCAPS / name), "-d", "udp.port==2008,rtp", "-Y", "rtp", "-T", "fields",
         "-e", "frame.number"],
        capture_output=True, check=True, text=True,
    ).stdout.split()  # fmt: skip
    assert rtp_frames
    payloads = udp_payloads(name)
    assert not [n for n in rtp_frames if is_rtcp(payloads[int(n)])]


# --- never raise ------------------------------------------------------------------------------------------------

u32 = st.integers(0, 2**32 - 1)
blocks = st.lists(
    st.builds(block, u32, st.integers(0, 255), st.integers(-(2**23), 2**23 - 1), u32, u32, u32, u32),
    max_size=3,
)
valid_packets = st.one_of(
    st.builds(sr, u32, u32, u32, u32, u32, u32, blocks),
    st.builds(rr, u32, blocks),
    st.builds(sdes, u32, st.binary(max_size=40)),
    st.builds(bye, st.lists(u32, max_size=3), st.binary(max_size=20)),
)
valid_compounds = st.lists(valid_packets, min_size=1, max_size=4)


def assert_read_from_the_bytes(data: bytes, result: RtcpCompound | None) -> None:
    """What any parse must agree with, whatever the bytes: RTCP is told from RTP by RFC 5761 §4 (version 2, second
    octet 192-223, at least a header and an SSRC), and the first packet is the first header's type and SSRC."""
    assert is_rtcp(data) is (len(data) >= 8 and data[0] >> 6 == 2 and 192 <= data[1] <= 223)
    if result is None:
        return
    assert is_rtcp(data) and result.packets, data.hex()
    first = result.packets[0]
    assert first.packet_type == data[1]
    if first.packet_type in (200, 201) or result.encrypted:  # SR, RR: the sender's SSRC follows the header
        assert first.ssrc == struct.unpack_from("!I", data, 4)[0]
    if not result.encrypted:
        assert all(192 <= packet.packet_type <= 223 for packet in result.packets)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data):
    assert_read_from_the_bytes(data, parse_compound(data))


@settings(max_examples=300)
@given(
    st.binary(min_size=2, max_size=2).map(lambda b: bytes([0x80 | b[0] & 0x3F, 192 + b[1] % 32])),
    st.binary(max_size=120),
)
def test_rtcp_looking_bytes_never_raise(head, rest):
    assert_read_from_the_bytes(head + rest, parse_compound(head + rest))


@settings(max_examples=300)
@given(valid_compounds, st.data())
def test_valid_compounds_parse_whole_and_truncations_never_raise(parts, draw):
    data = b"".join(parts)
    compound = parse_compound(data)
    assert_read_from_the_bytes(data, compound)
    if is_rtcp(data):  # a lone BYE without sources is 4 bytes, too short to tell from noise
        assert compound is not None and not compound.encrypted
        assert [packet.packet_type for packet in compound.packets] == [part[1] for part in parts]
    cut = draw.draw(st.integers(0, len(data)))
    truncated = parse_compound(data[:cut])
    assert_read_from_the_bytes(data[:cut], truncated)
    if truncated is not None and not truncated.encrypted:  # the packets a cut leaves whole read as before
        assert compound is not None and truncated.packets == compound.packets[:len(truncated.packets)]


@settings(max_examples=300)
@given(st.floats(0, 2**31, allow_nan=False), u32, st.integers(-65536, 70 * 65536), u32)
def test_rtt_is_rfc3550_arithmetic_or_none(arrival, dlsr, rtt_units, noise_lsr):
    # RFC 3550 §6.4.1: RTT = A - LSR - DLSR in 1/65536 s, modulo 2**32. The report is built to echo an SR sent
    # rtt_units before A - DLSR; none without an SR (LSR 0), below zero, or above the 60 s the module takes for a
    # round trip. An LSR drawn at random instead (noise_lsr) is almost always one of those.
    lsr = (ntp_middle32(arrival) - dlsr - rtt_units) % 2**32
    expected = None if lsr == 0 or not 0 <= rtt_units <= 60 * 65536 else rtt_units * 1000 / 65536
    assert rtt_ms(arrival, lsr, dlsr) == (None if expected is None else pytest.approx(expected, rel=1e-12))
    units = (ntp_middle32(arrival) - noise_lsr - dlsr) % 2**32
    noise = rtt_ms(arrival, noise_lsr, dlsr)
    assert noise is None if noise_lsr == 0 or units > 60 * 65536 else noise == pytest.approx(units * 1000 / 65536)

"""udp_datagram against tshark on the shared real captures, and against frames built here byte by byte."""

from __future__ import annotations

import io
import socket
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality import decode
from homeshore.quality.decode import format_address, udp_datagram
from homeshore.quality.pcapfile import CaptureReader
from tests.conftest import PCAPS, require_tool

REAL_CAPTURES = sorted(p.name for p in PCAPS.glob("*.pcap*")) if PCAPS.is_dir() else []
LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]

# ---- builders -----------------------------------------------------------------------------------------

V4_SRC, V4_DST = socket.inet_pton(socket.AF_INET, "10.1.2.3"), socket.inet_pton(socket.AF_INET, "192.0.2.250")
V6_SRC = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
V6_DST = socket.inet_pton(socket.AF_INET6, "fe80::1:2:3:4")
PAYLOAD = b"\x80\x08\x00\x01" + bytes(range(40))  # an RTP-looking payload of 44 bytes


def udp(payload: bytes = PAYLOAD, sport: int = 5004, dport: int = 40376, length: int | None = None) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload) if length is None else length, 0) + payload


def ipv4(
    payload: bytes, proto: int = 17, options: bytes = b"", frag: int = 0x4000, total_len: int | None = None
) -> bytes:
    header_len = 20 + len(options)
    length = header_len + len(payload) if total_len is None else total_len
    return (
        struct.pack("!BBHHHBBH4s4s", 0x40 | header_len // 4, 0xB8, length, 0x1234, frag, 64, proto, 0, V4_SRC, V4_DST)
        + options
        + payload
    )


def ipv6(payload: bytes, next_header: int = 17, payload_len: int | None = None) -> bytes:
    length = len(payload) if payload_len is None else payload_len
    return struct.pack("!IHBB16s16s", 0x6B800000, length, next_header, 64, V6_SRC, V6_DST) + payload


def ext(next_header: int, units: int = 0) -> bytes:
    """An IPv6 extension header of (units + 1) * 8 octets (RFC 8200 section 4.2: PadN filled)."""
    return bytes([next_header, units, 1, 4 + units * 8]) + bytes(4 + units * 8)


def routing(next_header: int) -> bytes:
    """A routing header, type 0 with no segments left and one address (24 octets)."""
    return bytes([next_header, 2, 0, 0]) + bytes(4) + V6_DST


def fragment_header(next_header: int, offset: int, more: bool) -> bytes:
    return struct.pack("!BBHI", next_header, 0, offset << 3 | more, 0xCAFE)


def ether(ethertype: int, payload: bytes, *tags: int) -> bytes:
    vlans = b"".join(struct.pack("!HH", tpid, 100 + i) for i, tpid in enumerate(tags))
    return bytes.fromhex("0011223344556677889900aa") + vlans + struct.pack("!H", ethertype) + payload


def sll(protocol: int, payload: bytes) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, bytes.fromhex("0011223344550000"), protocol) + payload


def sll2(protocol: int, payload: bytes) -> bytes:
    return struct.pack("!HHIHBB8s", protocol, 0, 3, 1, 0, 6, bytes.fromhex("0011223344550000")) + payload


def null(family: int, payload: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "I", family) + payload


def ok(start: int, addresses: str = "v4", sport: int = 5004, dport: int = 40376, size: int = len(PAYLOAD)):
    src, dst = (V4_SRC, V4_DST) if addresses == "v4" else (V6_SRC, V6_DST)
    return src, sport, dst, dport, start, start + size


IP4_UDP = ipv4(udp())
IP6_UDP = ipv6(udp())
ICMP_UNREACHABLE = struct.pack("!BBHI", 3, 3, 0, 0) + ipv4(udp(b""))[:28]

# (id, linktype, frame, expected)
CASES = [
    ("eth-ipv4", 1, ether(0x0800, IP4_UDP), ok(42)),
    ("eth-ipv4-padding", 1, ether(0x0800, ipv4(udp(b"abcd"))) + bytes(14), ok(42, size=4)),
    ("eth-ipv4-fcs-trailer", 1, ether(0x0800, IP4_UDP) + b"\xde\xad\xbe\xef", ok(42)),
    ("eth-ipv4-options", 1, ether(0x0800, ipv4(udp(), options=b"\x94\x04\x00\x00")), ok(46)),
    ("eth-ipv4-long-options", 1, ether(0x0800, ipv4(udp(), options=b"\x01" * 40)), ok(82)),
    ("eth-ipv4-dont-fragment-clear", 1, ether(0x0800, ipv4(udp(), frag=0)), ok(42)),
    ("eth-ipv4-first-fragment", 1, ether(0x0800, ipv4(udp(), frag=0x2000)), None),
    ("eth-ipv4-later-fragment", 1, ether(0x0800, ipv4(udp(), frag=185)), None),
    ("eth-ipv4-total-length-0", 1, ether(0x0800, ipv4(udp(), total_len=0)), ok(42)),
    ("eth-ipv4-total-length-short", 1, ether(0x0800, ipv4(udp(), total_len=30)), None),
    ("eth-ipv4-total-length-below-header", 1, ether(0x0800, ipv4(udp(), total_len=12)), None),
    ("eth-ipv4-ihl-below-5", 1, ether(0x0800, b"\x44" + IP4_UDP[1:]), None),
    ("eth-ipv4-udp-length-long", 1, ether(0x0800, ipv4(udp(length=200))), None),
    ("eth-ipv4-udp-length-short", 1, ether(0x0800, ipv4(udp(length=20))), ok(42, size=12)),
    ("eth-ipv4-udp-length-below-8", 1, ether(0x0800, ipv4(udp(length=7))), None),
    ("eth-ipv4-snaplen-cut", 1, ether(0x0800, IP4_UDP)[:60], None),
    ("eth-ipv4-header-cut", 1, ether(0x0800, IP4_UDP)[:30], None),
    ("eth-ipv4-tcp", 1, ether(0x0800, ipv4(udp(), proto=6)), None),
    ("eth-ipv4-icmp-quoting-udp", 1, ether(0x0800, ipv4(ICMP_UNREACHABLE, proto=1)), None),
    ("eth-arp", 1, ether(0x0806, bytes.fromhex("0001080006040001") + bytes(20)), None),
    ("eth-802.3-llc", 1, ether(0x0026, b"\x42\x42\x03" + bytes(40)), None),
    ("eth-ipv4-version-6", 1, ether(0x0800, IP6_UDP), ok(62, "v6")),
    ("eth-ipv6-version-4", 1, ether(0x86DD, IP4_UDP), None),
    ("eth-vlan", 1, ether(0x0800, IP4_UDP, 0x8100), ok(46)),
    ("eth-qinq-88a8", 1, ether(0x0800, IP4_UDP, 0x88A8, 0x8100), ok(50)),
    ("eth-qinq-9100", 1, ether(0x86DD, IP6_UDP, 0x9100, 0x8100, 0x8100), ok(74, "v6")),
    ("eth-vlan-cut", 1, ether(0x0800, b"", 0x8100, 0x8100)[:20], None),
    ("eth-ipv6", 1, ether(0x86DD, IP6_UDP), ok(62, "v6")),
    ("eth-ipv6-padding", 1, ether(0x86DD, ipv6(udp(b"ab"))) + bytes(8), ok(62, "v6", size=2)),
    ("eth-ipv6-hop-by-hop", 1, ether(0x86DD, ipv6(ext(17) + udp(), next_header=0)), ok(70, "v6")),
    (
        "eth-ipv6-hop-routing-dstopts",
        1,
        ether(0x86DD, ipv6(ext(43) + routing(60) + ext(17, 1) + udp(), next_header=0)),
        ok(62 + 8 + 24 + 16, "v6"),
    ),
    ("eth-ipv6-ah", 1, ether(0x86DD, ipv6(bytes([17, 4]) + bytes(22) + udp(), next_header=51)), ok(86, "v6")),
    ("eth-ipv6-atomic-fragment", 1, ether(0x86DD, ipv6(fragment_header(17, 0, False) + udp(), 44)), ok(70, "v6")),
    ("eth-ipv6-first-fragment", 1, ether(0x86DD, ipv6(fragment_header(17, 0, True) + udp(), 44)), None),
    ("eth-ipv6-last-fragment", 1, ether(0x86DD, ipv6(fragment_header(17, 181, False) + udp(), 44)), None),
    ("eth-ipv6-tcp", 1, ether(0x86DD, ipv6(udp(), next_header=6)), None),
    ("eth-ipv6-no-next-header", 1, ether(0x86DD, ipv6(b"", next_header=59)), None),
    ("eth-ipv6-ext-cut", 1, ether(0x86DD, ipv6(ext(17, 3)[:12], next_header=0)), None),
    ("eth-ipv6-payload-length-0", 1, ether(0x86DD, ipv6(udp(), payload_len=0)), None),
    ("eth-ipv6-payload-length-short", 1, ether(0x86DD, ipv6(udp(), payload_len=20)), None),
    ("eth-ipv6-udp-length-0", 1, ether(0x86DD, ipv6(udp(length=0))), None),
    ("sll-ipv4", 113, sll(0x0800, IP4_UDP), ok(44)),
    ("sll-ipv6", 113, sll(0x86DD, IP6_UDP), ok(64, "v6")),
    ("sll-vlan", 113, sll(0x8100, b"\x00\x05\x08\x00" + IP4_UDP), ok(48)),
    ("sll-arp", 113, sll(0x0806, bytes(28)), None),
    ("sll2-ipv4", 276, sll2(0x0800, IP4_UDP), ok(48)),
    ("sll2-ipv6", 276, sll2(0x86DD, IP6_UDP), ok(68, "v6")),
    ("null-le-inet", 0, null(2, IP4_UDP), ok(32)),
    ("null-be-inet", 0, null(2, IP4_UDP, ">"), ok(32)),
    ("null-le-inet6-24", 0, null(24, IP6_UDP), ok(52, "v6")),
    ("null-le-inet6-28", 0, null(28, IP6_UDP), ok(52, "v6")),
    ("null-be-inet6-30", 0, null(30, IP6_UDP, ">"), ok(52, "v6")),
    ("null-unknown-family", 0, null(7, IP4_UDP), None),
    ("null-family-says-v4-packet-is-v6", 0, null(2, IP6_UDP), ok(52, "v6")),
    ("null-family-says-v6-packet-is-v4", 0, null(30, IP4_UDP), None),
    ("loop-inet", 108, null(2, IP4_UDP, ">"), ok(32)),
    ("loop-inet6", 108, null(24, IP6_UDP, ">"), ok(52, "v6")),
    ("raw-ipv4", 101, IP4_UDP, ok(28)),
    ("raw-ipv6", 101, IP6_UDP, ok(48, "v6")),
    ("raw-ipv6-hop-by-hop", 101, ipv6(ext(17) + udp(), next_header=0), ok(56, "v6")),
    ("raw-version-5", 101, b"\x55" + IP4_UDP[1:], None),
    ("dlt12-ipv4", 12, IP4_UDP, ok(28)),
    ("dlt14-ipv6", 14, IP6_UDP, ok(48, "v6")),
    ("ipv4-linktype", 228, IP4_UDP, ok(28)),
    ("ipv6-linktype", 229, IP6_UDP, ok(48, "v6")),
    ("unknown-linktype", 147, ether(0x0800, IP4_UDP), None),
]


@pytest.mark.parametrize("linktype, frame, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_built_frames(linktype: int, frame: bytes, expected: tuple | None) -> None:
    assert udp_datagram(linktype, frame) == expected


@pytest.mark.parametrize("linktype", LINKTYPES)
def test_empty_and_tiny_frames(linktype: int) -> None:
    for size in range(0, 64):
        assert udp_datagram(linktype, bytes(size)) is None


def test_format_address() -> None:
    assert format_address(V4_SRC) == "10.1.2.3"
    assert format_address(V6_DST) == "fe80::1:2:3:4"
    assert format_address(bytes(16)) == "::"
    assert format_address(socket.inet_pton(socket.AF_INET6, "2001:db8:0:0:1:0:0:1")) == "2001:db8::1:0:0:1"


# ---- against tshark -----------------------------------------------------------------------------------

TSHARK_FIELDS = [
    "frame.protocols", "udp.srcport", "udp.dstport", "udp.length", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "ip.flags.mf", "ip.frag_offset", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
]  # fmt: skip


def tshark_udp(path: Path) -> list[tuple[str, int, str, int, int] | None]:
    """Per frame, what tshark says our decoder must find: the outermost UDP directly in the outermost IP
    (not the copy quoted in an ICMP error), unless that IP packet is a fragment."""
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    out = subprocess.run(cmd + [a for f in TSHARK_FIELDS for a in ("-e", f)], capture_output=True, text=True)
    rows = []
    for line in out.stdout.splitlines():
        protocols, sport, dport, length, src4, dst4, src6, dst6, mf, offset, offset6, more6 = line.split("\t")
        layers = protocols.split(":")
        ip = next((i for i, layer in enumerate(layers) if layer in ("ip", "ipv6")), None)
        if ip is None:
            rows.append(None)
            continue
        if layers[ip : ip + 2] == ["ip", "ipv6"]:
            ip += 1  # an IPv6 packet labelled IPv4: Wireshark follows the version nibble, as we do
        above = ip + 1
        while above < len(layers) and (layers[above].startswith("ipv6.") or layers[above] == "ah"):
            above += 1
        if not sport:
            rows.append(None)  # a UDP layer too short for its ports
            continue
        fragment = mf == "1" or offset not in ("", "0") or more6 == "1" or offset6 not in ("", "0")
        if above == len(layers) or layers[above] != "udp" or fragment:
            rows.append(None)
        elif layers[ip] == "ip":
            rows.append((src4, int(sport), dst4, int(dport), int(length) - 8))
        else:
            rows.append((src6, int(sport), dst6, int(dport), int(length) - 8))
    return rows


def ours(path: Path) -> list[tuple[str, int, str, int, int] | None]:
    rows = []
    with open(path, "rb") as f:
        for _ts, linktype, frame in CaptureReader(f, path.name).frames():
            found = udp_datagram(linktype, frame)
            if found is None:
                rows.append(None)
            else:
                src, sport, dst, dport, start, end = found
                rows.append((format_address(src), sport, format_address(dst), dport, end - start))
    return rows


@pytest.fixture(scope="module")
def tshark_real() -> dict[str, list]:
    require_tool("tshark")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(REAL_CAPTURES, pool.map(lambda name: tshark_udp(PCAPS / name), REAL_CAPTURES)))


@pytest.mark.parametrize("name", REAL_CAPTURES)
def test_real_capture_matches_tshark(name: str, tshark_real: dict[str, list]) -> None:
    expected = tshark_real[name]
    got = ours(PCAPS / name)
    assert len(got) == len(expected)
    mismatches = [(i + 1, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert mismatches == [], f"frame, ours, tshark: {mismatches[:5]}"


def _pcapng(frames: list[tuple[int, bytes]]) -> bytes:
    """One pcapng section, one interface per link type used."""

    def block(btype: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    linktypes = sorted({lt for lt, _ in frames})
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out += [block(1, struct.pack("<HHI", lt, 0, 0)) for lt in linktypes]
    for i, (lt, frame) in enumerate(frames):
        ts = 1_700_000_000_000_000 + i
        header = struct.pack("<IIIII", linktypes.index(lt), ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
        out.append(block(6, header + frame))
    return b"".join(out)


# tshark still dissects a UDP header whose length runs past the IP packet or the capture, or is below 8
# (it flags the packet malformed); we return None, because the payload is not whole.
STRICTER_THAN_TSHARK = {
    "eth-ipv4-total-length-short",
    "eth-ipv4-udp-length-long",
    "eth-ipv4-udp-length-below-8",
    "eth-ipv4-snaplen-cut",
    "eth-ipv6-payload-length-short",
    "eth-ipv6-udp-length-0",
}


def test_built_frames_match_tshark(tmp_path: Path) -> None:
    """The table above, written to a pcapng, read by our reader and by tshark: same verdicts.

    DLT 12/14 are left out: Wireshark maps those numbers differently per platform."""
    require_tool("tshark")
    cases = [c for c in CASES if c[1] not in (12, 14, 147) and c[0] not in STRICTER_THAN_TSHARK]
    path = tmp_path / "built.pcapng"
    path.write_bytes(_pcapng([(lt, frame) for _, lt, frame, _ in cases]))
    got, expected = ours(path), tshark_udp(path)
    assert len(got) == len(expected) == len(cases)
    assert [(c[0], g) for c, g in zip(cases, got)] == [(c[0], e) for c, e in zip(cases, expected)]


# ---- properties ---------------------------------------------------------------------------------------


def _valid(found: tuple | None, frame: bytes) -> bool:
    if found is None:
        return True
    src, sport, dst, dport, start, end = found
    return len(src) == len(dst) in (4, 16) and 0 <= sport < 65536 and 0 <= dport < 65536 and start <= end <= len(frame)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(LINKTYPES + [147, -1, 2**31]), st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(linktype: int, frame: bytes) -> None:
    assert _valid(udp_datagram(linktype, frame), frame)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(CASES), st.data())
def test_damaged_frames_never_raise(case: tuple, data: st.DataObject) -> None:
    _, linktype, frame, _ = case
    damaged = bytearray(frame[: data.draw(st.integers(0, len(frame)))])
    for _ in range(data.draw(st.integers(0, 4)) if damaged else 0):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    assert _valid(udp_datagram(linktype, bytes(damaged)), bytes(damaged))


@settings(max_examples=500, deadline=None)
@given(
    st.binary(min_size=4, max_size=4),
    st.binary(min_size=4, max_size=4),
    st.integers(0, 65535),
    st.integers(0, 65535),
    st.binary(max_size=1472),
    st.integers(0, 255),
)
def test_fast_path_agrees_with_the_general_path(
    src: bytes, dst: bytes, sport: int, dport: int, payload: bytes, tos: int
) -> None:
    """Ethernet/IPv4/UDP goes through the one-unpack fast path; the same packet as raw IP does not."""
    packet = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 28 + len(payload), 1, 0, 64, 17, 0, src, dst)
    packet += struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    frame = ether(0x0800, packet) + bytes(max(0, 60 - 14 - len(packet)))
    assert udp_datagram(1, frame) == (src, sport, dst, dport, 42, 42 + len(payload))
    assert udp_datagram(101, packet) == (src, sport, dst, dport, 28, 28 + len(payload))


def test_linktype_constants() -> None:
    assert (decode.LINKTYPE_NULL, decode.LINKTYPE_ETHERNET, decode.LINKTYPE_RAW) == (0, 1, 101)
    assert (decode.LINKTYPE_LOOP, decode.LINKTYPE_LINUX_SLL, decode.LINKTYPE_LINUX_SLL2) == (108, 113, 276)
    assert (decode.LINKTYPE_IPV4, decode.LINKTYPE_IPV6) == (228, 229)


def test_reader_and_decoder_together_on_a_built_capture() -> None:
    data = _pcapng([(1, ether(0x0800, IP4_UDP)), (276, sll2(0x86DD, IP6_UDP)), (0, null(2, IP4_UDP))])
    payloads = [frame[found[4] : found[5]] for _, lt, frame in CaptureReader(io.BytesIO(data)).frames()
                if (found := udp_datagram(lt, frame))]  # fmt: skip
    assert payloads == [PAYLOAD] * 3

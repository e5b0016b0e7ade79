"""CaptureReader against tshark on the shared real captures, and against captures built here byte by byte."""

from __future__ import annotations

import io
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality import pcapfile
from homeshore.quality.pcapfile import CHUNK_SIZE, CaptureError, CaptureReader
from tests.conftest import PCAPS, require_tool

REAL_CAPTURES = sorted(p.name for p in PCAPS.glob("*.pcap*")) if PCAPS.is_dir() else []

SHB, IDB, PB, SPB, NRB, ISB, EPB, CUSTOM = 0x0A0D0D0A, 1, 2, 3, 4, 5, 6, 0x00000BAD


# ---- builders -----------------------------------------------------------------------------------------


def pcap(records: list[tuple[int, int, bytes]], *, order: str = "<", nano: bool = False, linktype: int = 1) -> bytes:
    """A pcap file; records are (seconds, fraction in µs or ns, frame)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for sec, frac, frame in records:
        out.append(struct.pack(order + "IIII", sec, frac, len(frame), len(frame) + 4) + frame)
    return b"".join(out)


def block(btype: int, body: bytes, order: str = "<") -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack(order + "II", btype, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def shb(order: str = "<") -> bytes:
    return block(SHB, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1) + option(0, b"", order), order)


def idb(linktype: int, *options: bytes, order: str = "<") -> bytes:
    return block(IDB, struct.pack(order + "HHI", linktype, 0, 0) + b"".join(options), order)


def tsresol(value: int, order: str = "<") -> bytes:
    return option(9, bytes([value]), order)


def epb(iface: int, ts: int, frame: bytes, order: str = "<", options: bytes = b"") -> bytes:
    header = struct.pack(order + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
    return block(EPB, header + frame + bytes(-len(frame) % 4) + options, order)


def spb(frame: bytes, order: str = "<") -> bytes:
    return block(SPB, struct.pack(order + "I", len(frame)) + frame, order)


def obsolete_pb(iface: int, ts: int, frame: bytes, order: str = "<") -> bytes:
    header = struct.pack(order + "HHIIII", iface, 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
    return block(PB, header + frame, order)


def read_all(data: bytes) -> tuple[list[tuple[float, int, bytes]], CaptureReader]:
    reader = CaptureReader(io.BytesIO(data), "test.pcap")
    return list(reader.frames()), reader


class Trickle(io.RawIOBase):
    """A pipe-like file: every read returns at most `step` bytes; records the sizes asked for."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step
        self.asked: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        n = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


FRAMES = [bytes([i]) * length for i, length in enumerate((60, 61, 75, 90, 43, 1, 0, 1514))]


# ---- against tshark on the real captures --------------------------------------------------------------


@pytest.fixture(scope="module")
def tshark_times() -> dict[str, list[str]]:
    require_tool("tshark")

    def run(name: str) -> tuple[str, list[str]]:
        out = subprocess.run(
            ["tshark", "-n", "-r", str(PCAPS / name), "-T", "fields", "-e", "frame.time_epoch"],
            capture_output=True, text=True, check=True,
        ).stdout
        return name, out.split()

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, REAL_CAPTURES))


@pytest.mark.parametrize("name", REAL_CAPTURES)
def test_real_capture_matches_tshark(name: str, tshark_times: dict[str, list[str]]) -> None:
    expected = tshark_times[name]
    with open(PCAPS / name, "rb") as f:
        reader = CaptureReader(f, name)
        got = [ts for ts, _linktype, _frame in reader.frames()]
    assert len(got) == len(expected) == reader.frames_read
    assert got[0] == pytest.approx(float(expected[0]), abs=1e-6)
    assert got[-1] == pytest.approx(float(expected[-1]), abs=1e-6)
    assert all(abs(g - float(e)) <= 1e-6 for g, e in zip(got, expected))
    assert reader.warnings == []
    assert reader.bytes_read == (PCAPS / name).stat().st_size


# ---- pcap ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(order: str, nano: bool) -> None:
    units = 10**9 if nano else 10**6
    records = [(1_700_000_000 + i, (123_456_789 if nano else 123_456) + i, f) for i, f in enumerate(FRAMES)]
    frames, reader = read_all(pcap(records, order=order, nano=nano, linktype=113))
    assert [f for _, _, f in frames] == FRAMES
    assert all(type(f) is bytes for _, _, f in frames)
    assert {lt for _, lt, _ in frames} == {113}
    for (ts, _, _), (sec, frac, _) in zip(frames, records):
        assert ts == pytest.approx(float(Fraction(sec) + Fraction(frac, units)), abs=5e-7)
    assert reader.warnings == [] and reader.frames_read == len(FRAMES)


def test_pcap_nanoseconds_are_kept() -> None:
    frames, _ = read_all(pcap([(10, 999_999_999, b"x"), (11, 1, b"y")], nano=True))
    assert frames[0][0] == 10.999999999 and frames[1][0] == 11.000000001


def test_pcap_fcs_bits_of_the_linktype_are_masked() -> None:
    # draft-ietf-opsawg-pcap section 4: P bit (26) set, FCS length 2 (x 16 bits) in bits 28-31
    frames, _ = read_all(pcap([(1, 0, b"frame")], linktype=(2 << 28) | (1 << 26) | 1))
    assert frames[0][1] == 1


def test_pcap_record_longer_than_a_chunk() -> None:
    big = bytes(range(256)) * 1000  # 256,000 bytes: < 262144, > CHUNK_SIZE
    assert CHUNK_SIZE < len(big) <= pcapfile.MAX_FRAME_LEN
    frames, reader = read_all(pcap([(1, 0, b"a"), (2, 0, big), (3, 0, b"c")]))
    assert [f for _, _, f in frames] == [b"a", big, b"c"] and reader.warnings == []


def test_pcap_streams_in_chunks_and_survives_short_reads() -> None:
    records = [(i, 0, FRAMES[i % len(FRAMES)]) for i in range(2000)]  # ~ 600 KB: several chunks
    data = pcap(records)
    trickle = Trickle(data, step=7)
    reader = CaptureReader(trickle, "pipe")
    assert [f for _, _, f in reader.frames()] == [f for _, _, f in records]
    assert reader.warnings == [] and reader.bytes_read == len(data)
    assert max(trickle.asked) <= CHUNK_SIZE  # never the whole file at once


def test_frames_iterates_once() -> None:
    reader = CaptureReader(io.BytesIO(pcap([(1, 0, b"x")])))
    list(reader.frames())
    with pytest.raises(RuntimeError):
        reader.frames()


def test_counters_are_exact_after_a_break() -> None:
    reader = CaptureReader(io.BytesIO(pcap([(i, 0, b"abcd") for i in range(10)])))
    frames = reader.frames()
    for i, _ in enumerate(frames):
        if i == 3:
            break
    frames.close()
    assert reader.frames_read == 4 and reader.bytes_read == 24 + 4 * 20


# ---- pcapng -------------------------------------------------------------------------------------------


def test_pcapng_interfaces_resolutions_and_block_kinds() -> None:
    ns_ts = 1_700_000_000_123_456_789  # if_tsresol 10^-9
    pow2_ts = 1_700_000_000 * 2**20 + 2**19  # if_tsresol 2^-20: .5 s
    data = b"".join(
        [
            shb(),
            idb(1, tsresol(9), option(0, b"")),
            idb(101, option(2, b"raw0"), tsresol(0x80 | 20)),
            epb(0, ns_ts, b"eth-frame", options=option(1, b"a comment") + option(0, b"")),
            block(NRB, b"\x00\x00\x00\x00"),  # name resolution: skipped
            epb(1, pow2_ts, b"raw-frame"),
            spb(b"simple"),  # interface 0, timestamp of the previous packet
            block(ISB, struct.pack("<III", 0, 0, 0)),  # interface statistics: skipped
            block(CUSTOM, b"\x00\x00\x7e\xd9custom data"),
            obsolete_pb(1, pow2_ts + 2**20, b"old-block"),
        ]
    )
    frames, reader = read_all(data)
    assert frames == [
        (float(Fraction(ns_ts, 10**9)), 1, b"eth-frame"),
        (1_700_000_000.5, 101, b"raw-frame"),
        (1_700_000_000.5, 1, b"simple"),
        (1_700_000_001.5, 101, b"old-block"),
    ]
    assert reader.warnings == [] and reader.frames_read == 4 and reader.bytes_read == len(data)


def test_pcapng_sections_of_both_byte_orders_reset_interfaces() -> None:
    data = b"".join(
        [
            shb("<"),
            idb(1),  # default resolution: µs
            epb(0, 1_000_000, b"first"),
            shb(">"),
            idb(113, tsresol(3, ">"), order=">"),
            idb(276, order=">"),
            epb(1, 2_000_000, b"second", order=">"),
            epb(0, 3_000, b"third", order=">"),
            shb("<"),
            idb(0),
            epb(0, 4_000_000, b"fourth"),
        ]
    )
    frames, reader = read_all(data)
    assert frames == [(1.0, 1, b"first"), (2.0, 276, b"second"), (3.0, 113, b"third"), (4.0, 0, b"fourth")]
    assert reader.warnings == []


def test_pcapng_if_tsoffset_is_added() -> None:
    data = shb() + idb(1, option(14, struct.pack("<q", 1_600_000_000))) + epb(0, 2_500_000, b"x")
    assert read_all(data)[0] == [(1_600_000_002.5, 1, b"x")]


def test_pcapng_spb_is_cut_to_the_original_length() -> None:
    body = struct.pack("<I", 3) + b"abcdefgh"  # original length 3, block holds 8
    frames, _ = read_all(shb() + idb(1) + block(SPB, body))
    assert frames == [(0.0, 1, b"abc")]


def test_pcapng_block_longer_than_a_chunk_is_skipped() -> None:
    data = shb() + idb(1) + block(CUSTOM, bytes(3 * CHUNK_SIZE)) + epb(0, 5_000_000, b"after")
    assert read_all(data)[0] == [(5.0, 1, b"after")]


# ---- not a capture, damaged captures ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, start",
    [
        (b"", "empty file"),
        (b"Hello, this is a text file.\nNot a capture at all.\n", "not a capture file (pcap or pcapng)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01" + bytes(100), "not a capture file"),
        (b"\n\r\r\nnot a section header, a text line", "not a capture file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "corrupt capture"),
        (pcap([])[:20], "corrupt capture"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 9, 4, 0, 0, 65535, 1), "corrupt capture"),
        (shb()[:14], "corrupt capture"),
        (struct.pack("<IIIHH", SHB, 28, 0x1A2B3C4D, 2, 0) + bytes(16), "corrupt capture"),
        (struct.pack("<IIIHH", SHB, 13, 0x1A2B3C4D, 1, 0) + bytes(16), "corrupt capture"),
    ],
)
def test_not_a_capture_raises_a_one_line_capture_error(data: bytes, start: str) -> None:
    with pytest.raises(CaptureError) as err:
        CaptureReader(io.BytesIO(data), "some-file.bin")
    message = str(err.value)
    assert message.startswith(start) and "some-file.bin" in message and "\n" not in message


def _truncation_cases() -> list[tuple[str, bytes, list[int], int]]:
    """(format, file, record ends, cut offset) for every offset within the last three records."""
    cases = []
    records = [(1_700_000_000 + i, i, f) for i, f in enumerate(FRAMES[:6])]
    head = pcap([])
    data, ends = head, []
    for rec in records:
        data += pcap([rec])[len(head) :]
        ends.append(len(data))
    cases += [("pcap", data, ends, cut) for cut in range(ends[-4], len(data))]
    data = shb() + idb(1)
    ends = []
    for i, f in enumerate(FRAMES[:6]):
        data += epb(0, 1_700_000_000_000_000 + i, f)
        ends.append(len(data))
    cases += [("pcapng", data, ends, cut) for cut in range(ends[-4], len(data))]
    return cases


@pytest.mark.parametrize(
    "fmt, data, ends, cut", _truncation_cases(), ids=lambda v: v if isinstance(v, (str, int)) else ""
)
def test_truncated_capture_yields_complete_records_and_one_warning(
    fmt: str, data: bytes, ends: list[int], cut: int
) -> None:
    frames, reader = read_all(data[:cut])
    complete = sum(end <= cut for end in ends)
    assert len(frames) == complete == reader.frames_read
    assert [f for _, _, f in frames] == FRAMES[:complete]
    if cut in ends:
        assert reader.warnings == []
    else:
        assert reader.warnings == [f"truncated capture: last record cut at byte {cut}; analysed up to the cut"]
    assert reader.bytes_read == ends[complete - 1]


@pytest.mark.parametrize(
    "data",
    [
        pcap([(1, 0, b"good")]) + struct.pack("<IIII", 2, 0, 300_000, 300_000) + bytes(300_000),
        pcap([(1, 0, b"good")]) + struct.pack("<IIII", 2, 0, 0xFFFFFFF0, 64) + bytes(64),
        shb() + idb(1) + epb(0, 1_000_000, b"good") + epb(0, 2, b"bad")[:-4] + b"\x99\x00\x00\x00",
        shb() + idb(1) + epb(0, 1_000_000, b"good") + epb(0, 2, bytes(300_000)),
        shb() + idb(1) + epb(0, 1_000_000, b"good") + struct.pack("<II", EPB, 0xFFFFFFF0) + bytes(64),
        shb() + idb(1) + epb(0, 1_000_000, b"good") + epb(7, 2, b"unknown interface") + epb(0, 3, b"x"),
        shb() + idb(1) + epb(0, 1_000_000, b"good") + struct.pack("<II", EPB, 14) + bytes(64),
        shb() + idb(1) + epb(0, 1_000_000, b"good") + b"\n\r\r\n" + struct.pack("<I", 28) + b"XXXX" + bytes(16),
    ],
    ids=[
        "pcap-over-256k", "pcap-absurd", "pcapng-mismatch", "pcapng-over-256k", "pcapng-absurd", "pcapng-iface",
        "pcapng-odd", "pcapng-bad-bom",
    ],  # fmt: skip
)
def test_corrupt_record_in_the_middle_stops_with_a_warning(data: bytes) -> None:
    frames, reader = read_all(data + pcap([(9, 0, b"never reached")])[24:])
    assert [f for _, _, f in frames] == [b"good"]
    assert len(reader.warnings) == 1 and reader.warnings[0].startswith("corrupt capture: ")


# ---- never raises after a valid header ----------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([pcap([]), pcap([], order=">", nano=True)]), st.binary(max_size=2000))
def test_arbitrary_bytes_after_a_pcap_header_never_raise(header: bytes, tail: bytes) -> None:
    frames, reader = read_all(header + tail)
    assert len(reader.warnings) <= 1 and all(type(f) is bytes for _, _, f in frames)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([shb() + idb(1), shb(">") + idb(1, order=">")]), st.binary(max_size=2000))
def test_arbitrary_bytes_after_a_pcapng_header_never_raise(header: bytes, tail: bytes) -> None:
    frames, reader = read_all(header + tail)
    assert len(reader.warnings) <= 1 and all(type(f) is bytes for _, _, f in frames)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_valid_pcapng_never_raises(data: st.DataObject) -> None:
    good = shb() + idb(1, tsresol(9)) + b"".join(epb(0, i, f) for i, f in enumerate(FRAMES)) + spb(b"x")
    damaged = bytearray(good)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(good) - 1))] = data.draw(st.integers(0, 255))
    try:
        reader = CaptureReader(io.BytesIO(bytes(damaged)))
    except CaptureError:
        return  # the section header itself was hit
    list(reader.frames())
    assert len(reader.warnings) <= 1

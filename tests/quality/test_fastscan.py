"""The in-place pcap scan (`fastscan`) against the frame-by-frame engine: the same CaptureResult, field by field.

Both paths run here in whatever form the package is imported: pure Python under `make test`, the mypyc build
under `make test-compiled` (HOMESHORE_IMPORT_FROM, see conftest.py), where the last test checks that the
compiled modules really are the ones running.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeshore.quality import fastscan
from homeshore.quality.analyzer import Analyzer
from homeshore.quality.capture import analyze_capture
from homeshore.quality.pcapfile import CaptureReader
from tests.conftest import PCAPS
from tests.quality.synthetic import (
    rtcp_rr,
    report_block,
    rtp_packet,
    stun_binding_request,
    telephone_event,
    write_pcap,
    write_pcapng,
)

SALT = b"fastscan"
CAPTURES = sorted(p for p in PCAPS.glob("*") if p.suffix in (".pcap", ".pcapng")) if PCAPS.is_dir() else []


def _both(path: Path, jitter_buffer: str = "adaptive"):
    frame_by_frame = analyze_capture(path, salt=SALT, in_place=False, jitter_buffer=jitter_buffer)
    in_place = analyze_capture(path, salt=SALT, in_place=True, jitter_buffer=jitter_buffer)
    return frame_by_frame, in_place


def test_shared_captures_are_there(pcaps):
    assert len(CAPTURES) >= 50


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("jitter_buffer", ["adaptive", "fixed:40"])
def test_every_shared_capture_gives_the_same_result(path, jitter_buffer):
    frame_by_frame, in_place = _both(path, jitter_buffer)
    assert in_place == frame_by_frame  # every field of every stream and window, and the capture's counters


# --- generated calls ------------------------------------------------------------------------------------------

SDP_PT = 111  # a dynamic payload type bound by the INVITE's SDP


def _invite(rtp_port: int) -> bytes:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP {SDP_PT} 101\r\na=rtpmap:{SDP_PT} opus/48000/2\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
    ).encode()
    return (
        b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060\r\nFrom: <sip:alice@example.com>;tag=1\r\n"
        b"To: <sip:bob@example.com>\r\nCall-ID: fastscan@10.0.0.1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: " + str(len(sdp)).encode() + b"\r\n\r\n" + sdp
    )


# What happens to each packet of a stream after it is sent.
_FATES = st.sampled_from(["ok"] * 12 + ["lost", "duplicate", "swap", "marker", "late", "cn", "event", "jump", "ext"])


@st.composite
def calls(draw):
    """Interleaved streams with loss, duplicates, reordering, wraps, markers, comfort noise, telephone events,
    sequence jumps, header extensions and padding, late packets; SIP/SDP, RTCP, STUN and odd frames beside."""
    records = []
    n_streams = draw(st.integers(1, 4))
    signalled = draw(st.booleans())
    if signalled:
        records.append((0.0, "10.0.0.1", 5060, "10.0.0.2", 5060, _invite(4000)))
    for index in range(n_streams):
        # A shared SSRC now and then; 0x1234 and 0x2234 share a bucket of fastscan's route table.
        ssrc = draw(st.sampled_from([0x1234, 0x2234, 0x5678, 0xDEADBEEF, index + 1]))
        sport = 4000 + 2 * index
        pt = SDP_PT if signalled and index == 0 else draw(st.sampled_from([0, 8, 18, 96]))
        step = 960 if pt == SDP_PT else 160
        seq = draw(st.sampled_from([0, 65500, draw(st.integers(0, 0xFFFF))]))
        ts = draw(st.sampled_from([0, 2**32 - 3000, draw(st.integers(0, 2**32 - 1))]))
        start = draw(st.floats(0.001, 12.0))
        jitter_ms = draw(st.sampled_from([0.0, 3.0, 30.0]))
        fates = draw(st.lists(_FATES, min_size=1, max_size=160))
        stream = []
        for i, fate in enumerate(fates):
            arrival = start + 0.02 * i + draw(st.floats(0.0, jitter_ms / 1000.0)) + (0.15 if fate == "late" else 0.0)
            s, t = (seq + i) & 0xFFFF, (ts + step * i) & 0xFFFFFFFF
            if fate == "jump":
                seq += draw(st.integers(3000, 60000))
            if fate == "lost":
                continue
            if fate == "cn":
                packet = rtp_packet(s, t, ssrc, pt=13, payload=b"\x40")
            elif fate == "event":
                packet = rtp_packet(s, t, ssrc, pt=101, payload=telephone_event(1, False, 10, 160))
            elif fate == "ext":
                packet = rtp_packet(s, t, ssrc, pt=pt, extension=b"\x10\xff\x00\x00", padding=4)
            else:
                packet = rtp_packet(s, t, ssrc, pt=pt, marker=fate == "marker")
            stream.append([arrival, "10.0.0.1", sport, "10.0.0.2", 4000 + 2 * index, packet])
            if fate == "duplicate":
                stream.append([arrival + 0.001, "10.0.0.1", sport, "10.0.0.2", 4000 + 2 * index, packet])
            elif fate == "swap" and len(stream) >= 2:
                stream[-1][0], stream[-2][0] = stream[-2][0], stream[-1][0]
        records.extend(tuple(r) for r in stream)
        if draw(st.booleans()):
            records.append((start + 1.0, "10.0.0.2", 4001 + 2 * index, "10.0.0.1", sport + 1,
                            rtcp_rr(0x99, [report_block(ssrc, 12, 3, 100, 40)])))
    for _ in range(draw(st.integers(0, 3))):
        payload = draw(st.sampled_from([stun_binding_request(bytes(12)), b"\x80", bytes(40), b"\x90\x08" + bytes(12)]))
        records.append((draw(st.floats(0.0, 13.0)), "10.0.0.3", 3478, "10.0.0.2", 4000, payload))
    records.sort(key=lambda r: r[0])
    return records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls(), st.sampled_from(["adaptive", "fixed:20"]), st.sampled_from(["pcap", "pcapng"]))
def test_generated_calls_give_the_same_result(tmp_path, records, jitter_buffer, file_format):
    """Classic pcap takes the in-place scan, pcapng the per-frame shortcut: each as every frame via add_frame."""
    write = write_pcap if file_format == "pcap" else write_pcapng
    path = write(tmp_path / f"call.{file_format}", records)
    frame_by_frame, in_place = _both(path, jitter_buffer)
    assert in_place == frame_by_frame
    assert in_place.packets_read == len(records)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls(), st.integers(1, 400), st.booleans())
def test_damaged_files_give_the_same_result_and_warning(tmp_path, records, cut, corrupt):
    """A file cut inside a record, or with a corrupt record length: read up to there, warned the same way."""
    path = write_pcap(tmp_path / "call.pcap", records)
    data = path.read_bytes()
    if corrupt and len(data) > 24 + 16:
        data = data[:24] + data[24:32] + struct.pack("<I", 1 << 20) + data[36:]
    else:
        data = data[: max(24, len(data) - cut)]
    path.write_bytes(data)
    frame_by_frame, in_place = _both(path)
    assert in_place == frame_by_frame


def test_other_layouts_are_left_to_the_frame_reader(tmp_path):
    """Big-endian pcap is read frame by frame: `analyze_pcap` declines before reading anything."""
    path = tmp_path / "big.pcap"
    path.write_bytes(struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    with path.open("rb") as handle:
        reader = CaptureReader(handle)
        assert not fastscan.analyze_pcap(reader, Analyzer(salt=SALT))
        assert list(reader.frames()) == []


def test_records_are_read_once(tmp_path):
    path = write_pcap(tmp_path / "one.pcap", [(1.0, "10.0.0.1", 4000, "10.0.0.2", 4000, rtp_packet(1, 160, 7))])
    with path.open("rb") as handle:
        reader = CaptureReader(handle)
        list(reader.frames())
        with pytest.raises(RuntimeError):
            reader.pcap_start()


def test_the_modules_tested_are_the_build_asked_for():
    """Compiled under make test-compiled (HOMESHORE_IMPORT_FROM), the plain .py sources otherwise."""
    compiled = bool(os.environ.get("HOMESHORE_IMPORT_FROM"))
    assert fastscan.COMPILED is compiled
    assert (Path(fastscan.__file__).suffix != ".py") is compiled

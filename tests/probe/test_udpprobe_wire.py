"""The probe packet (probe/udpprobe_wire.py): round trips, replies as long as requests, garbage never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homeshore.probe import udpprobe_wire as wire

U64 = 2**64 - 1
TEST_ID = 0xDEAD_BEEF_0123_4567


@pytest.mark.parametrize("size", [wire.MIN_SIZE, wire.G711_SIZE, wire.MAX_SIZE])
def test_a_request_round_trips_at_its_exact_size(size: int) -> None:
    data = wire.encode_request(TEST_ID, 7, 123_456_789, size)
    assert len(data) == size
    assert wire.decode(data) == wire.Probe(TEST_ID, 7, 123_456_789, size)


def test_the_g711_default_is_the_size_of_a_20_ms_pcma_packet() -> None:
    assert len(wire.encode_request(1, 0, 0)) == 12 + 160


@pytest.mark.parametrize("size", [wire.MIN_SIZE - 1, wire.MAX_SIZE + 1, 0])
def test_sizes_out_of_range_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="probe size"):
        wire.encode_request(1, 0, 0, size)


def test_a_reply_is_the_request_with_the_server_time_in_its_padding() -> None:
    request = wire.encode_request(TEST_ID, 9, 1_000, 172)
    reply = wire.reply_to(request, 55_000)
    assert reply is not None and len(reply) == len(request)
    assert wire.decode(reply) == wire.Probe(TEST_ID, 9, 1_000, 172, server_recv_ns=55_000)
    assert reply[:5] == request[:5] and reply[6:wire.HEADER_SIZE] == request[6:wire.HEADER_SIZE]
    assert reply[wire.MIN_SIZE:] == request[wire.MIN_SIZE:]


def test_a_reply_is_never_answered_again() -> None:
    """Two reflectors must not be able to bounce one packet between each other forever."""
    reply = wire.reply_to(wire.encode_request(1, 0, 0), 5)
    assert reply is not None
    assert wire.reply_to(reply, 6) is None


def _with_byte(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + bytes([value]) + data[offset + 1:]


REQUEST = wire.encode_request(TEST_ID, 1, 2, 64)


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    (REQUEST[:wire.MIN_SIZE - 1], "shorter than a probe"),
    (REQUEST + bytes(wire.MAX_SIZE), "longer than any probe"),
    (b"XSPR" + REQUEST[4:], "wrong magic"),
    (_with_byte(REQUEST, 4, 2), "unknown version"),
    (_with_byte(REQUEST, 5, 7), "unknown kind"),
    (_with_byte(REQUEST, 6, 1), "reserved bits set"),
    (_with_byte(REQUEST, 40, 1), "a request whose padding is not zeros"),
])
def test_malformed_packets_decode_to_none(data: bytes, why: str) -> None:
    assert wire.decode(data) is None, why
    assert wire.reply_to(data, 1) is None, why


@given(st.binary(max_size=2 * wire.MAX_SIZE), st.integers(0, U64))
def test_garbage_never_raises(data: bytes, now_ns: int) -> None:
    probe = wire.decode(data)
    reply = wire.reply_to(data, now_ns)
    assert probe is None or probe.size == len(data)
    assert reply is None or len(reply) == len(data)


@given(st.integers(0, U64), st.integers(0, 2**32 - 1), st.integers(0, U64),
       st.integers(wire.MIN_SIZE, wire.MAX_SIZE), st.integers(0, U64), st.data())
def test_any_request_and_its_reply_round_trip_and_survive_corruption(test_id, seq, sent_ns, size, server_ns, data):
    request = wire.encode_request(test_id, seq, sent_ns, size)
    assert wire.decode(request) == wire.Probe(test_id, seq, sent_ns, size)
    reply = wire.reply_to(request, server_ns)
    assert wire.decode(reply) == wire.Probe(test_id, seq, sent_ns, size, server_ns)
    offset = data.draw(st.integers(0, size - 1))
    corrupted = _with_byte(request, offset, data.draw(st.integers(0, 255)))
    wire.decode(corrupted)  # never raises, whatever the byte
    wire.decode(corrupted[:data.draw(st.integers(0, size))])

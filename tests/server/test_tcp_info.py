"""server/tcp_info.py on real getsockopt(TCP_INFO) replies of this kernel: after a loopback transfer of a known
size, the sender's bytes_acked and bytes_sent and the receiver's bytes_received are that size exactly, which
checks the offsets of linux/tcp.h on the running kernel; a reply too short is refused."""

from __future__ import annotations

import os
import socket
import time

import pytest

from homeshore.server.tcp_info import BUFFER_BYTES, MIN_BYTES, parse_tcp_info

SIZE_BYTES = 3_000_017  # not a multiple of any segment size
TCP_ESTABLISHED = 1


def _raw(sock: socket.socket) -> bytes:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, BUFFER_BYTES)


def test_a_transfer_of_known_size_reads_back_exactly() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    receiver = socket.create_connection(listener.getsockname())
    sender, _ = listener.accept()  # the server's side of a download
    with listener, sender, receiver:
        before = parse_tcp_info(_raw(sender))
        assert before.state == TCP_ESTABLISHED and before.bytes_received == 0
        assert before.bytes_acked == 0  # the accepting side: its SYN-ACK is not counted (the connecting side's
        # SYN is, below), so the server still counts differences, not totals
        payload = os.urandom(SIZE_BYTES)
        sender.sendall(payload)
        got = bytearray()
        while len(got) < SIZE_BYTES:
            got += receiver.recv(1 << 20)
        assert got == payload
        # The last ACK may still be on its way back to the sender: wait on the sender's own count of segments in
        # flight (bounded, so a wrong offset fails instead of hanging).
        deadline_s = time.monotonic() + 10
        while (sent := parse_tcp_info(_raw(sender))).unacked_segments and time.monotonic() < deadline_s:
            pass
        received = parse_tcp_info(_raw(receiver))
    assert sent.unacked_segments == 0
    assert sent.bytes_acked - before.bytes_acked == SIZE_BYTES
    assert sent.bytes_sent == SIZE_BYTES  # loopback loses nothing, so nothing was sent twice
    assert sent.notsent_bytes == 0 and sent.bytes_received == 0
    assert received.bytes_received == SIZE_BYTES and received.bytes_acked == 1  # its SYN
    assert 0 < sent.rtt_us < 1_000_000


@pytest.mark.parametrize("length", [0, 104, MIN_BYTES - 1])
def test_a_reply_too_short_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match=f"TCP_INFO reply of {length} bytes"):
        parse_tcp_info(bytes(length))


def test_an_older_kernels_reply_has_no_bytes_sent() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()) as sock:
        raw = _raw(sock)
    assert len(raw) >= 208  # this kernel's struct has tcpi_bytes_sent
    assert parse_tcp_info(raw[:MIN_BYTES]).bytes_sent is None
    assert parse_tcp_info(raw[:MIN_BYTES]).bytes_acked == parse_tcp_info(raw).bytes_acked

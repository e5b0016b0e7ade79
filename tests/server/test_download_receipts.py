"""Download receipts: the pure book (server/download_receipts.py), which connection counts as a proxy's, and the
server's count on loopback: a download read to its end is acknowledged to the byte of what the client received
(head and body), reported by the receipt endpoint beside an upload's receipt, as measured through a "proxy"
(a loopback peer)."""

from __future__ import annotations

import json
import socket

import pytest

from homeshore.server.download_count import measured_kind
from homeshore.server.download_receipts import DownloadBook
from homeshore.server.speed_protocol import RANDOM_FILE_BYTES
from homeshore.server.speed_server import SpeedServer
from tests.server.test_speedserver import eventually, get, server  # noqa: F401 - a fixture

TEST_ID = "0123456789abcdef"


def test_the_book_bins_acked_bytes_from_the_first_and_keeps_written_and_what_was_measured() -> None:
    book = DownloadBook(bin_s=0.1, max_tests=2, expire_s=60.0, window_s=30.0)
    assert book.receipt("a" * 16, 0.0) is None
    assert book.start("a" * 16, "client", 10.0)
    book.written("a" * 16, 1000)
    book.acked("a" * 16, 300, 10.05)
    book.acked("a" * 16, 500, 10.25)
    receipt = book.receipt("a" * 16, 10.3)
    assert (receipt.bins, receipt.bytes_acked, receipt.bytes_written, receipt.requests, receipt.measured) == \
        ((300, 0, 500), 800, 1000, 1, "client")
    assert book.start("a" * 16, "proxy", 11.0)
    assert book.receipt("a" * 16, 11.0).measured == "mixed"
    assert book.receipt("a" * 16, 11.0).requests == 2
    assert not book.start("a" * 16, "client", 40.5)  # past the test's window: not counted
    assert book.start("b" * 16, "client", 12.0) and book.start("c" * 16, "client", 13.0)
    assert book.receipt("a" * 16, 13.0) is None  # the oldest, evicted for the third
    book.written("a" * 16, 5)  # for a receipt gone: ignored
    assert book.receipt("c" * 16, 74.0) is None  # expired


def test_bytes_acknowledged_between_two_samples_are_spread_over_the_time_between_them() -> None:
    """A sample taken 0.5 s late (the server busy) credits what the client acknowledged over those 0.5 s to the
    bins of that time, in proportion: the steady part of a phase is not credited with the warm-up's bytes."""
    book = DownloadBook(bin_s=0.1, max_tests=2, expire_s=60.0, window_s=30.0)
    assert book.start("a" * 16, "client", 10.0)
    book.acked("a" * 16, 100, 10.05)
    book.acked("a" * 16, 1000, 10.55, since_s=10.05)  # 10.05-10.55: 0.05, 0.1, 0.1, 0.1, 0.1, 0.05 s of bins
    book.acked("a" * 16, 7, 10.56, since_s=10.55)  # within one bin: all there
    book.acked("a" * 16, 3, 10.75, since_s=10.9)  # an interval that ends before it starts: at now_s
    receipt = book.receipt("a" * 16, 11.0)
    assert receipt.bins == (100 + 100, 200, 200, 200, 200, 100 + 7, 0, 3) and receipt.bytes_acked == 1110


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "proxy"), ("::1", "proxy"), ("::ffff:127.0.0.1", "proxy"), ("127.8.9.10", "proxy"),
    ("10.77.0.1", "client"), ("2001:db8::1", "client"), ("::ffff:192.0.2.1", "client"), ("fe80::1%eth0", "client"),
])
def test_a_loopback_peer_is_a_proxy(address: str, kind: str) -> None:
    assert measured_kind(address) == kind


def read_response(sock: socket.socket) -> bytes:
    """One response on a connection kept open: its head, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head = data.partition(b"\r\n\r\n")[0]
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(data) < len(head) + 4 + length:
        data += sock.recv(65536)
    return data


def test_a_download_read_to_the_end_is_acknowledged_to_the_byte_and_reported_as_a_proxys(server: SpeedServer) \
        -> None:
    # The connection stays open until the receipt is read: the server samples the kernel's count while its socket
    # lives, and a close could come before the last ACK (what is acknowledged after it is not credited).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"GET /speedtest/random500x500.jpg?test={TEST_ID} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        response = read_response(sock)
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and len(body) == RANDOM_FILE_BYTES[500]

        def download() -> dict | None:
            status, _, text = get(server, f"/speedtest/receipt?test={TEST_ID}")
            return json.loads(text).get("download") if status == 200 else None

        eventually(lambda: (download() or {}).get("bytes_acked") == len(response))
    receipt = download()
    assert receipt["bytes_written"] == receipt["bytes_acked"] == sum(receipt["bins"]) == len(response)
    assert (receipt["requests"], receipt["measured"], receipt["bin_s"]) == (1, "proxy", 0.1)
    # No upload for this test: the upload fields are empty, as for a test that uploaded nothing.
    status, _, text = get(server, f"/speedtest/receipt?test={TEST_ID}")
    assert {key: value for key, value in json.loads(text).items() if key != "download"} == \
        {"test": TEST_ID, "bin_s": 0.1, "bins": [], "bytes": 0, "requests": 0}


def test_an_upload_receipt_keeps_its_fields_and_gains_the_tests_download(server: SpeedServer) -> None:
    assert get(server, f"/speedtest/upload.php?test={TEST_ID}", "POST", b"x" * 5000)[0] == 200
    status, _, text = get(server, f"/speedtest/receipt?test={TEST_ID}")
    assert status == 200 and "download" not in json.loads(text)
    assert get(server, f"/speedtest/random350x350.jpg?test={TEST_ID}")[0] == 200
    eventually(lambda: "download" in json.loads(get(server, f"/speedtest/receipt?test={TEST_ID}")[2]))
    both = json.loads(get(server, f"/speedtest/receipt?test={TEST_ID}")[2])
    assert both["bytes"] == 5000 and both["requests"] == 1 and both["download"]["requests"] == 1
    assert get(server, "/speedtest/receipt?test=fedcba9876543210")[0] == 404

"""Receipts of downloads as the client acknowledged them, per test id, in bins of 0.1 s (pure: times are
arguments; the counts come from the kernel's TCP_INFO, server/download_count.py).

Why: a download timed by the client (a browser page, speedtest-cli) is the client's word, and a page can be
edited. The server's kernel knows what the client's TCP acknowledged (as ndt7 counts), which is what was
delivered; what the server wrote is kept beside it, since bytes written may still sit in the send buffer. When
the connection comes from loopback, TLS ends at a reverse proxy on this machine and what was measured is the
proxy's connection, not the candidate's: the receipt says so (`measured`: "client", "proxy", or "mixed" when a
test had both). The bins are those of an upload receipt (server/receipts.py), so the client can leave out the
ramp-up the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeshore.server.receipts import BIN_S, ReceiptBook

_NO_BYTE_LIMIT = 1 << 62  # downloads are bounded by the speed server's limits, not by the receipt


@dataclass(frozen=True)
class DownloadReceipt:
    """One test's downloads: bins[0] holds the bin of the first acknowledged byte; sum(bins) == bytes_acked."""

    test: str
    bin_s: float
    bins: tuple[int, ...]
    bytes_acked: int  # response bytes (head and body) the client's TCP acknowledged (tcpi_bytes_acked)
    bytes_written: int  # response bytes (head and body) the server wrote to its sockets
    requests: int  # downloads counted for the test
    measured: str  # "client", "proxy" (connections from loopback: a reverse proxy's), or "mixed"

    def to_json(self) -> dict:
        return {"bin_s": self.bin_s, "bins": list(self.bins), "bytes_acked": self.bytes_acked,
                "bytes_written": self.bytes_written, "requests": self.requests, "measured": self.measured}


class DownloadBook:
    """Download receipts by test id; memory bounded as a ReceiptBook's (max_tests, expire_s, window_s)."""

    def __init__(self, *, bin_s: float = BIN_S, max_tests: int = 1024, expire_s: float = 600.0,
                 window_s: float = 120.0) -> None:
        self._acked = ReceiptBook(bin_s=bin_s, max_tests=max_tests, expire_s=expire_s, window_s=window_s,
                                  max_bytes_per_test=_NO_BYTE_LIMIT)
        self._extra: dict[str, list] = {}  # test id -> [bytes written, set of what was measured]

    def start(self, test_id: str, measured: str, now_s: float) -> bool:
        """Count a new download of test_id over a connection of the kind `measured`; False (not counted) once
        the test's window has passed."""
        if not self._acked.claim(test_id, 0, now_s):
            return False
        for gone in [key for key in self._extra if key not in self._acked]:  # evicted or expired
            del self._extra[gone]
        self._extra.setdefault(test_id, [0, set()])[1].add(measured)
        return True

    def written(self, test_id: str, nbytes: int) -> None:
        if test_id in self._extra:
            self._extra[test_id][0] += nbytes

    def acked(self, test_id: str, nbytes: int, now_s: float, since_s: float | None = None) -> None:
        """Count nbytes the client acknowledged by now_s (since since_s: spread over that time)."""
        self._acked.record(test_id, nbytes, now_s, since_s)

    def receipt(self, test_id: str, now_s: float) -> DownloadReceipt | None:
        acked = self._acked.receipt(test_id, now_s)
        if acked is None or test_id not in self._extra:
            return None
        written, kinds = self._extra[test_id]
        measured = next(iter(kinds)) if len(kinds) == 1 else "mixed"
        return DownloadReceipt(test_id, acked.bin_s, acked.bins, acked.bytes, written, acked.requests, measured)

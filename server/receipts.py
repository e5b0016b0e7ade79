"""Receipts of uploads as the bytes arrived, per test id, in bins of 0.1 s (pure: times are arguments).

Why a receipt: a client can only time its upload by when its bytes left its own buffers, which on a slow link
is well before they arrive, and speedtest-cli's figure includes the first second of TCP slow start. The
receipt counts the bytes where they arrived, from the bin of the first byte, so the client can leave out the
ramp-up (probe/speed_timeline.py) and divide by the time the bytes really took.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from dataclasses import dataclass

BIN_S = 0.1


@dataclass(frozen=True)
class Receipt:
    """The bytes of one test's uploads as they arrived: bins[0] holds the bin of the first byte, each bin
    bin_s seconds of the server's monotonic clock; sum(bins) == bytes."""

    test: str
    bin_s: float
    bins: tuple[int, ...]
    bytes: int
    requests: int  # uploads admitted for the test

    def to_json(self) -> dict:
        return {"test": self.test, "bin_s": self.bin_s, "bins": list(self.bins), "bytes": self.bytes,
                "requests": self.requests}


@dataclass
class _Entry:
    created_s: float
    claimed_bytes: int = 0
    requests: int = 0
    first_bin: int | None = None
    bins: array = dataclasses.field(default_factory=lambda: array("Q"))
    bytes: int = 0


class ReceiptBook:
    """Receipts by test id, pure (times are arguments; not thread-safe: the server holds a lock around it).

    claim() admits an upload of a declared size to a test, record() adds bytes as they arrive, receipt() reads
    one. Memory is bounded: at most max_tests receipts (the oldest is evicted for a new one), each forgotten
    expire_s after its first claim, each at most window_s / bin_s bins (later bytes are added to the last bin;
    claim() refuses uploads starting after window_s)."""

    def __init__(self, *, bin_s: float = BIN_S, max_tests: int = 1024, expire_s: float = 600.0,
                 window_s: float = 120.0, max_bytes_per_test: int = 256 * 1024 * 1024) -> None:
        self.bin_s = bin_s
        self.max_tests = max_tests
        self.expire_s = expire_s
        self.window_s = window_s
        self.max_bytes_per_test = max_bytes_per_test
        self._max_bins = max(1, math.ceil(window_s / bin_s))
        self._entries: dict[str, _Entry] = {}  # in order of creation

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, test_id: str) -> bool:
        return test_id in self._entries

    def claim(self, test_id: str, nbytes: int, now_s: float) -> bool:
        """Admit an upload of nbytes (its Content-Length) to test_id, creating the receipt if new. False when
        the test's declared bytes would exceed max_bytes_per_test, or its window has passed."""
        self.expire(now_s)
        entry = self._entries.get(test_id)
        if entry is None:
            while len(self._entries) >= self.max_tests:
                del self._entries[next(iter(self._entries))]
            entry = self._entries[test_id] = _Entry(created_s=now_s)
        if entry.claimed_bytes + nbytes > self.max_bytes_per_test or now_s - entry.created_s > self.window_s:
            return False
        entry.claimed_bytes += nbytes
        entry.requests += 1
        return True

    def record(self, test_id: str, nbytes: int, now_s: float, since_s: float | None = None) -> None:
        """Count nbytes that arrived at now_s (ignored if the receipt is gone: expired or evicted), or, with since_s,
        over [since_s, now_s], spread in proportion to each bin's share of that time: a count read late (the
        server busy) then does not move what arrived meanwhile into the bin it was read in."""
        entry = self._entries.get(test_id)
        if entry is None or nbytes <= 0:
            return
        if since_s is None or since_s >= now_s:
            self._add(entry, math.floor(now_s / self.bin_s), nbytes)
            return
        first, last = math.floor(since_s / self.bin_s), math.floor(now_s / self.bin_s)
        counted = 0
        for index in range(first, last + 1):
            upto_s = min(now_s, (index + 1) * self.bin_s)
            share = nbytes if upto_s >= now_s else round(nbytes * (upto_s - since_s) / (now_s - since_s))
            if share > counted:
                self._add(entry, index, share - counted)
                counted = share

    def _add(self, entry: _Entry, index: int, nbytes: int) -> None:
        if entry.first_bin is None:
            entry.first_bin = index
        elif index < entry.first_bin:  # another thread's earlier read, recorded after a later one
            entry.bins[0:0] = _zeros(entry.first_bin - index)
            entry.first_bin = index
            if len(entry.bins) > self._max_bins:  # fold what the prepending pushed past the cap into the last bin
                entry.bins[self._max_bins - 1] = sum(entry.bins[self._max_bins - 1:])
                del entry.bins[self._max_bins:]
        offset = min(index - entry.first_bin, self._max_bins - 1)
        if offset >= len(entry.bins):
            entry.bins.extend(_zeros(offset + 1 - len(entry.bins)))
        entry.bins[offset] += nbytes
        entry.bytes += nbytes

    def receipt(self, test_id: str, now_s: float) -> Receipt | None:
        self.expire(now_s)
        entry = self._entries.get(test_id)
        if entry is None:
            return None
        return Receipt(test_id, self.bin_s, tuple(entry.bins), entry.bytes, entry.requests)

    def expire(self, now_s: float) -> None:
        """Forget receipts older than expire_s (creation order is age order, so only the front is looked at)."""
        while self._entries:
            test_id, entry = next(iter(self._entries.items()))
            if now_s - entry.created_s <= self.expire_s:
                break
            del self._entries[test_id]


def _zeros(n: int) -> array:
    return array("Q", bytes(8 * n))

"""The bookkeeping of one speed-test HTTP server: its counters, upload receipts, and open connections against
the limits (per source, in all, idle timeout, lifetime). Only ever touched on the server's event loop, so it
needs no lock; the connections it tracks are anything with a progress time and a shut() (speed_connection.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import time
from collections.abc import Callable
from typing import Protocol

from homeshore.server.download_receipts import DownloadBook
from homeshore.server.receipts import BIN_S, ReceiptBook
from homeshore.server.speed_limits import SpeedServerCounters, SpeedServerLimits
from homeshore.server.speed_protocol import source_key

RANDOM_BLOCK_BYTES = 1 << 20  # the random bytes every download is cut from, made once per server


class Counting(Protocol):
    """A download's count of delivered bytes (server/download_count.py)."""

    done: bool

    def sample(self, now_s: float) -> bool: ...


class Connection(Protocol):
    progress_s: float  # when a byte was last read or written (time.monotonic); inf once ended by the limits

    def shut(self) -> None: ...


class SpeedState:
    """One server's counters, receipts and open connections. Only ever touched on the server's event loop, so
    it needs no lock."""

    def __init__(self, limits: SpeedServerLimits, udp_port: int, test_length_s: int, port: int) -> None:
        self.limits = limits
        self.udp_port = udp_port
        self.test_length_s = test_length_s
        self.port = port
        self.receipts = ReceiptBook(bin_s=BIN_S, max_tests=limits.receipts_max, expire_s=limits.receipt_expire_s,
                                    window_s=limits.receipt_window_s,
                                    max_bytes_per_test=limits.max_upload_bytes_per_test)
        self.downloads = DownloadBook(bin_s=BIN_S, max_tests=limits.receipts_max, expire_s=limits.receipt_expire_s,
                                      window_s=limits.receipt_window_s)
        self.counting: dict[Connection, Counting] = {}  # connection -> the count of its latest download
        self.counts = {f.name: 0 for f in dataclasses.fields(SpeedServerCounters)}
        self.open: dict[Connection, list] = {}  # connection -> [source key, deadline s]
        self.per_source: dict[str, int] = {}
        self.drained = asyncio.Event()
        self.block = memoryview(os.urandom(RANDOM_BLOCK_BYTES))
        # May test `test_id` move n more bytes? The browser checks' byte budget (server/admission.py) answers for
        # the tests of their checks; any other test is the speed endpoints' own limits' alone.
        self.charge_test: Callable[[str, int], bool] = lambda test_id, n: True

    @property
    def counters(self) -> SpeedServerCounters:
        return SpeedServerCounters(**self.counts)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def admit(self, connection: Connection, address: str) -> int | None:
        """None when the connection is admitted, else the status it is refused with."""
        key = source_key(address)
        if len(self.open) >= self.limits.connections_total:
            self.counts["refused"] += 1
            return 503
        if self.per_source.get(key, 0) >= self.limits.connections_per_source:
            self.counts["refused"] += 1
            return 429
        self.open[connection] = [key, time.monotonic() + self.limits.connection_max_s]
        self.per_source[key] = self.per_source.get(key, 0) + 1
        self.counts["connections"] += 1
        self.drained.clear()
        return None

    def count_download(self, connection: Connection, counting: Counting, now_s: float) -> None:
        """Count a download on this connection from now on (ending the count of its last one)."""
        self.end_count(connection, now_s)
        self.counting[connection] = counting

    def end_count(self, connection: Connection, now_s: float) -> None:
        counting = self.counting.pop(connection, None)
        if counting is not None:
            counting.sample(now_s)

    def sample_downloads(self, now_s: float) -> None:
        """Credit what each download's client acknowledged; a count ends once all it wrote is acknowledged, or its
        socket is gone."""
        for connection, counting in list(self.counting.items()):
            if not counting.sample(now_s) or counting.done:
                del self.counting[connection]

    def release(self, connection: Connection) -> None:
        self.end_count(connection, time.monotonic())
        entry = self.open.pop(connection, None)
        if entry is not None:
            left = self.per_source[entry[0]] - 1
            if left:
                self.per_source[entry[0]] = left
            else:
                del self.per_source[entry[0]]
        if not self.open:
            self.drained.set()

    def reap(self, now_s: float) -> None:
        """Shut down connections past connection_max_s, or idle for socket_timeout_s; their handlers then fail
        their next read or write."""
        for connection, entry in self.open.items():
            if now_s > entry[1] or now_s - connection.progress_s > self.limits.socket_timeout_s:
                entry[1] = connection.progress_s = math.inf
                self.counts["timeouts"] += 1
                connection.shut()

    def received(self, test_id: str | None, nbytes: int, now_s: float) -> None:
        self.counts["bytes_received"] += nbytes
        if test_id is not None:
            self.receipts.record(test_id, nbytes, now_s)

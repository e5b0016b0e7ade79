"""The speed-test HTTP server on an event loop of its own thread, for synchronous callers (tests, and tools that
embed it); `homeshore serve` runs server/speed_http.py on its own loop instead (server/serve.py)."""

from __future__ import annotations

import socket
import time

from homeshore.server.loop_thread import LoopThread
from homeshore.server.receipts import Receipt
from homeshore.server.sockets import bound_socket
from homeshore.server.speed_http import DEFAULT_PORT, SpeedHttp, start_speed_http
from homeshore.server.speed_limits import SpeedServerCounters, SpeedServerLimits


class SpeedServer:
    """The speed-test HTTP server on bind:port (port 0: any free port, read `.port` after start()), on a loop
    thread of its own, for synchronous callers.

    start() binds on the calling thread (an OSError such as EADDRINUSE reaches the caller) and serves until
    stop(); both may be called from any thread. udp_port is what /homeshore.json announces (the reflector's port);
    test_length_s the test lengths of the Ookla configuration. `counters` is a consistent snapshot at any time.
    """

    def __init__(self, bind: str = "::", port: int = DEFAULT_PORT, *, udp_port: int = 8610,
                 limits: SpeedServerLimits = SpeedServerLimits(), test_length_s: int = 10) -> None:
        self.bind = bind
        self.port = port
        self.udp_port = udp_port
        self.limits = limits
        if not 1 <= int(test_length_s) <= 3600:
            raise ValueError(f"test_length_s must be 1-3600 whole seconds, not {test_length_s!r}")
        self.test_length_s = int(test_length_s)
        self._loop: LoopThread | None = None
        self._http: SpeedHttp | None = None
        self._final = SpeedServerCounters()

    def _on_loop(self, read):
        assert self._loop is not None and self._http is not None
        http = self._http

        async def run():
            return read(http.state)
        return self._loop.call(run)

    @property
    def counters(self) -> SpeedServerCounters:
        return self._final if self._http is None else self._on_loop(lambda state: state.counters)

    @property
    def open_connections(self) -> int:
        return 0 if self._http is None else self._on_loop(lambda state: len(state.open))

    def receipt(self, test_id: str) -> Receipt | None:
        if self._http is None:
            return None
        return self._on_loop(lambda state: state.receipts.receipt(test_id, time.monotonic()))

    def start(self) -> SpeedServer:
        if self._loop is not None:
            raise RuntimeError("the speed server is already running")
        sock = bound_socket(self.bind, self.port, socket.SOCK_STREAM)
        self.port = sock.getsockname()[1]
        self._loop = LoopThread(f"speedserver:{self.port}")
        self._http = self._loop.call(lambda: start_speed_http(
            sock, udp_port=self.udp_port, limits=self.limits, test_length_s=self.test_length_s))
        return self

    def stop(self, drain_s: float = 2.0) -> SpeedServerCounters:
        if self._loop is not None and self._http is not None:
            http = self._http
            self._final = self._loop.call(lambda: http.stop(drain_s))
            self._loop.close()
            self._loop = self._http = None
        return self._final

    def __enter__(self) -> SpeedServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

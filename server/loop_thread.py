"""An asyncio event loop on a thread of its own, for running a server of this package inside a synchronous
program (a test, or a tool that embeds one): `serve()` (server/serve.py) needs none of this.

Sockets are bound by the caller, on the caller's thread, and handed to the loop: a thread that joined a network
namespace (tests/netlab.py's in_namespace) thus gets its server in that namespace, whichever thread runs the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class LoopThread:
    """A running event loop on a daemon thread: call() runs a coroutine function on it and returns its result
    (blocking the calling thread); close() stops the loop and joins the thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, function: Callable[[], Awaitable[T]], timeout_s: float | None = None) -> T:
        async def run() -> T:
            return await function()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

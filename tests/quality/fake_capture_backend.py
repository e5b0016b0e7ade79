"""A second live-capture backend for a made-up platform, for tests/quality/test_capture_backend.py.

A fake on purpose, the one place a fake is right: the test is about which module `live.open_capture` picks, and no
second real platform exists on the test machine. It records how it was opened and hands back what it was given.
"""

from __future__ import annotations

from collections.abc import Iterator

from homeshore.quality.live import CaptureStats

FRAMES: list[tuple[float, int, bytes]] = []  # what the next capture's frames() yields, set by the test


class FakeCapture:
    def __init__(self, interface: str | None, user_filter: str | None) -> None:
        self.opened_with = (interface, user_filter)
        self.interfaces = (interface or "fake0",)
        self.closed = False
        self._frames = list(FRAMES)
        self._handed = 0

    def frames(self, timeout_s: float) -> Iterator[tuple[float, int, bytes]]:
        frames, self._frames = self._frames, []
        self._handed += len(frames)
        yield from frames

    def stats(self) -> CaptureStats:
        return CaptureStats(packets=self._handed, drops=0, truncated=0)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeCapture:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


open_capture = FakeCapture

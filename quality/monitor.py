"""The live loop: packets from a capture into the call tracker, and the clock ticking once a second.

I/O glue only; `homeshore calls` and the agent both run it. Whatever ends the loop (its duration, Ctrl-C,
SIGTERM turned into an exception), the calls in progress are closed and their end samples delivered.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from homeshore.quality.calls import CallSample, CallTracker
from homeshore.quality.live import BATCH_PACKETS, Capture, CaptureStats

TICK_S = 1.0
BATCH_WAIT_S = 0.1  # 500 packets at 5,000/s: far below the socket buffer (capture_afpacket.RECEIVE_BUFFER_BYTES)


def monitor_calls(capture: Capture, tracker: CallTracker, *, duration_s: float | None = None,
                  on_samples: Callable[[list[CallSample]], None] = lambda samples: None,
                  on_tick: Callable[[CallTracker, CaptureStats], None] = lambda tracker, stats: None,
                  clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> CaptureStats:
    """Run until `duration_s` has passed (None: until interrupted); returns the capture's counters."""
    stop_at = clock() + duration_s if duration_s is not None else math.inf
    next_tick = clock() + TICK_S
    try:
        while True:
            now = clock()
            if now >= stop_at:
                break
            handled = 0
            for time_s, linktype, frame in capture.frames(max(0.0, min(next_tick, stop_at) - now)):
                tracker.add_frame(time_s, linktype, frame)
                handled += 1
            if handled < BATCH_PACKETS:
                # Nothing more waiting: let packets gather in the socket buffer (their timestamps are the
                # kernel's). One wake-up per batch rather than per packet keeps one call well under 1 % of a core.
                sleep(max(0.0, min(BATCH_WAIT_S, next_tick - clock(), stop_at - clock())))
            now = clock()
            if now >= next_tick:
                on_samples(tracker.tick(now))
                on_tick(tracker, capture.stats())
                next_tick = now + TICK_S
    finally:
        on_samples(tracker.close(clock()))
    return capture.stats()

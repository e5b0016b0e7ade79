"""The UDP reflector's admission rule, pure: per source address, a token bucket of packets per second, a number
of concurrent tests and a byte budget per test (server/reflector.py is the I/O around it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReflectorLimits:
    """Per source address (not port: a sender picking new ports would otherwise get a new budget each time).

    The defaults let one home run a probe at 200 probes/s or a synthetic call at 50 packets/s each of
    several tests at once, and stop a flood within a fraction of a second."""

    packets_per_s: float = 500.0
    burst_packets: int = 100
    tests_per_source: int = 4
    test_idle_s: float = 10.0  # a test unseen for this long no longer counts as running
    bytes_per_test: int = 8_000_000  # 60 s of 172-byte probes at 500/s, with room to spare
    max_sources: int = 10_000  # bounds the memory a spoofed-source flood can take


@dataclass
class _Source:
    tokens: float
    updated_s: float
    tests: dict[int, list[float]]  # test id -> [last seen s, bytes]


class SourceLimiter:
    """The admission decision, pure: give it each well-formed request with the time, it says which counter it
    falls in ('replied' means: answer it)."""

    def __init__(self, limits: ReflectorLimits) -> None:
        self.limits = limits
        self._sources: dict[str, _Source] = {}

    def admit(self, source: str, test_id: int, size: int, now_s: float) -> str:
        limits = self.limits
        state = self._sources.get(source)
        if state is None:
            if len(self._sources) >= limits.max_sources:
                self.prune(now_s)
                if len(self._sources) >= limits.max_sources:
                    return "too_many_sources"
            state = self._sources[source] = _Source(float(limits.burst_packets), now_s, {})
        state.tokens = min(float(limits.burst_packets), state.tokens + (now_s - state.updated_s) * limits.packets_per_s)
        state.updated_s = now_s
        if state.tokens < 1.0:
            return "rate_limited"
        state.tokens -= 1.0
        test = state.tests.get(test_id)
        if test is None or now_s - test[0] > limits.test_idle_s:
            running = sum(1 for seen_s, _ in state.tests.values() if now_s - seen_s <= limits.test_idle_s)
            if test is None and running >= limits.tests_per_source:
                return "too_many_tests"
            test = state.tests[test_id] = [now_s, 0]
        test[0] = now_s
        if test[1] + size > limits.bytes_per_test:
            return "test_bytes_exceeded"
        test[1] += size
        return "replied"

    def prune(self, now_s: float) -> None:
        """Forget tests and sources idle for longer than test_idle_s (their bucket would be full again anyway)."""
        idle_s = max(self.limits.test_idle_s, self.limits.burst_packets / self.limits.packets_per_s)
        for source, state in list(self._sources.items()):
            state.tests = {tid: t for tid, t in state.tests.items() if now_s - t[0] <= self.limits.test_idle_s}
            if not state.tests and now_s - state.updated_s > idle_s:
                del self._sources[source]

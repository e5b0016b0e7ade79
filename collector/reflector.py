"""The UDP reflector of `homeshore serve`: answers latency probes (probe/udpprobe_wire.py), safely on the internet.

Safe means it cannot be used to amplify or redirect traffic: it answers only well-formed requests, only to the
address and port they came from, with a reply exactly as long as the request; each source address gets a
token bucket of packets per second, a number of concurrent tests and a byte budget per test; everything else
is dropped and counted.

A plain blocking socket loop on its own thread, not asyncio: `homeshore serve` runs the speed-test HTTP
endpoints beside it (a threaded http.server), so threads are the one concurrency model there, and the loop
works the same when started from a thread of a bigger program or as a process of its own (`__main__` below).
Replies are a few microseconds of work each, so one thread answers thousands of probes per second.

    python -m homeshore.collector.reflector --bind :: --port 8610
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import socket
import threading
import time
from dataclasses import dataclass

from homeshore.probe.udpprobe_wire import MAX_SIZE, decode, reply_to

DEFAULT_PORT = 8610
_POLL_S = 0.1  # how soon the loop notices stop()


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


@dataclass(frozen=True)
class ReflectorCounters:
    """What the reflector did with the datagrams it received (each lands in exactly one counter but the first)."""

    received: int = 0
    replied: int = 0
    malformed: int = 0  # not a well-formed probe request
    rate_limited: int = 0  # the source's packets/s bucket was empty
    too_many_tests: int = 0  # a new test beyond the source's concurrent tests
    test_bytes_exceeded: int = 0  # the test had used its byte budget
    too_many_sources: int = 0  # the source table was full
    send_errors: int = 0


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


def _bound_socket(bind: str, port: int) -> socket.socket:
    """A UDP socket on bind:port, IPv4 or IPv6 by the address; '::' also takes IPv4 (dual stack)."""
    family, _, _, _, address = socket.getaddrinfo(bind or None, port, type=socket.SOCK_DGRAM,
                                                  flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(_POLL_S)
    return sock


class Reflector:
    """A UDP reflector on bind:port (port 0: any free port, read `.port` after start()).

    start() binds (an OSError such as EADDRINUSE reaches the caller) and answers on a daemon thread until
    stop(); both may be called from any thread. `counters` is a consistent snapshot at any time."""

    def __init__(self, bind: str = "::", port: int = DEFAULT_PORT, limits: ReflectorLimits | None = None) -> None:
        self.bind = bind
        self.port = port
        self._limiter = SourceLimiter(limits or ReflectorLimits())
        self._counts = {f.name: 0 for f in dataclasses.fields(ReflectorCounters)}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def counters(self) -> ReflectorCounters:
        with self._lock:
            return ReflectorCounters(**self._counts)

    def start(self) -> Reflector:
        if self._thread is not None:
            raise RuntimeError("the reflector is already running")
        self._socket = _bound_socket(self.bind, self.port)
        self.port = self._socket.getsockname()[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=f"reflector:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> ReflectorCounters:
        """Stop answering, close the socket, and return the final counters."""
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        return self.counters

    def __enter__(self) -> Reflector:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _serve(self) -> None:
        sock = self._socket
        assert sock is not None
        next_prune_s = time.monotonic() + self._limiter.limits.test_idle_s
        while not self._stopping.is_set():
            try:
                # One byte more than the largest probe, so an oversized datagram is seen as such, not truncated.
                data, sender = sock.recvfrom(MAX_SIZE + 1)
            except (TimeoutError, InterruptedError):
                continue
            except OSError:  # e.g. an ICMP error for an earlier reply, reported on this socket: not ours to act on
                continue
            received_ns = time.monotonic_ns()
            now_s = received_ns / 1e9
            outcome, reply = self._answer(data, sender[0], received_ns, now_s)
            if reply is not None:
                try:
                    sock.sendto(reply, sender)  # only ever to where the request came from
                except OSError:
                    outcome = "send_errors"
            with self._lock:
                self._counts["received"] += 1
                self._counts[outcome] += 1
            if now_s >= next_prune_s:
                self._limiter.prune(now_s)
                next_prune_s = now_s + self._limiter.limits.test_idle_s

    def _answer(self, data: bytes, source: str, received_ns: int, now_s: float) -> tuple[str, bytes | None]:
        probe = decode(data)
        if probe is None or probe.is_reply:
            return "malformed", None
        outcome = self._limiter.admit(source, probe.test_id, probe.size, now_s)
        return outcome, reply_to(data, received_ns) if outcome == "replied" else None


def main(argv: list[str] | None = None) -> None:
    """Run a reflector in the foreground until SIGTERM or SIGINT; print its counters as one JSON line then."""
    parser = argparse.ArgumentParser(prog="python -m homeshore.collector.reflector", description=main.__doc__)
    parser.add_argument("--bind", default="::", help="address to listen on ('::' takes IPv4 and IPv6)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    defaults = ReflectorLimits()
    parser.add_argument("--packets-per-s", type=float, default=defaults.packets_per_s)
    parser.add_argument("--burst-packets", type=int, default=defaults.burst_packets)
    parser.add_argument("--tests-per-source", type=int, default=defaults.tests_per_source)
    args = parser.parse_args(argv)
    limits = dataclasses.replace(defaults, packets_per_s=args.packets_per_s, burst_packets=args.burst_packets,
                                 tests_per_source=args.tests_per_source)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    reflector = Reflector(args.bind, args.port, limits).start()
    print(json.dumps({"listening": args.bind, "port": reflector.port}), flush=True)
    while not stopping.wait(0.5):  # a timed wait, so the signal handler gets to run
        pass
    print(json.dumps(dataclasses.asdict(reflector.stop())), flush=True)


if __name__ == "__main__":
    main()

"""The UDP reflector of `homeshore serve`: answers latency probes (probe/udpprobe_wire.py), safely on the internet.

Safe means it cannot be used to amplify or redirect traffic: it answers only well-formed requests, only to the
address and port they came from, with a reply exactly as long as the request; each source address gets a
token bucket of packets per second, a number of concurrent tests and a byte budget per test
(server/reflector_limits.py); everything else is dropped and counted.

An asyncio datagram protocol, so it shares one event loop with the HTTP endpoints (server/serve.py). Replies
are a few microseconds of work each, answered in datagram_received itself, so one loop answers thousands of
probes per second. `Reflector` runs one on a loop thread of its own for synchronous callers (tests), and
`python -m homeshore.server.reflector` as a process of its own:

    python -m homeshore.server.reflector --bind :: --port 8610
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import socket
import time
from dataclasses import dataclass

from homeshore.probe.udpprobe_wire import MAX_SIZE, decode, reply_to
from homeshore.server.loop_thread import LoopThread
from homeshore.server.sockets import bound_socket
from homeshore.server.reflector_limits import ReflectorLimits, SourceLimiter

DEFAULT_PORT = 8610


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


class ReflectorProtocol(asyncio.DatagramProtocol):
    """Answers each datagram as it is received (no queue: the kernel's socket buffer is the only one).
    `counters` is a snapshot; read it on the loop's thread, or through Reflector from any other."""

    def __init__(self, limits: ReflectorLimits | None = None) -> None:
        self._limiter = SourceLimiter(limits or ReflectorLimits())
        self._counts = {f.name: 0 for f in dataclasses.fields(ReflectorCounters)}
        self._transport: asyncio.DatagramTransport | None = None
        self._next_prune_s = time.monotonic() + self._limiter.limits.test_idle_s

    @property
    def counters(self) -> ReflectorCounters:
        return ReflectorCounters(**self._counts)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._transport = transport

    def datagram_received(self, data: bytes, sender) -> None:  # type: ignore[override]
        received_ns = time.monotonic_ns()
        now_s = received_ns / 1e9
        if len(data) > MAX_SIZE:  # the loop reads up to 256 KiB: anything longer than a probe is not one
            outcome, reply = "malformed", None
        else:
            outcome, reply = self._answer(data, sender[0], received_ns, now_s)
        if reply is not None and self._transport is not None:
            try:
                self._transport.sendto(reply, sender)  # only ever to where the request came from
            except OSError:
                outcome = "send_errors"
        self._counts["received"] += 1
        self._counts[outcome] += 1
        if now_s >= self._next_prune_s:
            self._limiter.prune(now_s)
            self._next_prune_s = now_s + self._limiter.limits.test_idle_s

    def error_received(self, exc: Exception) -> None:
        """An ICMP error for an earlier reply, reported on this socket: not ours to act on."""

    def _answer(self, data: bytes, source: str, received_ns: int, now_s: float) -> tuple[str, bytes | None]:
        probe = decode(data)
        if probe is None or probe.is_reply:
            return "malformed", None
        outcome = self._limiter.admit(source, probe.test_id, probe.size, now_s)
        return outcome, reply_to(data, received_ns) if outcome == "replied" else None


async def start_reflector(sock: socket.socket, limits: ReflectorLimits | None = None,
                          ) -> tuple[asyncio.DatagramTransport, ReflectorProtocol]:
    """Serve the reflector on a bound UDP socket (sockets.bound_socket()) on the running loop, until
    transport.close()."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: ReflectorProtocol(limits), sock=sock)
    return transport, protocol  # type: ignore[return-value]


class Reflector:
    """A UDP reflector on bind:port (port 0: any free port, read `.port` after start()), on a loop thread of its
    own, for synchronous callers.

    start() binds on the calling thread (an OSError such as EADDRINUSE reaches the caller) and answers until
    stop(); both may be called from any thread. `counters` is a consistent snapshot at any time."""

    def __init__(self, bind: str = "::", port: int = DEFAULT_PORT, limits: ReflectorLimits | None = None) -> None:
        self.bind = bind
        self.port = port
        self.limits = limits
        self._loop: LoopThread | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: ReflectorProtocol | None = None
        self._final = ReflectorCounters()

    @property
    def counters(self) -> ReflectorCounters:
        if self._loop is None or self._protocol is None:
            return self._final
        protocol = self._protocol

        async def snapshot() -> ReflectorCounters:
            return protocol.counters
        return self._loop.call(snapshot)

    def start(self) -> Reflector:
        if self._loop is not None:
            raise RuntimeError("the reflector is already running")
        sock = bound_socket(self.bind, self.port, socket.SOCK_DGRAM)
        self.port = sock.getsockname()[1]
        self._loop = LoopThread(f"reflector:{self.port}")
        self._transport, self._protocol = self._loop.call(lambda: start_reflector(sock, self.limits))
        return self

    def stop(self) -> ReflectorCounters:
        """Stop answering, close the socket, and return the final counters."""
        if self._loop is not None and self._transport is not None and self._protocol is not None:
            self._final = self.counters
            transport = self._transport

            async def close() -> None:
                transport.close()
            self._loop.call(close)
            self._loop.close()
            self._loop = self._transport = self._protocol = None
        return self._final

    def __enter__(self) -> Reflector:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


async def _run(bind: str, port: int, limits: ReflectorLimits) -> ReflectorCounters:
    sock = bound_socket(bind, port, socket.SOCK_DGRAM)
    transport, protocol = await start_reflector(sock, limits)
    print(json.dumps({"listening": bind, "port": sock.getsockname()[1]}), flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    transport.close()
    return protocol.counters


def main(argv: list[str] | None = None) -> None:
    """Run a reflector in the foreground until SIGTERM or SIGINT; print its counters as one JSON line then."""
    parser = argparse.ArgumentParser(prog="python -m homeshore.server.reflector", description=main.__doc__)
    parser.add_argument("--bind", default="::", help="address to listen on ('::' takes IPv4 and IPv6)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    defaults = ReflectorLimits()
    parser.add_argument("--packets-per-s", type=float, default=defaults.packets_per_s)
    parser.add_argument("--burst-packets", type=int, default=defaults.burst_packets)
    parser.add_argument("--tests-per-source", type=int, default=defaults.tests_per_source)
    args = parser.parse_args(argv)
    limits = dataclasses.replace(defaults, packets_per_s=args.packets_per_s, burst_packets=args.burst_packets,
                                 tests_per_source=args.tests_per_source)
    print(json.dumps(dataclasses.asdict(asyncio.run(_run(args.bind, args.port, limits)))), flush=True)


if __name__ == "__main__":
    main()

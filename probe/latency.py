"""UDP latency, jitter and loss against a homeshore reflector (server/reflector.py), idle or under load.

    result = measure_udp("collector.example.org", 8610, seconds=10)          # idle: blocks for ~10 s
    with UdpProbe("collector.example.org", 8610) as running:                 # under load: runs on a thread
        run_download()
    loaded = running.result

Probes (probe/udpprobe_wire.py, 172 bytes by default: a G.711 packet's size) leave at a steady rate, probe k
due at start + k * interval_s on the monotonic clock, so the rate does not drift with sleep overshoot; a reply
is matched to its probe by test id, sequence number and echoed send time, and its RTT is taken on the same
clock. Jitter comes two ways, from the same RTT series in arrival order:
- `jitter_ms`, the mean absolute difference of consecutive RTTs: what the readiness policy compares with its
  30 ms limit. It is the quantity RFC 3550's estimator tracks, averaged over the whole test rather than
  smoothed over the last ~16 packets, so one late burst at the end does not decide the verdict;
- `rfc3550_jitter_ms`, the RFC 3550 §6.4.1 interarrival jitter of the replies, J += (|D| - J) / 16 with
  D the difference of consecutive transit times (reply arrival - probe send), at the end of the test, as an
  RTP receiver would report it. Both are round-trip figures: both directions' variation adds up in them.
"""

from __future__ import annotations

import errno
import secrets
import select
import socket
import statistics
import threading
import time
from dataclasses import dataclass

from homeshore.probe import udpprobe_wire as wire

REPLY_TIMEOUT_S = 2.0  # a reply later than this counts as lost (a deep bufferbloat queue stays below it)
REACH_TIMEOUT_S = 3.0  # no reply at all this long after the first probe: the server cannot be reached


class CouldNotReach(Exception):
    """No measurement possible; str() is a one-line message for the user saying why."""


class ServerUnreachable(CouldNotReach):
    """Nothing came back: no route, no host, or a firewall dropping UDP on the way."""


class NoReflector(CouldNotReach):
    """The host answered with ICMP port unreachable: it is up, but no reflector listens on that port."""


@dataclass(frozen=True)
class LatencyResult:
    """One probe run. RTT fields are None only when no reply arrived (possible when a run under load is stopped
    within its first seconds); loss counts probes with no reply within reply_timeout_s."""

    sent: int
    received: int  # probes answered in time, each counted once
    lost: int
    loss_pct: float
    late: int  # answered, but after reply_timeout_s (counted in lost as well)
    duplicates: int  # extra copies of a reply already received
    reordered: int  # replies arriving after a reply to a later probe
    rtt_min_ms: float | None
    rtt_median_ms: float | None
    rtt_mean_ms: float | None
    rtt_p90_ms: float | None
    rtt_max_ms: float | None
    jitter_ms: float | None  # mean |RTT(i) - RTT(i-1)|: the policy's jitter
    rfc3550_jitter_ms: float | None  # RFC 3550 §6.4.1 interarrival jitter of the replies, at the end
    interval_s: float
    size_bytes: int
    duration_s: float
    # From the send of the last probe that got any reply (a late one too) to the send of the last probe; the
    # whole run when nothing came back. Scattered loss keeps it near 0; a server that stops answering makes it
    # run from that instant to the end (probe/check_silence.py tells the two apart).
    silent_tail_s: float = 0.0


def summarize(send_ns: list[int], replies: list[tuple[int, int]], *, reply_timeout_s: float = REPLY_TIMEOUT_S,
              interval_s: float, size_bytes: int) -> LatencyResult:
    """The result of a run, from the send time of each probe (index: sequence number) and the replies in arrival
    order as (sequence number, arrival ns). Pure."""
    timeout_ns = reply_timeout_s * 1e9
    answered: set[int] = set()
    rtts_ns: list[int] = []
    duplicates = reordered = late = 0
    highest = -1
    for seq, arrival_ns in replies:
        if seq in answered:
            duplicates += 1
            continue
        answered.add(seq)
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
        rtt_ns = arrival_ns - send_ns[seq]
        if rtt_ns > timeout_ns:
            late += 1
        else:
            rtts_ns.append(rtt_ns)
    sent = len(send_ns)
    lost = sent - len(rtts_ns)
    rtts_ms = [rtt / 1e6 for rtt in rtts_ns]
    duration_s = (send_ns[-1] - send_ns[0]) / 1e9 + interval_s if send_ns else 0.0
    if not send_ns:
        silent_tail_s = 0.0
    elif answered:
        silent_tail_s = (send_ns[-1] - send_ns[max(answered)]) / 1e9
    else:
        silent_tail_s = duration_s
    return LatencyResult(
        sent=sent, received=len(rtts_ms), lost=lost, loss_pct=100 * lost / sent if sent else 0.0, late=late,
        duplicates=duplicates, reordered=reordered, **_rtt_statistics(rtts_ms),
        interval_s=interval_s, size_bytes=size_bytes, duration_s=duration_s, silent_tail_s=silent_tail_s)


def _rtt_statistics(rtts_ms: list[float]) -> dict[str, float | None]:
    """RTT min/median/mean/p90/max and both jitters of RTTs in arrival order (None each when there are none)."""
    names = ("rtt_min_ms", "rtt_median_ms", "rtt_mean_ms", "rtt_p90_ms", "rtt_max_ms", "jitter_ms",
             "rfc3550_jitter_ms")
    if not rtts_ms:
        return dict.fromkeys(names)
    deltas = [abs(b - a) for a, b in zip(rtts_ms, rtts_ms[1:])]
    j = 0.0
    for d in deltas:  # RFC 3550 §6.4.1: the transit difference of consecutive packets is their RTT difference
        j += (d - j) / 16
    p90 = statistics.quantiles(rtts_ms, n=10, method="inclusive")[8] if len(rtts_ms) > 1 else rtts_ms[0]
    figures = (min(rtts_ms), statistics.median(rtts_ms), statistics.fmean(rtts_ms), p90, max(rtts_ms),
               statistics.fmean(deltas) if deltas else 0.0, j)
    return dict(zip(names, figures))


# --- I/O ---------------------------------------------------------------------------------------------------------


def _connected_socket(server: str, port: int) -> socket.socket:
    """A UDP socket connected to server:port: the kernel then hands us only its datagrams, and reports an ICMP
    port unreachable as ECONNREFUSED on the next call."""
    try:
        family, _, _, _, address = socket.getaddrinfo(server, port, type=socket.SOCK_DGRAM)[0]
    except socket.gaierror as error:
        raise ServerUnreachable(f"cannot resolve {server}: {error.strerror}") from None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.connect(address)
    except OSError as error:
        sock.close()
        raise ServerUnreachable(f"cannot reach {server}: {error.strerror}") from None
    sock.setblocking(False)
    return sock


class UdpProbe:
    """A probe run against server:port, from start() until stop() (or `seconds` after start, when given).

    start() opens the socket in the calling thread (and so in its network namespace) and sends from a thread
    of its own; stop() ends the sending, waits up to reply_timeout_s for the replies still due, and returns the
    result, or raises CouldNotReach when the server could not be reached. As a context manager the result is
    in `.result` after the block."""

    def __init__(self, server: str, port: int, *, interval_s: float = 0.02, size: int = wire.G711_SIZE,
                 seconds: float | None = None, reply_timeout_s: float = REPLY_TIMEOUT_S,
                 reach_timeout_s: float = REACH_TIMEOUT_S) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        if not wire.MIN_SIZE <= size <= wire.MAX_SIZE:
            raise ValueError(f"size must be within {wire.MIN_SIZE}..{wire.MAX_SIZE} bytes, not {size}")
        self.server, self.port = server, port
        self.interval_s, self.size, self.seconds = interval_s, size, seconds
        self.reply_timeout_s, self.reach_timeout_s = reply_timeout_s, reach_timeout_s
        self.test_id = secrets.randbits(64)
        self.result: LatencyResult | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._send_ns: list[int] = []
        self._replies: list[tuple[int, int]] = []
        self._answered: set[int] = set()

    def start(self) -> UdpProbe:
        self._socket = _connected_socket(self.server, self.port)
        self._thread = threading.Thread(target=self._run_catching, name="udp-probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> LatencyResult:
        self._stopping.set()
        return self.wait()

    def wait(self) -> LatencyResult:
        """Wait for the run to end by itself (`seconds`), then as stop()."""
        assert self._thread is not None, "start() first"
        self._thread.join()
        self._socket.close()
        if self._error is not None:
            raise self._error
        self.result = summarize(self._send_ns, self._replies, reply_timeout_s=self.reply_timeout_s,
                                interval_s=self.interval_s, size_bytes=self.size)
        return self.result

    def __enter__(self) -> UdpProbe:
        return self.start()

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.stop()
        else:  # the block's own error wins; just end the thread
            self._stopping.set()
            if self._thread is not None:
                self._thread.join()
            self._socket.close()

    def _run_catching(self) -> None:
        try:
            self._run()
        except BaseException as error:  # handed to the thread calling stop()
            self._error = error

    def _run(self) -> None:
        interval_ns = round(self.interval_s * 1e9)
        start_ns = time.monotonic_ns()
        end_ns = start_ns + round(self.seconds * 1e9) if self.seconds is not None else None
        reach_ns = start_ns + round(self.reach_timeout_s * 1e9)
        drain_until_ns: int | None = None
        while True:
            now_ns = time.monotonic_ns()
            if drain_until_ns is None and (self._stopping.is_set() or (end_ns is not None and now_ns >= end_ns)):
                drain_until_ns = now_ns + round(self.reply_timeout_s * 1e9)
            if not self._replies and now_ns >= reach_ns:
                raise ServerUnreachable(f"no reply from {self.server} port {self.port} within "
                                        f"{self.reach_timeout_s:g} s: the server is down or UDP is blocked on the way")
            if drain_until_ns is None:
                while start_ns + len(self._send_ns) * interval_ns <= now_ns:  # a late sender catches up at once
                    self._send()
                wake_ns = start_ns + len(self._send_ns) * interval_ns
            elif self._replies:
                if now_ns >= drain_until_ns or len(self._answered) == len(self._send_ns):
                    return
                wake_ns = drain_until_ns
            else:  # nothing back yet: wait for the reach timeout to decide, even when stopped earlier
                wake_ns = reach_ns
            readable, _, _ = select.select([self._socket], [], [], max(0, wake_ns - time.monotonic_ns()) / 1e9)
            if readable:
                self._receive()

    def _send(self) -> None:
        seq = len(self._send_ns)
        sent_ns = time.monotonic_ns()
        try:
            self._socket.send(wire.encode_request(self.test_id, seq, sent_ns, self.size))
        except BlockingIOError:
            pass  # the socket buffer is full: the probe is lost, as on a congested link
        except OSError as error:
            self._raise_if_unreachable(error)
        self._send_ns.append(sent_ns)

    def _receive(self) -> None:
        while True:
            try:
                data = self._socket.recv(wire.MAX_SIZE + 1)
            except BlockingIOError:
                return
            except OSError as error:
                self._raise_if_unreachable(error)
                continue
            arrival_ns = time.monotonic_ns()
            probe = wire.decode(data)
            if (probe is not None and probe.is_reply and probe.test_id == self.test_id
                    and probe.seq < len(self._send_ns) and probe.client_send_ns == self._send_ns[probe.seq]):
                self._replies.append((probe.seq, arrival_ns))
                self._answered.add(probe.seq)
                self._on_reply(probe, arrival_ns)

    def _on_reply(self, probe: wire.Probe, arrival_ns: int) -> None:
        """Called with each reply matched to a probe of this run (a subclass may keep more of it)."""

    def _raise_if_unreachable(self, error: OSError) -> None:
        """An ICMP error reported on the socket. Before any reply it decides the run; after one, the probes it
        concerns just go unanswered, and count as lost."""
        if self._replies:
            return
        if error.errno == errno.ECONNREFUSED:
            raise NoReflector(f"{self.server} answered that nothing listens on UDP port {self.port}: "
                              "no homeshore reflector there") from None
        raise ServerUnreachable(f"cannot reach {self.server} port {self.port}: {error.strerror}") from None


def measure_udp(server: str, port: int, *, seconds: float, interval_s: float = 0.02, size: int = wire.G711_SIZE,
                reply_timeout_s: float = REPLY_TIMEOUT_S, reach_timeout_s: float = REACH_TIMEOUT_S) -> LatencyResult:
    """Probe server:port for `seconds` (blocking, plus up to reply_timeout_s for the last replies) and return
    the result; CouldNotReach (ServerUnreachable or NoReflector) when it cannot measure."""
    probe = UdpProbe(server, port, interval_s=interval_s, size=size, seconds=seconds,
                     reply_timeout_s=reply_timeout_s, reach_timeout_s=reach_timeout_s)
    return probe.start().wait()

"""The home segment: round trip, jitter and loss from this machine to its default gateway, by ICMP echo.

Why the gateway: a call that breaks up because of the Wi-Fi or the home router shows it on the first hop, while
a fault beyond the home leaves that hop clean (issue 18: `home_network` against `beyond_home`). Every home
router answers echo requests on its LAN side; nothing has to be installed on it.

A raw ICMP socket needs CAP_NET_RAW, which the agent's systemd unit grants (install/); without it the probe
raises `GatewayProbeError` and the agent carries on without the figures. The summary is pure (send and arrival
times in, figures out); `probe_gateway` is the thin I/O around it.
"""

from __future__ import annotations

import random
import select
import socket
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from homeshore.probe.icmp_wire import echo6_reply_sequence, echo6_request, echo_reply_sequence, echo_request

PAYLOAD = bytes(range(56))  # ping's default 56 bytes: 84 on the wire with the IP header


class GatewayProbeError(Exception):
    """The probe cannot run (no CAP_NET_RAW, no route); one line."""


@dataclass(frozen=True)
class HomeSegment:
    """Echo round trips to the gateway over one probe.

    loss_pct: 0..100 of `sent`, a reply later than the probe's timeout counting as lost.
    jitter_ms: mean |RTT(i) - RTT(i-1)| of consecutive replies, the readiness policy's jitter (probe/latency.py);
    None with fewer than two replies. rtt_mean_ms and rtt_max_ms: None when nothing came back."""

    sent: int
    received: int
    loss_pct: float
    rtt_mean_ms: float | None
    rtt_max_ms: float | None
    jitter_ms: float | None


def home_segment(sent_ns: Sequence[int], replies_ns: Mapping[int, int]) -> HomeSegment:
    """The figures of a probe: `sent_ns[i]` when request i left, `replies_ns[i]` when its reply came (monotonic
    ns). Replies to sequence numbers never sent are ignored."""
    rtts_ms = [(replies_ns[i] - sent) / 1e6 for i, sent in enumerate(sent_ns) if i in replies_ns]
    sent = len(sent_ns)
    deltas = [abs(b - a) for a, b in zip(rtts_ms, rtts_ms[1:])]
    return HomeSegment(
        sent=sent, received=len(rtts_ms), loss_pct=100 * (sent - len(rtts_ms)) / sent if sent else 0.0,
        rtt_mean_ms=statistics.fmean(rtts_ms) if rtts_ms else None, rtt_max_ms=max(rtts_ms, default=None),
        jitter_ms=statistics.fmean(deltas) if deltas else None)


def _raw_socket(family: int = socket.AF_INET) -> socket.socket:
    try:
        return socket.socket(family, socket.SOCK_RAW,
                             socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP)
    except PermissionError:
        raise GatewayProbeError("the gateway probe needs CAP_NET_RAW (the agent's service grants it)") from None


def probe_gateway(address: str, *, count: int = 5, interval_s: float = 0.2, timeout_s: float = 1.0,
                  clock: Callable[[], int] = time.monotonic_ns,
                  open_socket: Callable[[int], socket.socket] = _raw_socket) -> HomeSegment:
    """Sends `count` echo requests to `address` (IPv4, or IPv6 with its scope when link-local: fe80::1%eth0)
    `interval_s` apart and waits for the replies until `timeout_s` after the last; blocks for about
    (count - 1) * interval_s + the last reply's RTT.
    Raises GatewayProbeError when the socket cannot be opened or the address is not reachable at all."""
    if count < 1 or interval_s < 0 or timeout_s <= 0:
        raise ValueError("count must be at least 1, interval_s not negative and timeout_s positive")
    identifier = random.getrandbits(16)  # tells our replies from another ping's on the same host
    sent_ns: list[int] = []
    replies_ns: dict[int, int] = {}
    ipv6 = ":" in address
    request, reply_sequence = (echo6_request, echo6_reply_sequence) if ipv6 else (echo_request, echo_reply_sequence)
    with open_socket(socket.AF_INET6 if ipv6 else socket.AF_INET) as sock:
        sock.setblocking(False)
        start = clock()
        while True:
            now = clock()
            if len(sent_ns) < count and now >= start + len(sent_ns) * interval_s * 1e9:
                try:
                    sock.sendto(request(identifier, len(sent_ns), PAYLOAD), (address, 0))
                except OSError as error:
                    raise GatewayProbeError(f"cannot reach the gateway: {error.strerror or error}") from None
                sent_ns.append(clock())
                continue
            if len(sent_ns) == count:
                deadline = sent_ns[-1] + timeout_s * 1e9
                if len(replies_ns) == count or now >= deadline:
                    break
            else:
                deadline = start + len(sent_ns) * interval_s * 1e9
            readable, _, _ = select.select([sock], [], [], max(0.0, (deadline - now) / 1e9))
            if not readable:
                continue
            arrived = clock()
            packet = sock.recv(2048)
            sequence = reply_sequence(packet, identifier)
            if sequence is not None and sequence < len(sent_ns) and sequence not in replies_ns:
                replies_ns[sequence] = arrived
    return home_segment(sent_ns, replies_ns)

"""The sockets `homeshore serve` listens on, bound by the caller before any event loop serves them (so a bind
error is reported first, and a thread in a network namespace binds there)."""

from __future__ import annotations

import socket


def bound_socket(bind: str, port: int, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket of `kind` (SOCK_STREAM: listening; SOCK_DGRAM) on bind:port, IPv4 or IPv6 by the
    address; '::' also takes IPv4 (dual stack). An OSError such as EADDRINUSE reaches the caller."""
    family, _, _, _, address = socket.getaddrinfo(bind or None, port, type=kind, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server: restart over TIME_WAIT
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock

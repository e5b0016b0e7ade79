"""A local HTTP server on a loopback port, on a thread, for tests whose peer must say what no real server here
says (a 2.x API, a Retry-After, a server that echoes credentials). The handler class is the test's own."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler], *,
            tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Yields the server's base URL (http://127.0.0.1:PORT, https with `tls`); shut down on exit."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def queued_connections(listening: socket.socket) -> int:
    """How many connections wait in a listening socket's queue (accepted here, then closed)."""
    listening.setblocking(False)
    count = 0
    while True:
        try:
            accepted, _ = listening.accept()
        except BlockingIOError:
            return count
        accepted.close()
        count += 1

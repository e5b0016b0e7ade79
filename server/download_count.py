"""One download's delivered bytes, read from the kernel (TCP_INFO's tcpi_bytes_acked, server/tcp_info.py) of its
connection, into the test's download receipt (server/download_receipts.py).

What is counted is the response's bytes, head and body, as they are counted on the wire (TCP payload). The count
starts before the response's first byte and is sampled as it is written, by the server's reaper every 0.1 s,
and a last time when the connection ends (asyncio calls connection_lost before it closes the socket), so what a
client acknowledged after the last write is still counted, and a client that stops reading is credited only with
what its TCP acknowledged (a reset or closed socket just ends the count). It is never credited with more than
was written for it: the acknowledgement of the server's FIN counts as one more.

What was acknowledged between two samples is spread over the time between them: a sample the busy server takes
late would otherwise put it all in one bin, and across the warm-up's end that over-reads the rate (half a second
of a full link moved into a 6.4-s steady part reads 8 % high).
"""

from __future__ import annotations

import ipaddress
import socket

from homeshore.server.download_receipts import DownloadBook
from homeshore.server.tcp_info import BUFFER_BYTES, parse_tcp_info


def bytes_acked(sock) -> int:
    """The socket's tcpi_bytes_acked; OSError once the socket is closed."""
    return parse_tcp_info(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, BUFFER_BYTES)).bytes_acked


def measured_kind(peer_address: str) -> str:
    """"proxy" for a connection from loopback (TLS ends at a reverse proxy on this machine, so the candidate's
    own connection is the proxy's to see, not ours), else "client"."""
    address = peer_address.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "client"
    ip = ip.ipv4_mapped or ip if ip.version == 6 else ip
    return "proxy" if ip.is_loopback else "client"


class DownloadCount:
    def __init__(self, sock, test_id: str, book: DownloadBook, now_s: float) -> None:
        self.sock, self.test_id, self.book = sock, test_id, book
        self._base = bytes_acked(sock)  # OSError reaches the caller: nothing to count on
        self._sampled_s = now_s
        self.written = 0
        self.credited = 0
        self.writing = True

    def wrote(self, total_bytes: int) -> None:
        """The response's bytes written so far (its head and body), as aiohttp's writer counts them."""
        if total_bytes > self.written:
            self.book.written(self.test_id, total_bytes - self.written)
            self.written = total_bytes

    @property
    def done(self) -> bool:
        return not self.writing and self.credited >= self.written

    def sample(self, now_s: float) -> bool:
        """Credit what was acknowledged since the last sample, at now_s; False when the socket is gone."""
        try:
            acked = bytes_acked(self.sock)
        except (OSError, ValueError):
            return False
        total = min(acked - self._base, self.written)
        if total > self.credited:
            self.book.acked(self.test_id, total - self.credited, now_s, since_s=self._sampled_s)
            self.credited = total
        self._sampled_s = max(self._sampled_s, now_s)
        return True

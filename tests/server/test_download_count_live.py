"""The server's own count of a download (TCP_INFO's bytes_acked, server/download_count.py) across a veth pair
shaped by tc tbf, as the receipt endpoint reports it: its rate within 5 % of iperf3's on the same link, and a
client that stops reading credited only with what its TCP acknowledged, read back from the client's own socket.

Home is namespace a, the server (a SpeedServer on a thread in namespace b) namespace b. The downloading client
runs as its own process in the home namespace (its connections from threads of its own), the partial reader on
a socket this process opens inside it. The references: iperf3's receiver goodput (4 streams, its per-second
intervals after the first) on the same shaped link; for the partial reader, the bytes its application read
plus those still queued in its receive buffer (SIOCINQ), which are exactly the bytes its TCP acknowledged.
"""

from __future__ import annotations

import fcntl
import json
import socket
import struct
import sys
import termios
import time
import urllib.request

import pytest

from homeshore.probe.speed_timeline import steady_rate_from_bins_mbps
from tests import netlab
from tests.conftest import REPO
from tests.live.livecalls import require_lab
from tests.probe.test_speedtest_live import PORT, check_reference, shape, speed_server_in

pytestmark = pytest.mark.netns

TOOLS = ("ip", "tc", "iperf3")
RATE_KBIT = 8000
# tbf's tail drops make TCP's acknowledgements come in bursts (a hole, then all behind it at once): where the
# window's cut falls in one, the rate reads a few per cent high or low; a 10-s window keeps that under 2 %.
DOWNLOAD_S = 12.0
WARMUP_S = 1.0
IPERF3_S = 8
TOLERANCE = 0.05
TEST_ID = "00112233445566778899aabbccddeeff"

# The downloader, run by `ip netns exec` in the home namespace: 4 connections, each fetching 2-MB files with
# test=ID on one keep-alive connection until DOWNLOAD_S have passed; prints the bytes it read.
CLIENT = r"""
import http.client, json, sys, threading, time
host, port, test_id, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
end_s = time.monotonic() + seconds
read = [0] * 4
def fetch(i):
    connection = http.client.HTTPConnection(host, port, timeout=10)
    while time.monotonic() < end_s:
        connection.request("GET", f"/speedtest/random1000x1000.jpg?test={test_id}")
        response = connection.getresponse()
        while time.monotonic() < end_s and (chunk := response.read(65536)):
            read[i] += len(chunk)
        if time.monotonic() >= end_s:
            break
    connection.close()
threads = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(json.dumps({"read": sum(read)}))
"""


@pytest.fixture(scope="module", autouse=True)
def lab_prerequisites() -> None:
    require_lab(TOOLS)


def iperf3_steady_mbps(lab: netlab.Lab) -> float:
    """iperf3's receiver goodput server to home, 4 streams, from its per-second intervals after the first (its
    ramp-up, which our figure leaves out too)."""
    with netlab.iperf3_server(lab.b.ns, lab.b.ipv4, port=5201):
        with netlab.iperf3_client(lab.a.ns, lab.b.ipv4, seconds=IPERF3_S, reverse=True, streams=4) as iperf:
            report = json.loads(iperf.communicate(timeout=IPERF3_S + 30)[0])
    steady = [interval["sum"] for interval in report["intervals"] if interval["sum"]["start"] >= WARMUP_S - 0.01]
    return sum(part["bytes"] for part in steady) * 8 / sum(part["seconds"] for part in steady) / 1e6


def receipt(lab: netlab.Lab, test_id: str) -> dict:
    """The receipt as the probe reads it: GET /speedtest/receipt?test=ID, from the home namespace."""
    url = f"http://{lab.b.ipv4}:{PORT}/speedtest/receipt?test={test_id}"
    return netlab.in_namespace(lab.a.ns, lambda: json.loads(urllib.request.urlopen(url, timeout=10).read()))


def test_the_servers_acked_rate_is_within_5_percent_of_iperf3_on_the_same_link() -> None:
    with netlab.Lab() as lab:
        shape(lab, "download", RATE_KBIT)
        reference_mbps = iperf3_steady_mbps(lab)
        check_reference(reference_mbps, RATE_KBIT)
        with speed_server_in(lab.b.ns):
            argv = [sys.executable, "-c", CLIENT, lab.b.ipv4, str(PORT), TEST_ID, str(DOWNLOAD_S)]
            client = json.loads(netlab.run(lab.a.ns, argv, cwd=REPO, timeout=DOWNLOAD_S + 30))
            download = receipt(lab, TEST_ID)["download"]
    ours_mbps = steady_rate_from_bins_mbps(download["bins"], bin_s=download["bin_s"], warmup_s=WARMUP_S,
                                           phase_s=DOWNLOAD_S - 0.5)
    print(f"server's acked rate {ours_mbps:.3f} Mbit/s, iperf3 {reference_mbps:.3f} Mbit/s, "
          f"acked {download['bytes_acked']} of {download['bytes_written']} written, client read {client['read']}")
    assert download["measured"] == "client" and download["requests"] >= 4
    assert sum(download["bins"]) == download["bytes_acked"] <= download["bytes_written"]
    # Every byte the client read was acknowledged (heads included in ours, so at least that many).
    assert download["bytes_acked"] >= client["read"]
    assert ours_mbps is not None and abs(ours_mbps - reference_mbps) <= TOLERANCE * reference_mbps


def _inq(sock: socket.socket) -> int:
    """Bytes in the socket's receive queue, unread (SIOCINQ, as FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


def test_a_client_that_stops_reading_is_credited_only_with_what_it_acknowledged() -> None:
    read_bytes = 400_000
    with netlab.Lab() as lab:
        shape(lab, "download", RATE_KBIT)
        with speed_server_in(lab.b.ns):
            sock = netlab.in_namespace(lab.a.ns, lambda: socket.create_connection((lab.b.ipv4, PORT), timeout=10))
            with sock:
                sock.sendall(f"GET /speedtest/random4000x4000.jpg?test={TEST_ID} HTTP/1.1\r\nHost: b\r\n\r\n"
                             .encode())
                got = 0
                while got < read_bytes:
                    got += len(sock.recv(min(65536, read_bytes - got)))
                # Now read nothing more: wait until the server's count stands still at what the client's TCP
                # took in (read + queued), which stops growing once its window is full.
                deadline_s = time.monotonic() + 20
                while True:
                    download = receipt(lab, TEST_ID)["download"]
                    acknowledged = got + _inq(sock)
                    if download["bytes_acked"] == acknowledged or time.monotonic() > deadline_s:
                        break
                settled = receipt(lab, TEST_ID)["download"]
                acknowledged = got + _inq(sock)
    print(f"client read {got}, acknowledged {acknowledged}; server: acked {settled['bytes_acked']}, "
          f"written {settled['bytes_written']}")
    assert settled["bytes_acked"] == acknowledged
    assert settled["bytes_written"] > acknowledged  # the server's send buffer held more than was delivered
    assert acknowledged < 31_625_365 // 4  # far short of the file: the client stopped reading

"""A paced RTP sender for benchmarks and live tests: G.711-sized packets at an exact aggregate packet rate.

    ip netns exec NS python -m tests.tools.rtp_sender --dst 10.77.0.2 --streams 100 --rate 5000 --seconds 10

Each stream has its own SSRC and UDP ports (--port + 2*i on both ends, RTP's even ports), a 12-byte RTP header
and 160 bytes of A-law silence, its timestamp stepping 160 (20 ms at 8 kHz) and its sequence number 1 per
packet. Packets go out round robin over the streams; packet k is due at start + k / rate on the monotonic
clock, and a sender that fell behind sends what is due at once, so the count is exact and the rate drifts
neither with sleep overshoot nor with load. The number of packets sent is printed as JSON at the end.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time

PAYLOAD_TYPE_PCMA = 8
SAMPLES_PER_PACKET = 160  # 20 ms at 8,000 Hz
ALAW_SILENCE = b"\xd5" * SAMPLES_PER_PACKET
FIRST_SSRC = 0x48530000  # "HS\0\0"; stream i has FIRST_SSRC + i
FIRST_SEQUENCE = 1000


class Stream:
    """One RTP stream: its socket, destination and header fields."""

    def __init__(self, index: int, dst: str, port: int, payload_type: int) -> None:
        family = socket.AF_INET6 if ":" in dst else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.socket.bind(("", port + 2 * index))
        self.destination = (dst, port + 2 * index)
        self.ssrc = FIRST_SSRC + index
        self.payload_type = payload_type
        self.sent = 0

    def send(self) -> None:
        header = struct.pack(
            "!BBHII",
            0x80,  # version 2, no padding, extension or CSRCs
            self.payload_type | (0x80 if self.sent == 0 else 0),  # marker on the first packet
            (FIRST_SEQUENCE + self.sent) & 0xFFFF,
            (self.sent * SAMPLES_PER_PACKET) & 0xFFFFFFFF,
            self.ssrc,
        )
        self.socket.sendto(header + ALAW_SILENCE, self.destination)
        self.sent += 1


def send_paced(streams: list[Stream], rate_pps: float, total: int) -> float:
    """Send `total` packets round robin at rate_pps on a monotonic schedule; the seconds it took."""
    start = time.monotonic()
    sent = 0
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate_pps) + 1)
        while sent < due:
            streams[sent % len(streams)].send()
            sent += 1
        if sent < total:
            time.sleep(max(0.0, start + sent / rate_pps - time.monotonic()))
    return time.monotonic() - start


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dst", required=True, help="destination address (IPv4 or IPv6)")
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--rate", type=float, required=True, help="aggregate packets per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--port", type=int, default=40000, help="first stream's port; stream i uses port + 2*i")
    parser.add_argument("--payload-type", type=int, default=PAYLOAD_TYPE_PCMA)
    arguments = parser.parse_args(argv)
    if arguments.streams < 1 or arguments.rate <= 0 or arguments.seconds <= 0:
        parser.error("--streams, --rate and --seconds must be positive")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    streams = [Stream(index, arguments.dst, arguments.port, arguments.payload_type)
               for index in range(arguments.streams)]
    total = round(arguments.rate * arguments.seconds)
    elapsed = send_paced(streams, arguments.rate, total)
    report = {"packets_sent": sum(stream.sent for stream in streams), "streams": len(streams),
              "rate_pps": arguments.rate, "seconds": arguments.seconds, "elapsed_s": round(elapsed, 6)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

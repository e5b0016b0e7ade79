"""A far end's RTCP receiver reports about one RTP stream, with the loss the test tells it to report.

    ip netns exec NS python -m tests.tools.rtcp_reporter --dst 10.77.1.1 --port 16001 --ssrc 0x1234abcd

One RR (RFC 3550 §6.4.2) every --every-s seconds, from --sport, with one report block about --ssrc: fraction lost
and cumulative lost as if the stream (50 packets a second, G.711 at 20 ms) lost the percentage last read from
stdin (one number per line, 0 at the start), interarrival jitter 1 ms (8 timestamp units), no LSR/DLSR (so no
round trip). A real far end reports what it received; this one says what the test wants the agent to hear, for
the far-end side of a call whose echo (sipp -rtp_echo) cannot lose anything the home would not also see.
Prints "ready" once its socket is bound; ends at stdin's end or on SIGTERM.
"""

from __future__ import annotations

import argparse
import select
import socket
import struct
import sys
import time

RTCP_RR = 201
PACKETS_PER_S = 50
JITTER_TS = 8  # 1 ms at 8 kHz
REPORTER_SSRC = 0x48535252  # "HSRR"


def receiver_report(reporter_ssrc: int, about_ssrc: int, loss_pct: float, cumulative_lost: int,
                    highest_seq: int) -> bytes:
    """One RR with one report block: V=2, RC=1, PT=201, length 7 (32-bit words after the first)."""
    fraction = min(255, round(256 * loss_pct / 100))
    return (struct.pack("!BBHII", 0x81, RTCP_RR, 7, reporter_ssrc, about_ssrc)
            + bytes([fraction]) + cumulative_lost.to_bytes(3, "big")
            + struct.pack("!IIII", highest_seq & 0xFFFFFFFF, JITTER_TS, 0, 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dst", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sport", type=int, default=0)
    parser.add_argument("--ssrc", type=lambda text: int(text, 0), required=True)
    parser.add_argument("--every-s", type=float, default=1.0)
    args = parser.parse_args()
    family = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    sender = socket.socket(family, socket.SOCK_DGRAM)
    sender.bind(("", args.sport))
    print("ready", flush=True)
    loss_pct, cumulative_lost, expected = 0.0, 0, 0
    next_s = time.monotonic()
    while True:
        wait_s = max(0.0, next_s - time.monotonic())
        readable, _, _ = select.select([sys.stdin], [], [], wait_s)
        if readable:
            line = sys.stdin.readline()
            if not line:
                return 0
            loss_pct = float(line)
            continue
        expected += round(PACKETS_PER_S * args.every_s)
        cumulative_lost += round(PACKETS_PER_S * args.every_s * loss_pct / 100)
        sender.sendto(receiver_report(REPORTER_SSRC, args.ssrc, loss_pct, cumulative_lost, expected),
                      (args.dst, args.port))
        next_s += args.every_s


if __name__ == "__main__":
    sys.exit(main())

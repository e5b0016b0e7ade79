"""A WebRTC-like media sender for live tests: what a browser softphone puts on the wire, minus the encryption.

    ip netns exec NS python -m tests.tools.webrtc_sender --dst 10.77.0.1 --seconds 12 --skip 40,41,300

One UDP 5-tuple (local port 50000 to --dst:50000) carries, as RFC 7983 multiplexes them: STUN binding requests
(consent freshness, every 2.5 s), SRTP with RTP and RTCP on the same port (RFC 5761): Opus at 48 kHz with
dynamic payload type 111, 20 ms packets (timestamp step 960), a one-byte-header extension (RFC 8285) and an
opaque payload followed by a 10-byte authentication tag, as SRTP leaves them; an RTCP sender report every 5 s.
A second stream (SSRC 0x7E7E0002) goes through a TURN relay's channel 0x4001 (ChannelData, RFC 8656 §12.4)
to --dst:3478. Packets whose sequence number is in --skip are never sent (the loss the test expects). Prints
the packets sent per SSRC as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import time

DIRECT_SSRC, RELAYED_SSRC = 0x7E7E0001, 0x7E7E0002
OPUS_PT, OPUS_TS_STEP = 111, 960
TURN_CHANNEL = 0x4001
STUN_MAGIC_COOKIE = 0x2112A442
NTP_UNIX_OFFSET_S = 2_208_988_800


def rtp(seq: int, ssrc: int) -> bytes:
    header = struct.pack("!BBHII", 0x90, OPUS_PT, seq & 0xFFFF, (OPUS_TS_STEP * seq) & 0xFFFFFFFF, ssrc)
    extension = struct.pack("!HH", 0xBEDE, 1) + bytes([0x10, 0x7F, 0, 0])  # audio level (RFC 6464)
    return header + extension + os.urandom(70) + os.urandom(10)  # "encrypted" Opus + auth tag


def sender_report(ssrc: int, seq: int, packets: int) -> bytes:
    now = time.time() + NTP_UNIX_OFFSET_S
    body = struct.pack("!IIIIII", ssrc, int(now), int((now % 1) * 2**32), (OPUS_TS_STEP * seq) & 0xFFFFFFFF,
                       packets, packets * 80)
    return struct.pack("!BBH", 0x80, 200, len(body) // 4) + body + os.urandom(14)  # SRTCP index + tag


def stun_binding_request() -> bytes:
    return struct.pack("!HHI", 0x0001, 0, STUN_MAGIC_COOKIE) + os.urandom(12)


def channel_data(data: bytes) -> bytes:
    return struct.pack("!HH", TURN_CHANNEL, len(data)) + data + bytes(-len(data) % 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dst", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--skip", default="", help="sequence numbers never sent, comma-separated")
    args = parser.parse_args()
    skip = {int(n) for n in args.skip.split(",") if n}
    family = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    direct, relayed = socket.socket(family, socket.SOCK_DGRAM), socket.socket(family, socket.SOCK_DGRAM)
    direct.bind(("", 50000))
    relayed.bind(("", 50002))
    sent = {DIRECT_SSRC: 0, RELAYED_SSRC: 0}
    start = time.monotonic()
    for seq in range(int(args.seconds * 50)):
        time.sleep(max(0.0, start + 0.020 * seq - time.monotonic()))
        if seq % 125 == 0:
            direct.sendto(stun_binding_request(), (args.dst, 50000))
        if seq in skip:
            continue
        direct.sendto(rtp(seq, DIRECT_SSRC), (args.dst, 50000))
        relayed.sendto(channel_data(rtp(seq, RELAYED_SSRC)), (args.dst, 3478))
        sent[DIRECT_SSRC] += 1
        sent[RELAYED_SSRC] += 1
        if seq % 250 == 249:
            direct.sendto(sender_report(DIRECT_SSRC, seq, sent[DIRECT_SSRC]), (args.dst, 50000))
    print(json.dumps({"sent": {str(ssrc): count for ssrc, count in sent.items()}}))


if __name__ == "__main__":
    main()

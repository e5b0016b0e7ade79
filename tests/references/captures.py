"""Reading the shared captures in tests, independently of homeshore's own reader: scapy for payloads, tshark's
PDML for what Wireshark dissects."""

from __future__ import annotations

import functools
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

PCAPS = Path(__file__).resolve().parents[2].parent / "shared" / "pcaps"


@functools.cache
def udp_payloads(name: str) -> dict[int, bytes]:
    """Frame number (1-based, as tshark counts) -> UDP payload, read by scapy."""
    from scapy.layers.inet import UDP
    from scapy.utils import PcapReader

    payloads = {}
    with PcapReader(str(PCAPS / name)) as reader:
        for number, packet in enumerate(reader, start=1):
            if UDP in packet:
                payloads[number] = bytes(packet[UDP].payload)
    return payloads


def pdml_packets(name: str, display_filter: str) -> Iterator[tuple[int, ET.Element]]:
    """(frame number, <packet> element) of every frame tshark's display filter selects."""
    pdml = subprocess.run(
        ["tshark", "-r", str(PCAPS / name), "-Y", display_filter, "-T", "pdml"], capture_output=True, check=True
    ).stdout
    for packet in ET.fromstring(pdml).iter("packet"):
        yield int(packet.find("proto[@name='frame']/field[@name='frame.number']").get("show")), packet

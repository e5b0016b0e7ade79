"""The kernel-side "headers only" capture filter: a classic BPF program whose return value, per packet, is the
length of the headers call-quality analysis needs, so that the kernel truncates every packet before it reaches
this process and no audio (calls carry spoken card numbers) is ever copied out of the kernel.

For an AF_PACKET SOCK_RAW socket, on one interface or all: data starts at the link-layer header, whose length
comes from the device type (ancillary HATYPE) and whose protocol from skb->protocol (ancillary PROTOCOL).

What is kept, per packet (bytes from the start of the frame; "whole" is 262144, more than any packet):
- UDP or TCP from or to a SIP port, and UDP whose payload starts like a SIP message (a method of RFC 3261 and
  its extensions, or "SIP/"; the first 4 bytes, upper case): whole. SIP over TCP is only recognised by its port.
- RTCP (version 2, second byte 192..223, the RFC 5761 §4 demultiplexing rule): whole. It holds reports, no audio.
- RTP (first byte 128..191): up to the end of its header, 12 + 4*CC bytes, plus 4 + 4*length when the X bit is
  set (RFC 3550 §5.1, §5.3.1). Never one byte of payload.
- TURN ChannelData (first byte 64..79, RFC 7983 §7): its 4-byte header, then the inner packet by the same rules
  (RTP, RTCP, STUN, DTLS; SIP is not looked for inside).
- STUN (0..3): its 20-byte header (RFC 5389 §6). DTLS (20..63): its 13-byte record header (RFC 6347 §4.1).
- Any other UDP payload: the UDP header plus 2 bytes.

What is dropped (0): anything but IPv4 and IPv6 (ARP, LLDP ...); an IP version nibble that contradicts the
protocol; an IPv4 header shorter than 20 bytes or cut short; non-first IPv4 fragments (no UDP header); IPv6 whose
fixed header is not followed directly by UDP or TCP (extension headers are not walked: rare for media);
TCP other than SIP; a UDP or TCP header cut short; more than one in-band VLAN tag (802.1Q/802.1ad: the kernel
usually strips the outer one into metadata, leaving at most one in the data).

Every load is guarded by the packet length: the kernel drops a packet on an out-of-bounds load, so a packet cut
inside its RTP header (or a payload of one byte) is kept whole rather than lost, since all of it is header.
The program does not rely on A and X starting at 0, so it can follow a user's filter (bpf.compose).
"""

from __future__ import annotations

from collections.abc import Iterable

from homeshore.quality.bpf import (ABS, ADD, ALU, AND, IMM, IND, JEQ, JGE, JMP, JSET, LD, LDX, LEN, LSH, MISC, MSH,
                                   RET, SKF_AD_HATYPE, SKF_AD_OFF, SKF_AD_PROTOCOL, SUB, TAX, TXA, A, Assembler, B,
                                   H, Instruction, K, W, X)
from homeshore.quality.rtp import RTP_FIXED_HEADER_BYTES

WHOLE_PACKET_BYTES = 262144  # Wireshark's largest packet: "keep it all"

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772  # Linux `lo`: a 14-byte Ethernet header of zero addresses
ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD = 0x0800, 0x86DD, 0x8100, 0x88A8
IPPROTO_TCP, IPPROTO_UDP = 6, 17

ETHERNET_HEADER_BYTES = 14
VLAN_TAG_BYTES = 4
IPV4_MIN_HEADER_BYTES = 20
IPV6_HEADER_BYTES = 40
UDP_HEADER_BYTES = 8
TRANSPORT_PORTS_BYTES = 4  # source and destination port, the start of both UDP and TCP headers
STUN_HEADER_BYTES = 20  # RFC 5389 §6
DTLS_RECORD_HEADER_BYTES = 13  # RFC 6347 §4.1
TURN_CHANNEL_HEADER_BYTES = 4  # RFC 8656 §12.4
OTHER_PAYLOAD_BYTES = 2  # unknown UDP payload: enough to see what it was not

# Request methods of RFC 3261 and its extensions (3262 PRACK, 3311 UPDATE, 6086 INFO, 6665 SUBSCRIBE/NOTIFY,
# 3515 REFER, 3428 MESSAGE, 3903 PUBLISH); responses start with "SIP/".
SIP_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO", "SUBSCRIBE",
               "NOTIFY", "REFER", "MESSAGE", "PUBLISH")
SIP_PREFIXES = tuple(sorted({(method + " ")[:4].encode("ascii") for method in SIP_METHODS} | {b"SIP/"}))

_IPV4_FRAGMENT_OFFSET = 0x1FFF  # RFC 791: non-zero in every fragment but the first
_RTP_EXTENSION_BIT = 0x10  # X, in the first byte
_RTP_CSRC_COUNT = 0x0F  # CC, in the first byte


def headers_only_program(sip_ports: Iterable[int] = (5060,)) -> list[Instruction]:
    """The classic BPF program described above, for SO_ATTACH_FILTER (bpf.attach). Pure: no I/O.

    `sip_ports`: UDP and TCP ports whose traffic is kept whole (signalling, which the engine reads for codecs);
    may be empty, leaving SIP over UDP to be recognised by its first bytes.
    """
    ports = tuple(sorted(set(sip_ports)))
    if not all(isinstance(port, int) and 0 < port < 65536 for port in ports):
        raise ValueError(f"SIP ports must be integers 1..65535, not {sip_ports!r}")
    return _Generator(ports).program()


class _Generator:
    """Writes the program section by section; each leaves its result in the registers the next one expects."""

    def __init__(self, sip_ports: tuple[int, ...]) -> None:
        self.asm = Assembler()
        self.sip_ports = sip_ports

    def program(self) -> list[Instruction]:
        self._link_layer()
        for link_bytes in (ETHERNET_HEADER_BYTES, ETHERNET_HEADER_BYTES + VLAN_TAG_BYTES, 0):
            self._ipv4(link_bytes)
            self._ipv6(link_bytes)
        self._transport()
        self._payload("outer", inside_turn=False)
        self._payload("inner", inside_turn=True)
        asm = self.asm
        asm.label("whole")
        asm.op(RET | K, WHOLE_PACKET_BYTES)
        asm.label("drop")
        asm.op(RET | K, 0)
        return asm.program()

    # --- link layer: jump to "ipv4@L" / "ipv6@L", L the link header's length -------------------------------
    def _link_layer(self) -> None:
        asm = self.asm
        asm.op(LD | W | ABS, SKF_AD_OFF + SKF_AD_HATYPE)
        asm.jump(JMP | JEQ | K, ARPHRD_ETHER, "ethernet")
        asm.jump(JMP | JEQ | K, ARPHRD_LOOPBACK, "ethernet", "no-link-header")
        asm.label("ethernet")
        asm.op(LD | W | ABS, SKF_AD_OFF + SKF_AD_PROTOCOL)
        asm.jump(JMP | JEQ | K, ETH_P_8021Q, "vlan")
        asm.jump(JMP | JEQ | K, ETH_P_8021AD, "vlan")
        self._ip_by_protocol(ETHERNET_HEADER_BYTES)
        asm.label("vlan")  # one tag left in the data (802.1Q inside 802.1ad): the ethertype follows it
        vlan_link_bytes = ETHERNET_HEADER_BYTES + VLAN_TAG_BYTES
        asm.op(LD | W | LEN)
        asm.jump(JMP | JGE | K, vlan_link_bytes, None, "drop")
        asm.op(LD | H | ABS, vlan_link_bytes - 2)
        self._ip_by_protocol(vlan_link_bytes)
        # tun (ARPHRD_NONE), raw IP (ARPHRD_RAWIP), PPP and the like: IP from the first byte. The version nibble,
        # checked against the protocol below, rejects a device type whose frames start otherwise.
        asm.label("no-link-header")
        asm.op(LD | W | ABS, SKF_AD_OFF + SKF_AD_PROTOCOL)
        self._ip_by_protocol(0)

    def _ip_by_protocol(self, link_bytes: int) -> None:
        self.asm.jump(JMP | JEQ | K, ETH_P_IP, f"ipv4@{link_bytes}")
        self.asm.jump(JMP | JEQ | K, ETH_P_IPV6, f"ipv6@{link_bytes}", "drop")

    # --- network layer: X = transport header offset, A = its protocol, then "transport" ----------------------
    def _ipv4(self, link: int) -> None:
        asm = self.asm
        self._ip_start(link, 4, IPV4_MIN_HEADER_BYTES)
        asm.op(LD | H | ABS, link + 6)
        asm.jump(JMP | JSET | K, _IPV4_FRAGMENT_OFFSET, "drop")
        asm.op(LDX | B | MSH, link)  # X = 4 * IHL
        asm.op(MISC | TXA)
        asm.jump(JMP | JGE | K, IPV4_MIN_HEADER_BYTES, None, "drop")
        asm.op(ALU | ADD | K, link)
        asm.op(MISC | TAX)
        asm.op(LD | B | ABS, link + 9)
        asm.goto("transport")

    def _ipv6(self, link: int) -> None:
        asm = self.asm
        self._ip_start(link, 6, IPV6_HEADER_BYTES)
        asm.op(LDX | W | IMM, link + IPV6_HEADER_BYTES)
        asm.op(LD | B | ABS, link + 6)  # next header: UDP or TCP right after the fixed header, or dropped
        asm.goto("transport")

    def _ip_start(self, link: int, version: int, header_bytes: int) -> None:
        """Label "ipv<version>@<link>"; go on when the fixed header is there and its version nibble agrees."""
        asm = self.asm
        asm.label(f"ipv{version}@{link}")
        asm.op(LD | W | LEN)
        asm.jump(JMP | JGE | K, link + header_bytes, None, "drop")
        asm.op(LD | B | ABS, link)
        asm.op(ALU | AND | K, 0xF0)
        asm.jump(JMP | JEQ | K, version << 4, None, "drop")

    # --- transport: SIP ports kept whole, UDP goes on to its payload with X = payload offset ----------------
    def _transport(self) -> None:
        asm = self.asm
        asm.label("transport")
        asm.jump(JMP | JEQ | K, IPPROTO_UDP, "udp")
        asm.jump(JMP | JEQ | K, IPPROTO_TCP, None, "drop")
        self._guard(TRANSPORT_PORTS_BYTES, "drop")
        self._sip_ports(otherwise="drop")
        asm.label("udp")
        self._guard(UDP_HEADER_BYTES, "drop")
        self._sip_ports(otherwise=None)
        self._x_plus(UDP_HEADER_BYTES)

    def _sip_ports(self, otherwise: str | None) -> None:
        asm = self.asm
        if not self.sip_ports:
            if otherwise:
                asm.goto(otherwise)
            return
        for port_offset in (0, 2):
            asm.op(LD | H | IND, port_offset)
            for port in self.sip_ports:
                asm.jump(JMP | JEQ | K, port, "whole")
        if otherwise:
            asm.goto(otherwise)

    # --- payload at X (RFC 7983 demultiplexing by the first byte) --------------------------------------------
    def _payload(self, name: str, inside_turn: bool) -> None:
        asm = self.asm
        other, letters = f"{name}-other", f"{name}-letters"
        asm.label(name)
        self._guard(1, other)
        asm.op(LD | B | IND, 0)
        asm.jump(JMP | JGE | K, 128, f"{name}-rtp-range")
        asm.jump(JMP | JGE | K, 64, other if inside_turn else letters)
        asm.jump(JMP | JGE | K, 20, f"{name}-dtls")
        asm.jump(JMP | JGE | K, 4, other, f"{name}-stun")
        if not inside_turn:
            asm.label(letters)  # 64..127: a SIP start line, or TURN ChannelData for 64..79
            self._guard(4, f"{name}-not-sip")
            asm.op(LD | W | IND, 0)
            for prefix in SIP_PREFIXES:
                asm.jump(JMP | JEQ | K, int.from_bytes(prefix, "big"), "whole")
            asm.label(f"{name}-not-sip")
            asm.op(LD | B | IND, 0)
            asm.jump(JMP | JGE | K, 80, other, f"{name}-turn")
        asm.label(f"{name}-rtp-range")  # A = first byte, 128 or more
        asm.jump(JMP | JGE | K, 192, other)
        self._rtp(name)
        self._return_x_plus(f"{name}-dtls", DTLS_RECORD_HEADER_BYTES)
        self._return_x_plus(f"{name}-stun", STUN_HEADER_BYTES)
        self._return_x_plus(other, OTHER_PAYLOAD_BYTES)
        if not inside_turn:
            asm.label(f"{name}-turn")
            self._x_plus(TURN_CHANNEL_HEADER_BYTES)
            asm.goto("inner")

    def _rtp(self, name: str) -> None:
        """Version 2 at X: RTCP kept whole, RTP up to the end of its header (RFC 3550 §5.1, §5.3.1)."""
        asm = self.asm
        self._guard(2, f"{name}-rtp-cut")
        asm.op(LD | B | IND, 1)
        asm.jump(JMP | JGE | K, 192, None, f"{name}-rtp")
        asm.jump(JMP | JGE | K, 224, f"{name}-rtp", "whole")  # 192..223: RTCP (RFC 5761 §4)
        asm.label(f"{name}-rtp")
        asm.op(LD | B | IND, 0)
        asm.jump(JMP | JSET | K, _RTP_EXTENSION_BIT, f"{name}-rtp-extension")
        self._a_csrc_list_end()
        asm.op(RET | A)
        asm.label(f"{name}-rtp-extension")
        self._a_csrc_list_end()
        asm.op(MISC | TAX)  # X = the extension header: profile (16 bits), length in 32-bit words (16 bits)
        self._guard(4, f"{name}-extension-cut")
        asm.op(LD | H | IND, 2)
        asm.op(ALU | LSH | K, 2)
        asm.op(ALU | ADD | K, 4)
        asm.op(ALU | ADD | X)
        asm.op(RET | A)
        # Cut short inside the header: every byte there is header, keep them all (the return exceeds the length).
        self._return_x_plus(f"{name}-extension-cut", 4)
        self._return_x_plus(f"{name}-rtp-cut", RTP_FIXED_HEADER_BYTES)

    def _a_csrc_list_end(self) -> None:
        """A = first byte of the RTP header at X  ->  A = X + 12 + 4 * CC."""
        asm = self.asm
        asm.op(ALU | AND | K, _RTP_CSRC_COUNT)
        asm.op(ALU | LSH | K, 2)
        asm.op(ALU | ADD | K, RTP_FIXED_HEADER_BYTES)
        asm.op(ALU | ADD | X)

    # --- helpers -----------------------------------------------------------------------------------------------
    def _guard(self, size: int, short: str) -> None:
        """Go on when the packet holds `size` bytes from X, else jump to `short`. Overwrites A; safe for any X."""
        asm = self.asm
        asm.op(LD | W | LEN)
        asm.jump(JMP | JGE | X, 0, None, short)  # len >= X, so that len - X cannot wrap
        asm.op(ALU | SUB | X)
        asm.jump(JMP | JGE | K, size, None, short)

    def _x_plus(self, size: int) -> None:
        self.asm.op(MISC | TXA)
        self.asm.op(ALU | ADD | K, size)
        self.asm.op(MISC | TAX)

    def _return_x_plus(self, label: str, size: int) -> None:
        self.asm.label(label)
        self.asm.op(MISC | TXA)
        self.asm.op(ALU | ADD | K, size)
        self.asm.op(RET | A)

"""Classic BPF (the Linux socket filter): instructions, a small assembler with labels, `tcpdump -ddd` text,
composition with a user's filter, and attaching a program to a socket.

Why classic BPF: on an AF_PACKET socket the kernel runs the filter before the packet is queued and truncates the
packet to the filter's return value (0 drops it), so a filter that returns a header length keeps call audio out of
this process altogether (snaplen.py builds that program). Everything here is pure except `compile_user_filter`
(libpcap through scapy) and `attach` (one setsockopt).
"""

from __future__ import annotations

import ctypes
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from homeshore.quality.decode import LINKTYPE_ETHERNET

# Opcode fields, as <linux/filter.h> and <linux/bpf_common.h> name them.
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)  # instruction class, bits 0-2
W, H, B = 0x00, 0x08, 0x10  # load size: 32, 16, 8 bits
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0  # load mode
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = range(0x00, 0xB0, 0x10)  # ALU operation
JA, JEQ, JGT, JGE, JSET = range(0x00, 0x50, 0x10)  # jump test
K, X = 0x00, 0x08  # operand: the constant k, or the X register
A = 0x10  # RET operand: the accumulator
TAX, TXA = 0x00, 0x80  # MISC operations

# Linux ancillary loads: `ld [SKF_AD_OFF + n]` reads packet metadata instead of packet bytes (<linux/filter.h>).
SKF_AD_OFF = -0x1000
SKF_AD_PROTOCOL = 0  # skb->protocol, the ethertype in host order (0x0800, 0x86DD, 0x8100 ...)
SKF_AD_HATYPE = 28  # the device's ARPHRD_* type

BPF_MAXINSNS = 4096  # the kernel's limit on program length
_JUMP_MAX = 255  # jt/jf are 8-bit forward offsets
_U32 = 0xFFFFFFFF
_SO_ATTACH_FILTER = 26  # <asm-generic/socket.h>; the socket module does not export it


class FilterError(ValueError):
    """A capture filter that cannot be compiled, parsed or attached; the message is one line, fit to show a user."""


@dataclass(frozen=True)
class Instruction:
    """One classic BPF instruction, `struct sock_filter`: jt/jf are taken/not-taken offsets from the next
    instruction, k the 32-bit constant (unsigned; SKF_AD_OFF + n is stored as 2**32 - 0x1000 + n)."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.code <= 0xFFFF and 0 <= self.jt <= _JUMP_MAX and 0 <= self.jf <= _JUMP_MAX
                and 0 <= self.k <= _U32):
            raise FilterError(f"BPF instruction out of range: {self}")


def is_conditional_jump(code: int) -> bool:
    return code & 0x07 == JMP and code & 0xF0 != JA


# --- tcpdump -ddd text ---------------------------------------------------------------------------------------


def to_ddd(program: Sequence[Instruction]) -> str:
    """The program as `tcpdump -ddd` prints it: the count, then "code jt jf k" in decimal, one per line."""
    lines = [str(len(program))] + [f"{i.code} {i.jt} {i.jf} {i.k}" for i in program]
    return "\n".join(lines) + "\n"


def from_ddd(text: str) -> list[Instruction]:
    """Parse `tcpdump -ddd` output (also what `to_ddd` writes). Raises FilterError."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    try:
        count = int(rows[0][0])
        program = [Instruction(*(int(field) for field in row)) for row in rows[1:] if len(row) == 4]
    except (IndexError, ValueError, TypeError):
        raise FilterError("not tcpdump -ddd output: expected a count, then four numbers per line") from None
    if count != len(program) or len(program) != len(rows) - 1:
        raise FilterError(f"tcpdump -ddd output says {count} instructions but holds {len(rows) - 1} lines")
    return program


# --- assembler -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Branch:
    code: int
    k: int
    jt: str | None  # a label, or None for the instruction written next
    jf: str | None


@dataclass(frozen=True)
class _Goto:
    label: str


class Assembler:
    """Builds a program from statements and forward jumps to named labels.

    Conditional jumps reach at most 255 instructions ahead; a farther target is reached through an unconditional
    `ja` (32-bit offset) placed right after the jump, so callers never count instructions.
    """

    def __init__(self) -> None:
        self._items: list[Instruction | _Branch | _Goto | str] = []  # str: a label

    def label(self, name: str) -> None:
        self._items.append(name)

    def op(self, code: int, k: int = 0) -> None:
        """A statement (load, store, ALU, return, tax/txa); k may be negative (SKF_AD_OFF + n)."""
        if code & 0x07 == JMP:
            raise FilterError("use jump() or goto() for jumps")
        self._items.append(Instruction(code, 0, 0, k & _U32))

    def jump(self, code: int, k: int = 0, jt: str | None = None, jf: str | None = None) -> None:
        """A conditional jump (JMP|JEQ|K ...): to label `jt` when true, `jf` when false; None goes on."""
        if not is_conditional_jump(code):
            raise FilterError(f"not a conditional jump: {code:#x}")
        self._items.append(_Branch(code, k & _U32, jt, jf))

    def goto(self, label: str) -> None:
        self._items.append(_Goto(label))

    def program(self) -> list[Instruction]:
        """The instructions; FilterError for an unknown, repeated or backward label, or a jump past the end."""
        far: set[tuple[int, str]] = set()  # (item index, "jt"|"jf") reached through a trampoline
        while True:
            program, too_far = self._layout(far)
            if not too_far:
                return program
            far |= too_far

    def _layout(self, far: set[tuple[int, str]]) -> tuple[list[Instruction], set[tuple[int, str]]]:
        labels: dict[str, int] = {}
        starts: list[int] = []  # address of each item
        address = 0
        for index, item in enumerate(self._items):
            starts.append(address)
            if isinstance(item, str):
                if item in labels:
                    raise FilterError(f"BPF label defined twice: {item}")
                labels[item] = address
            else:
                address += 1 + sum((index, side) in far for side in ("jt", "jf"))
        end = address

        def target(name: str | None, after_index: int) -> int:
            if name is None:
                return starts[after_index + 1] if after_index + 1 < len(starts) else end
            if name not in labels:
                raise FilterError(f"BPF label not defined: {name}")
            return labels[name]

        program: list[Instruction] = []
        too_far: set[tuple[int, str]] = set()
        for index, item in enumerate(self._items):
            here = starts[index]
            if isinstance(item, Instruction):
                program.append(item)
            elif isinstance(item, _Goto):
                program.append(Instruction(JMP | JA, 0, 0, self._offset(target(item.label, index), here, end)))
            elif isinstance(item, _Branch):
                trampolines = []
                offsets = {}
                for side, name in (("jt", item.jt), ("jf", item.jf)):
                    goal = target(name, index)
                    if (index, side) in far:
                        offsets[side] = len(trampolines)
                        trampolines.append(goal)
                    else:
                        offsets[side] = self._offset(goal, here, end)
                        if offsets[side] > _JUMP_MAX:
                            too_far.add((index, side))
                            offsets[side] = 0
                program.append(Instruction(item.code, offsets["jt"], offsets["jf"], item.k))
                for position, goal in enumerate(trampolines, start=here + 1):
                    program.append(Instruction(JMP | JA, 0, 0, self._offset(goal, position, end)))
        return program, too_far

    @staticmethod
    def _offset(goal: int, here: int, end: int) -> int:
        offset = goal - here - 1
        if offset < 0 or goal >= end:
            raise FilterError(f"BPF jump from {here} to {goal} is backward or past the end ({end} instructions)")
        return offset


# --- composition with a user's filter -------------------------------------------------------------------------


def compose(user_program: Sequence[Instruction], snap_program: Sequence[Instruction]) -> list[Instruction]:
    """One program: `user_program` decides whether to keep a packet (its `ret 0` still drops it, and so does a
    `ret a` with A = 0), then `snap_program` decides how many bytes to keep; the user's own snap length is ignored.

    The snap program must not rely on A and X starting at 0: the user's program ran before it.
    """
    asm = Assembler()
    _lift(asm, user_program, "user", keep="snap0", drop="user-drop")
    asm.label("user-drop")
    asm.op(RET | K, 0)
    _lift(asm, snap_program, "snap")
    return asm.program()


def _lift(asm: Assembler, program: Sequence[Instruction], prefix: str, keep: str = "", drop: str = "") -> None:
    """Copy `program` into `asm` with a label per instruction, so that instructions can be inserted between a jump
    and its target. With `keep`, a return other than 0 becomes a jump to `keep` (and a `ret a` tests A first)."""
    for index, ins in enumerate(program):
        asm.label(f"{prefix}{index}")
        kind = ins.code & 0x07
        if is_conditional_jump(ins.code):
            asm.jump(ins.code, ins.k, f"{prefix}{index + 1 + ins.jt}", f"{prefix}{index + 1 + ins.jf}")
        elif kind == JMP:
            asm.goto(f"{prefix}{index + 1 + ins.k}")
        elif kind == RET and keep and ins.code & 0x18 == A:
            asm.jump(JMP | JEQ | K, 0, drop, keep)
        elif kind == RET and keep and ins.k:
            asm.goto(keep)
        else:
            asm.op(ins.code, ins.k)


# --- the I/O edges: libpcap and the kernel ----------------------------------------------------------------------

def compile_user_filter(expression: str, linktype: int = LINKTYPE_ETHERNET) -> list[Instruction]:
    """Compile a tcpdump/libpcap filter expression ("udp port 4000") for frames of `linktype` (a DLT, not 0; the
    default, Ethernet, is what an AF_PACKET SOCK_RAW socket sees on Ethernet, veth and loopback devices),
    with scapy's compiler (libpcap's pcap_compile on a dead handle: no interface, no privilege).

    Raises FilterError with a one-line message for a bad expression or a missing libpcap, so that the agent fails at
    start rather than in its capture thread (scapy issue #3567).
    """
    from scapy.arch.common import compile_filter, free_filter
    from scapy.error import Scapy_Exception

    try:
        compiled = compile_filter(expression, linktype=linktype)
    except (ImportError, OSError, Scapy_Exception) as error:
        # scapy says "Failed to compile filter expression 'x' (<libpcap's reason>)"; keep the reason.
        message = " ".join(str(error).split())
        reason = re.search(r"\((.*)\)$", message)
        raise FilterError(f"bad capture filter {expression!r}: {reason.group(1) if reason else message}") from None
    try:
        return [Instruction(i.code, i.jt, i.jf, i.k & _U32) for i in compiled.bf_insns[: compiled.bf_len]]
    finally:
        free_filter(compiled)


def attach(sock: socket.socket, program: Sequence[Instruction]) -> None:
    """SO_ATTACH_FILTER: from now on the kernel runs `program` on every packet for `sock` and keeps the number of
    bytes it returns. Raises FilterError (one line) when the kernel's checker refuses the program.

    On an AF_PACKET socket, attach before packets can queue: create the socket with protocol 0, attach, then bind
    with ETH_P_ALL; packets queued before the filter was attached were not filtered.
    """
    from scapy.libs.structures import bpf_insn, sock_fprog

    if not 0 < len(program) <= BPF_MAXINSNS:
        raise FilterError(f"a BPF program holds 1 to {BPF_MAXINSNS} instructions, not {len(program)}")
    # struct sock_filter's k is a __u32, scapy declares it a C int: pass the same 32 bits as a signed value.
    insns = (bpf_insn * len(program))(*(bpf_insn(i.code, i.jt, i.jf, ctypes.c_int32(i.k).value) for i in program))
    fprog = sock_fprog(len(program), insns)
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError as error:
        raise FilterError(f"the kernel refused the capture filter ({len(program)} instructions): "
                          f"{error.strerror or error}") from error

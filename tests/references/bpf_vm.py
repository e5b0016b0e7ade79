"""A classic BPF interpreter with the Linux socket-filter semantics, written for tests from the kernel's rules
(Documentation/networking/filter.rst, net/core/filter.c), independently of homeshore's generator.

- A load outside the packet ends the program with 0: the kernel drops the packet.
- Division or modulo by X = 0 ends the program with 0; by a constant 0 the program is refused.
- `ld [SKF_AD_OFF + n]` reads metadata: PROTOCOL and HATYPE come from the caller; other ancillary loads and the
  negative SKF_NET_OFF / SKF_LL_OFF offsets are not modelled and raise BpfError.
- The program is checked first as the kernel's checker does (length, known opcodes, forward jumps inside the
  program, a return last, scratch memory index, shifts below 32), and reading scratch memory never written on the
  path taken raises BpfError (the kernel refuses such programs outright).

Instructions are anything with `code`, `jt`, `jf` and `k` attributes (k as an unsigned 32-bit value).
"""

from __future__ import annotations

from collections.abc import Sequence

MASK = 0xFFFFFFFF
MAX_INSTRUCTIONS = 4096
SCRATCH_WORDS = 16
ANCILLARY_BASE = 0x100000000 - 0x1000  # SKF_AD_OFF as an unsigned k
ANCILLARY_PROTOCOL, ANCILLARY_HATYPE = 0, 28
NEGATIVE_OFFSETS = 0x80000000  # k at or above this is a negative offset (SKF_NET_OFF, SKF_LL_OFF) or ancillary


class BpfError(Exception):
    """A program the kernel would refuse, or one using what this interpreter does not model."""


_SIZES = {0x00: 4, 0x08: 2, 0x10: 1}
_ALU = {
    0x00: lambda a, b: a + b,
    0x10: lambda a, b: a - b,
    0x20: lambda a, b: a * b,
    0x30: lambda a, b: a // b,
    0x40: lambda a, b: a | b,
    0x50: lambda a, b: a & b,
    0x60: lambda a, b: a << b,
    0x70: lambda a, b: a >> b,
    0x90: lambda a, b: a % b,
    0xA0: lambda a, b: a ^ b,
}
_TESTS = {0x10: lambda a, b: a == b, 0x20: lambda a, b: a > b, 0x30: lambda a, b: a >= b, 0x40: lambda a, b: a & b}


def check(program: Sequence) -> None:
    """Raise BpfError where Linux's bpf_check_classic would refuse `program`."""
    if not 0 < len(program) <= MAX_INSTRUCTIONS:
        raise BpfError(f"{len(program)} instructions")
    for pc, ins in enumerate(program):
        cls, op, k = ins.code & 0x07, ins.code & 0xF0, ins.k
        where = f"instruction {pc} ({ins.code:#x})"
        if cls == 5:
            if op == 0x00:
                targets = [pc + 1 + k]
            elif op in _TESTS:
                targets = [pc + 1 + ins.jt, pc + 1 + ins.jf]
            else:
                raise BpfError(f"{where}: unknown jump")
            if max(targets) >= len(program):
                raise BpfError(f"{where}: jump past the end")
        elif cls == 4:
            if op not in _ALU and op != 0x80:
                raise BpfError(f"{where}: unknown ALU operation")
            if ins.code & 0x08 == 0 and ((op in (0x30, 0x90) and k == 0) or (op in (0x60, 0x70) and k >= 32)):
                raise BpfError(f"{where}: constant division by 0 or shift by 32 or more")
        elif cls in (2, 3) or (cls in (0, 1) and ins.code & 0xE0 == 0x60):
            if k >= SCRATCH_WORDS:
                raise BpfError(f"{where}: scratch memory index {k}")
    if program[-1].code & 0x07 != 6:
        raise BpfError("the last instruction is not a return")


class Filter:
    """A checked program, run on packets as the kernel would."""

    def __init__(self, program: Sequence) -> None:
        check(program)
        self.program = tuple(program)

    def run(self, packet: bytes, *, protocol: int, hatype: int) -> int:
        """The filter's return value for `packet` (the kernel keeps min(value, len(packet)) bytes; 0 drops)."""
        return _run(self.program, packet, protocol, hatype)

    def kept_bytes(self, packet: bytes, *, protocol: int, hatype: int) -> int:
        """How many bytes of `packet` the kernel hands to the socket: 0 when dropped."""
        return min(_run(self.program, packet, protocol, hatype), len(packet))


def _run(program: Sequence, packet: bytes, protocol: int, hatype: int) -> int:
    a = x = 0
    memory: dict[int, int] = {}
    size = len(packet)
    pc = 0
    while True:
        ins = program[pc]
        code, k = ins.code, ins.k
        cls = code & 0x07
        pc += 1
        if cls == 0 or cls == 1:  # LD, LDX
            mode = code & 0xE0
            if mode == 0x00:
                value = k
            elif mode == 0x80:
                value = size
            elif mode == 0x60:
                if k not in memory:
                    raise BpfError(f"instruction {pc - 1}: scratch memory M[{k}] read before written")
                value = memory[k]
            elif mode == 0xA0 and cls == 1:  # ldx 4*([k]&0xf)
                if k >= size:
                    return 0
                value = 4 * (packet[k] & 0x0F)
            elif mode in (0x20, 0x40) and cls == 0:
                offset = k if mode == 0x20 else (x + k) & MASK
                if mode == 0x20 and k >= ANCILLARY_BASE:
                    value = _ancillary(k - ANCILLARY_BASE, protocol, hatype)
                elif offset >= NEGATIVE_OFFSETS:
                    raise BpfError(f"instruction {pc - 1}: negative offset {offset - (1 << 32)} not modelled")
                else:
                    width = _SIZES[code & 0x18]
                    if offset + width > size:
                        return 0  # out of bounds: the kernel drops the packet
                    value = int.from_bytes(packet[offset : offset + width], "big")
            else:
                raise BpfError(f"instruction {pc - 1}: unknown load {code:#x}")
            if cls == 0:
                a = value
            else:
                x = value
        elif cls == 2:
            memory[k] = a
        elif cls == 3:
            memory[k] = x
        elif cls == 4:
            op = code & 0xF0
            if op == 0x80:
                a = -a & MASK
                continue
            operand = x if code & 0x08 else k
            if op in (0x30, 0x90) and operand == 0:
                return 0  # division by X = 0: the kernel ends the program with 0
            a = _ALU[op](a, operand & 31 if op in (0x60, 0x70) else operand) & MASK
        elif cls == 5:
            op = code & 0xF0
            if op == 0x00:
                pc += k
            else:
                operand = x if code & 0x08 else k
                pc += ins.jt if _TESTS[op](a, operand) else ins.jf
        elif cls == 6:
            rval = code & 0x18
            if rval == 0x10:
                return a
            if rval == 0x00:
                return k
            raise BpfError(f"instruction {pc - 1}: unknown return {code:#x}")
        else:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            elif code & 0xF8 == 0x80:
                a = x
            else:
                raise BpfError(f"instruction {pc - 1}: unknown misc {code:#x}")


def _ancillary(offset: int, protocol: int, hatype: int) -> int:
    if offset == ANCILLARY_PROTOCOL:
        return protocol
    if offset == ANCILLARY_HATYPE:
        return hatype
    raise BpfError(f"ancillary load SKF_AD_OFF + {offset} not modelled")


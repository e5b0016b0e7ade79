"""Loss, duplicates, reordering and resets from RTP sequence numbers (RFC 3550 Appendix A.1).

Unlike the appendix, which only counts, this keeps one flag per expected packet of the current segment, so that
duplicates are recognised exactly, loss is never negative, and burst/gap metrics (RFC 3611 §4.7.2) can be
computed from the same map. A sequence reset (a marker bit with a jump, or a jump confirmed by the next packet,
as rtpproxy handles them) closes the segment and opens a new one instead of reading as -475 lost packets.
"""

from __future__ import annotations

from typing import Final

SEQ_MOD: Final = 1 << 16
MAX_DROPOUT: Final = 3000  # RFC 3550 A.1
MAX_MISORDER: Final = 100  # RFC 3550 A.1

# What `SequenceTracker.update` says about a packet.
IN_ORDER: Final = 0
REORDERED: Final = 1
DUPLICATE: Final = 2
RESET: Final = 3  # first packet of a new segment
STRAY: Final = 4  # an unconfirmed jump: kept out of the loss accounting

# Values of the per-packet map.
MISSING: Final = 0
RECEIVED: Final = 1
DISCARDED: Final = 2  # arrived, but too late for the jitter buffer


class SequenceTracker:
    """Extended sequence numbers and a received map for one RTP stream."""

    __slots__ = (
        "base",
        "max_ext",
        "received_map",
        "closed_expected",
        "closed_received",
        "closed_maps",
        "duplicates",
        "reordered",
        "resets",
        "strays",
        "_pending_jump",
    )

    def __init__(self, first_sequence: int):
        self.base = first_sequence  # extended sequence number of the first packet of the current segment
        self.max_ext = first_sequence
        self.received_map = bytearray(b"\x01")
        self.closed_expected = 0
        self.closed_received = 0
        self.closed_maps: list[bytearray] = []
        self.duplicates = 0
        self.reordered = 0
        self.resets = 0
        self.strays = 0
        self._pending_jump = -1

    def update(self, sequence: int, marker: bool) -> tuple[int, int]:
        """Account for one packet; returns (what it was, its extended sequence number)."""
        max_ext = self.max_ext
        step = (sequence - max_ext) & 0xFFFF
        if 0 < step < MAX_DROPOUT:
            ext = max_ext + step
            received_map = self.received_map
            if step > 1:
                received_map.extend(bytes(step - 1))
            received_map.append(RECEIVED)
            self.max_ext = ext
            self._pending_jump = -1
            return IN_ORDER, ext
        if step == 0:
            self.duplicates += 1
            return DUPLICATE, max_ext
        if step >= SEQ_MOD - MAX_MISORDER:
            ext = max_ext - (SEQ_MOD - step)
            index = ext - self.base
            if index < 0:
                # Earlier than the first packet: the segment began with a reordered packet.
                self.received_map[0:0] = bytes(-index)
                self.base = ext
                index = 0
            if self.received_map[index]:
                self.duplicates += 1
                return DUPLICATE, ext
            self.received_map[index] = RECEIVED
            self.reordered += 1
            return REORDERED, ext
        # A jump: RFC 3550 A.1 restarts only when the next packet confirms the new sequence; a marker bit, which
        # starts a talkspurt, confirms it at once (rtpproxy does the same).
        if marker or sequence == self._pending_jump:
            first = sequence if marker else (sequence - 1) & 0xFFFF
            self._restart(first, with_previous=not marker)
            if not marker:
                self.received_map.append(RECEIVED)
                self.max_ext = self.base + 1
            return RESET, self.max_ext
        self._pending_jump = (sequence + 1) & 0xFFFF
        self.strays += 1
        return STRAY, -1

    def next_in_order(self) -> int:
        """The packet after the newest one arrived (the common case, kept short): its extended number."""
        self.received_map.append(RECEIVED)
        self.max_ext += 1
        self._pending_jump = -1
        return self.max_ext

    def resume(self, first_sequence: int) -> int:
        """Go on after a pause that lost nothing (RTP stopped for a T.38 fax phase while the sender's sequence
        counter ran on): a new segment, as after a reset, but not counted as one. Returns the packet's extended
        sequence number."""
        self._restart(first_sequence, with_previous=False)
        self.resets -= 1
        return self.max_ext

    def _restart(self, first_sequence: int, with_previous: bool) -> None:
        if with_previous:
            self.strays -= 1  # the stray that started the jump belongs to the new segment
        self.closed_expected += len(self.received_map)
        self.closed_received += len(self.received_map) - self.received_map.count(MISSING)
        self.closed_maps.append(self.received_map)
        self.resets += 1
        # New segments continue the extended numbering past the old one, so extended numbers stay unique.
        self.base = self.max_ext + MAX_DROPOUT + SEQ_MOD
        self.base += (first_sequence - self.base) & 0xFFFF
        self.max_ext = self.base
        self.received_map = bytearray(b"\x01")
        self._pending_jump = -1

    def mark_discarded(self, ext: int) -> None:
        index = ext - self.base
        if 0 <= index < len(self.received_map):
            self.received_map[index] = DISCARDED

    @property
    def expected(self) -> int:
        return self.closed_expected + len(self.received_map)

    @property
    def received(self) -> int:
        """Distinct packets received within the expected range (duplicates and strays excluded)."""
        return self.closed_received + len(self.received_map) - self.received_map.count(MISSING)

    @property
    def lost(self) -> int:
        return self.expected - self.received

    def loss_map(self) -> bytes:
        """One byte per expected packet, all segments in order: MISSING, RECEIVED or DISCARDED."""
        return b"".join(self.closed_maps) + bytes(self.received_map)

    def loss_map_from(self, start: int) -> bytes:
        """`loss_map()[start:]` (a window's part), without copying the whole stream's map to get it."""
        if start >= self.closed_expected:
            return bytes(self.received_map[start - self.closed_expected :])
        return self.loss_map()[start:]

"""Sequence accounting (RFC 3550 A.1): exact counts for drops, duplicates and reordering, seamless wrap."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.quality.sequence import DUPLICATE, REORDERED, RESET, SequenceTracker


def _feed(sequences, marker_at=()):
    tracker = None
    kinds = []
    for index, seq in enumerate(sequences):
        if tracker is None:
            tracker = SequenceTracker(seq)
            kinds.append(None)
        else:
            kinds.append(tracker.update(seq, index in marker_at)[0])
    return tracker, kinds


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 65535),
    count=st.integers(2, 3000),
    drop_pct=st.integers(0, 30),
    dup_pct=st.integers(0, 10),
    swap_pct=st.integers(0, 10),
    seed=st.integers(0, 2**32),
)
def test_random_drops_duplicates_and_reordering_give_exact_counts(start, count, drop_pct, dup_pct, swap_pct, seed):
    rng = random.Random(seed)
    sent = list(range(count))
    kept = [n for n in sent if n == 0 or n == count - 1 or rng.randrange(100) >= drop_pct]
    arrivals = []
    for n in kept:
        arrivals.append(n)
        if rng.randrange(100) < dup_pct:
            arrivals.append(n)
    for i in range(1, len(arrivals) - 2):  # adjacent swaps of distinct packets, never the first or last
        a, b = arrivals[i], arrivals[i + 1]
        if a < b and rng.randrange(100) < swap_pct and arrivals[i - 1] < b and arrivals[i + 2] > a:
            arrivals[i], arrivals[i + 1] = b, a
    tracker, kinds = _feed([(start + n) & 0xFFFF for n in arrivals])
    assert tracker.expected == count
    assert tracker.lost == count - len(kept)
    assert tracker.duplicates == len(arrivals) - len(kept)
    assert tracker.reordered == kinds.count(REORDERED)
    assert tracker.resets == 0


def test_sequence_wrap_at_65535_is_seamless():
    tracker, _ = _feed([65533, 65534, 65535, 0, 2, 3])
    assert (tracker.expected, tracker.lost, tracker.max_ext) == (7, 1, 65536 + 3)


def test_late_packet_across_the_wrap_fills_the_gap():
    tracker, kinds = _feed([65534, 0, 1, 65535, 2])
    assert (tracker.expected, tracker.lost, tracker.reordered) == (5, 0, 1)
    assert kinds[3] == REORDERED


def test_duplicate_of_a_late_packet():
    tracker, kinds = _feed([10, 12, 11, 11, 13])
    assert (tracker.lost, tracker.duplicates, kinds[3]) == (0, 1, DUPLICATE)


def test_reset_with_marker_starts_a_new_segment_instead_of_negative_loss():
    """rtpproxy's handling: sequence back to 0 with the marker bit is a restart, not -N lost."""
    sequences = list(range(1000, 1100)) + list(range(0, 50))
    tracker, kinds = _feed(sequences, marker_at={100})
    assert kinds[100] == RESET
    assert (tracker.expected, tracker.lost, tracker.resets) == (150, 0, 1)


def test_jump_without_marker_restarts_only_when_the_next_packet_confirms():
    tracker, _ = _feed([100, 101, 102, 40000, 40001, 40002])
    assert (tracker.expected, tracker.lost, tracker.resets, tracker.strays) == (6, 0, 1, 0)
    tracker, _ = _feed([100, 101, 102, 40000, 103, 104])  # a stray packet, then the old sequence goes on
    assert (tracker.expected, tracker.lost, tracker.resets, tracker.strays) == (5, 0, 0, 1)


def test_first_packet_reordered_extends_the_start():
    tracker, _ = _feed([5, 4, 6, 7])
    assert (tracker.expected, tracker.lost, tracker.reordered) == (4, 0, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.booleans()), min_size=1, max_size=120),
       st.integers(0, 200))
def test_a_windows_loss_map_equals_the_tail_of_the_whole_map(packets, start):
    """`loss_map_from(start)` (what a 10-second window reads) is `loss_map()[start:]`, across resets too."""
    tracker = SequenceTracker(packets[0][0])
    for sequence, marker in packets[1:]:
        tracker.update(sequence, marker)
        tracker.mark_discarded(tracker.max_ext)
        start_now = min(start, tracker.expected)
        assert tracker.loss_map_from(start_now) == tracker.loss_map()[start_now:]
    assert len(tracker.loss_map()) == tracker.expected

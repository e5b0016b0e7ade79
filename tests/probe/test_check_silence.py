"""check_silence.server_silence: a server that stops answering for good is told from scattered loss (pure).

Each case builds the probes' send times and replies by hand (latency.summarize, 20 ms apart) and says in its
comment what the server did."""

from __future__ import annotations

import random

import pytest

from homeshore.probe.check_silence import SILENT_FOR_S, PhaseOutcome, Silence, server_silence
from homeshore.probe.latency import summarize

MS = 1_000_000
SECOND = 50  # probes in a second at 20 ms


def probe(answered: list[bool], rtt_ms: float = 5.0):
    """A probe run: one probe every 20 ms, answered after rtt_ms where answered[i] holds."""
    send_ns = [i * 20 * MS for i in range(len(answered))]
    replies = [(i, send_ns[i] + round(rtt_ms * MS)) for i, ok in enumerate(answered) if ok]
    return summarize(send_ns, replies, interval_s=0.02, size_bytes=172)


def silent_after(seconds: float, total_s: float = 5.0) -> list[bool]:
    return [i < seconds * SECOND for i in range(round(total_s * SECOND))]


def scattered(loss_pct: float, total_s: float = 5.0, seed: int = 7) -> list[bool]:
    rng = random.Random(seed)
    return [rng.random() * 100 >= loss_pct for _ in range(round(total_s * SECOND))]


def check(call, download=None, upload=None, *, failed=("download", "upload"), unanswered=()):
    return (PhaseOutcome("call", probe=call, unanswered="call" in unanswered),
            PhaseOutcome("download", probe=download, unanswered="download" in unanswered,
                         transfer_failed="download" in failed),
            PhaseOutcome("upload", probe=upload, unanswered="upload" in unanswered,
                         transfer_failed="upload" in failed))


def test_paused_two_seconds_into_the_call_with_both_transfers_failing_is_silence() -> None:
    # the case: replies stop 2 s into a 5-s call (63 % "loss"), the loaded probes get nothing back
    call = probe(silent_after(2.0))
    assert call.loss_pct == pytest.approx(60.0)  # 150 of 250 probes unanswered
    found = server_silence(check(call, unanswered=("download", "upload")))
    assert found == Silence("call", pytest.approx(1.98))  # the last answered probe, number 99, left at 1.98 s
    assert "the server stopped answering 2.0 s into the synthetic call" in found.message()
    assert found.message().startswith("could not measure: ")


def test_paused_between_the_call_and_the_download_is_silence_before_the_download() -> None:
    found = server_silence(check(probe([True] * 250), unanswered=("download", "upload")))
    assert found == Silence("download", None)
    assert "before the download" in found.message()


def test_paused_during_the_upload_is_silence_in_the_upload() -> None:
    phases = check(probe([True] * 250), probe([True] * 250), probe(silent_after(1.5)), failed=("upload",))
    assert server_silence(phases) == Silence("upload", pytest.approx(1.48))


@pytest.mark.parametrize("loss_pct", [1.0, 5.0, 30.0])
def test_scattered_loss_with_working_transfers_is_the_homes(loss_pct: float) -> None:
    call = probe(scattered(loss_pct))
    assert call.loss_pct > 0 and call.silent_tail_s < SILENT_FOR_S
    assert server_silence(check(call, probe(scattered(loss_pct, seed=8)), probe(scattered(loss_pct, seed=9)),
                                failed=())) is None


def test_scattered_loss_is_not_silence_even_when_a_transfer_fails() -> None:
    # a transfer can fail on a bad line too: with the replies still coming, the loss stays a finding
    call = probe(scattered(30.0))
    assert server_silence(check(call, probe(scattered(30.0, seed=8)), None, failed=("upload",))) is None


def test_replies_that_resume_in_a_later_phase_are_not_silence() -> None:
    # a long gap in the call, then the server answers the download's probes again
    assert server_silence(check(probe(silent_after(2.0)), probe([True] * 250), None)) is None


def test_a_silent_tail_while_the_transfers_still_work_is_a_deep_queue_not_silence() -> None:
    # bufferbloat: the last 1.5 s of the upload's replies are still queued when the drain ends, the upload works
    phases = check(probe([True] * 250), probe([True] * 250), probe(silent_after(3.5)), failed=())
    assert server_silence(phases) is None


def test_no_transfer_failed_at_all_is_never_silence() -> None:
    assert server_silence(check(probe(silent_after(2.0)), failed=(), unanswered=("download", "upload"))) is None


def test_a_tail_just_under_the_threshold_is_not_silence_and_at_it_is() -> None:
    short = [True] * 200 + [False] * (SECOND - 1)  # the last answered probe left 49 * 20 ms = 0.98 s before the end
    at = [True] * 200 + [False] * SECOND  # 1.00 s
    clean = probe([True] * 250)
    assert server_silence(check(clean, clean, probe(short), failed=("upload",))) is None
    assert server_silence(check(clean, clean, probe(at), failed=("upload",))) == Silence("upload", pytest.approx(3.98))

"""synthetic_score.score_call: send times and replies in, per-leg and call figures out (pure, no sockets).

Every call here is made by hand: packet k leaves at k * 20 ms, crosses the upstream leg in up_ms[k] and the
downstream leg in down_ms[k]; the reflector's clock runs SERVER_OFFSET_NS ahead of ours (a constant, which no
figure may see). Expected figures are worked out in each test's comment: RFC 3550 §6.4.1 jitter in closed form,
RFC 3611 §4.7.2 bursts and the G.107 BurstR counted by hand, and R and MOS against ITU-T values written out here,
the ones tests/quality/test_emodel.py checks the E-model with: G.711 with PLC (G.113 Appendix I Table I.3:
Ie 0, Bpl 25.1) at the G.107 Table 3 defaults gives R = 93.21 at no loss and no delay (G.107 §7.7), 86.20 at
2 % random loss and no delay, 82.53 at 2 % and 150 ms one way (eq. 7-29 and §7.4); MOS from R by G.107 Annex B
eq. B-4. The E-model itself (emodel.score) is used only to check that the call hands it the right figures.
"""

from __future__ import annotations

import pytest

from homeshore.probe.synthetic_score import Echo, score_call
from homeshore.quality import emodel

MS = 1_000_000  # ns
SERVER_OFFSET_NS = 7_000_000_000_123  # the reflector's monotonic clock is another host's
PACKETS = 1000
# Delays of the calls below: 100 ms up, 120 ms down, so RTT 220 ms and a mouth-to-ear delay of 220 / 2 + the
# jitter buffer's minimum of 20 ms + 20 ms of packetisation = 150 ms, where G.107 has reference values.
UP_MS, DOWN_MS = 100.0, 120.0
ONE_WAY_MS = 150.0
ITU_R_NO_LOSS_150_MS = 93.21 - (86.20 - 82.53)  # Id(150 ms) - Id(0 ms) off the no-loss reference: 89.54
ITU_R_2_PCT_150_MS = 82.53
ITU_TOLERANCE = 0.05  # the references' own rounding, as in test_emodel.py
# G.107 Annex B eq. B-4, MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6, at the R values above, to 2 places.
ITU_MOS_NO_LOSS_150_MS = 4.33  # R 89.54
ITU_MOS_2_PCT_150_MS = 4.12  # R 82.53
ITU_MOS_TOLERANCE = 0.01


def call(up_ms: list[float], down_ms: list[float], *, lost: set[int] = frozenset(), order: list[int] | None = None,
         extra: list[Echo] = ()):
    """Score a hand-made call; `order` lists the sequence numbers in the order their replies arrive (default:
    by arrival time), `extra` adds copies."""
    send_ns = [k * 20 * MS for k in range(len(up_ms))]
    echoes = [Echo(k, send_ns[k] + round(up_ms[k] * MS) + SERVER_OFFSET_NS,
                   send_ns[k] + round((up_ms[k] + down_ms[k]) * MS)) for k in range(len(up_ms)) if k not in lost]
    echoes += extra
    if order is None:
        echoes.sort(key=lambda echo: echo.arrival_ns)
    else:
        by_seq = {echo.seq: echo for echo in echoes}
        echoes = [by_seq[k] for k in order]
    return score_call(send_ns, echoes), send_ns


def steady(n: int = PACKETS) -> tuple[list[float], list[float]]:
    return [UP_MS] * n, [DOWN_MS] * n


def test_clean_call_scores_as_the_e_model_says_for_g711_at_its_delay() -> None:
    result, _ = call(*steady())
    assert (result.packets_sent, result.packets_received, result.loss_pct) == (PACKETS, PACKETS, 0.0)
    assert result.rtt_ms == pytest.approx(UP_MS + DOWN_MS)
    assert result.duration_s == pytest.approx(PACKETS * 0.020)
    for leg in (result.upstream, result.downstream):
        assert (leg.packets, leg.duplicates, leg.reordered, leg.loss.lost, leg.loss.discarded) == (PACKETS, 0, 0, 0, 0)
        assert leg.loss.expected == PACKETS
        assert leg.jitter_ms == pytest.approx(0.0, abs=1e-9) and leg.jitter_max_ms == pytest.approx(0.0, abs=1e-9)
        assert leg.jitter_buffer_ms == 20.0 and leg.one_way_delay_ms == pytest.approx(ONE_WAY_MS)
    assert result.jitter_ms == pytest.approx(0.0, abs=1e-9)
    reference = emodel.score("PCMU", 0.0, one_way_delay_ms=ONE_WAY_MS)
    assert result.r_factor == pytest.approx(reference.r_factor, abs=1e-9)
    assert result.mos == pytest.approx(reference.mos, abs=1e-9)
    assert result.r_factor == pytest.approx(ITU_R_NO_LOSS_150_MS, abs=2 * ITU_TOLERANCE)
    assert result.mos == pytest.approx(ITU_MOS_NO_LOSS_150_MS, abs=ITU_MOS_TOLERANCE)
    assert (result.mos_kind, result.codec, result.burst_loss_pct) == ("conversational", "PCMU", 0.0)


def test_every_50th_packet_lost_is_2_pct_of_gap_loss_on_each_leg() -> None:
    # Losses 50 packets apart are all gap losses (RFC 3611: a burst needs two losses fewer than 16 received
    # packets apart). BurstR = 1 / (p + q): p = 20 losses after 980 received packets with a successor,
    # q = 19 recoveries after the 19 lost packets with a successor (the last packet, 999, is lost): 49/50.
    lost = {k for k in range(PACKETS) if k % 50 == 49}
    result, _ = call(*steady(), lost=lost)
    assert (result.packets_received, result.loss_pct, result.burst_loss_pct) == (980, 2.0, 0.0)
    for leg in (result.upstream, result.downstream):
        assert (leg.loss.expected, leg.loss.lost, leg.loss.discarded) == (PACKETS, 20, 0)
        assert leg.loss.gap_density == pytest.approx(0.02) and leg.loss.burst_density == 0.0
        assert leg.loss.burst_ratio == pytest.approx(49 / 50)
        assert leg.loss.loss_runs == ((1, 20),)
        assert leg.jitter_ms == pytest.approx(0.0, abs=1e-9)
    reference = emodel.score("PCMU", 2.0, burst_r=49 / 50, one_way_delay_ms=ONE_WAY_MS)
    assert result.r_factor == pytest.approx(reference.r_factor, abs=1e-9)
    assert result.mos == pytest.approx(reference.mos, abs=1e-9)
    # BurstR 0.98 instead of 1 moves R by 0.01: still the ITU-T value for 2 % random loss at 150 ms.
    assert result.r_factor == pytest.approx(ITU_R_2_PCT_150_MS, abs=ITU_TOLERANCE)
    assert result.mos == pytest.approx(ITU_MOS_2_PCT_150_MS, abs=ITU_MOS_TOLERANCE)


def test_a_burst_of_10_lost_is_1_pct_all_inside_one_burst() -> None:
    # One run of 10 losses: the burst is those 10 packets, all lost (density 100 %), no gap loss.
    # BurstR = 1 / (1/989 + 1/10): one loss after 989 received packets with a successor, one recovery after 10.
    result, _ = call(*steady(), lost=set(range(500, 510)))
    assert (result.packets_received, result.loss_pct) == (990, 1.0)
    assert result.burst_loss_pct == pytest.approx(100.0)
    leg = result.downstream
    assert (leg.loss.lost, leg.loss.gap_density, leg.loss.mean_burst_packets, leg.loss.loss_runs) == \
        (10, 0.0, 10.0, ((10, 1),))
    burst_r = 1 / (1 / 989 + 1 / 10)
    assert leg.loss.burst_ratio == pytest.approx(burst_r)
    reference = emodel.score("PCMU", 1.0, burst_r=burst_r, one_way_delay_ms=ONE_WAY_MS)
    assert result.r_factor == pytest.approx(reference.r_factor, abs=1e-9)
    # G.107 eq. 7-29 by hand: 89.54 - 95 * 1 / (1 / 9.90 + 25.1) = 85.77; the same 1 % scattered at random
    # (BurstR 1) would cost a little less: 89.54 - 95 / 26.1 = 85.90.
    assert result.r_factor == pytest.approx(85.77, abs=2 * ITU_TOLERANCE) and result.r_factor < 85.90


def test_losses_at_the_start_and_the_end_of_the_call_count_too() -> None:
    # The engine's map runs from the first to the last packet received; the call knows what it sent.
    result, _ = call(*steady(100), lost={0, 1, 2, 98, 99})
    assert (result.packets_received, result.loss_pct) == (95, 5.0)
    assert (result.upstream.loss.expected, result.upstream.loss.lost) == (100, 5)
    assert (result.downstream.loss.expected, result.downstream.loss.lost) == (100, 5)


@pytest.mark.parametrize("varying", ["upstream", "downstream"])
def test_alternating_delay_gives_the_rfc3550_jitter_to_the_leg_that_varies(varying: str) -> None:
    # One leg's delay alternates 0, +4 ms: every transit difference |D| is 4 ms, so after n updates
    # J_n = 4 (1 - (15/16)^n) (RFC 3550 §6.4.1, J += (|D| - J) / 16 from 0), rising to its last value at
    # n = 999; the mean of J_1..J_999 is 4 - (60 / 999) (1 - (15/16)^999). The other leg sees no jitter.
    up_ms, down_ms = steady()
    wobbly = up_ms if varying == "upstream" else down_ms
    for k in range(1, PACKETS, 2):
        wobbly[k] += 4.0
    result, _ = call(up_ms, down_ms)
    leg, other = (result.upstream, result.downstream) if varying == "upstream" else (result.downstream,
                                                                                      result.upstream)
    n = PACKETS - 1
    last_ms = 4 * (1 - (15 / 16) ** n)
    mean_ms = 4 - 60 / n * (1 - (15 / 16) ** n)
    assert leg.jitter_last_ms == pytest.approx(last_ms, abs=1e-6)
    assert leg.jitter_max_ms == pytest.approx(last_ms, abs=1e-6)
    assert leg.jitter_ms == pytest.approx(mean_ms, abs=1e-6)
    assert other.jitter_ms == pytest.approx(0.0, abs=1e-6)
    assert result.jitter_ms == leg.jitter_ms
    assert (result.jitter_up_ms, result.jitter_down_ms) == (result.upstream.jitter_ms, result.downstream.jitter_ms)
    # The round trip varies the same way: the latency probe's RFC 3550 figure of the same replies agrees.
    assert result.round_trip.rfc3550_jitter_ms == pytest.approx(last_ms, abs=1e-6)
    assert result.rtt_ms == pytest.approx(UP_MS + DOWN_MS + 2)  # median of 220 and 224
    assert (leg.loss.discarded, result.loss_pct) == (0, 0.0)  # 4 ms fit in the 20-ms buffer


def test_duplicates_are_told_apart_by_the_reflector_timestamp() -> None:
    # Reply 100 duplicated on the way back: same reflector timestamp, arriving twice. Request 200 duplicated on
    # the way there: the reflector saw it twice (1 ms apart) and answered both.
    up_ms, down_ms = steady()
    copy_back = Echo(100, 100 * 20 * MS + round(UP_MS * MS) + SERVER_OFFSET_NS,
                     100 * 20 * MS + round((UP_MS + DOWN_MS + 1) * MS))
    copy_there = Echo(200, 200 * 20 * MS + round((UP_MS + 1) * MS) + SERVER_OFFSET_NS,
                      200 * 20 * MS + round((UP_MS + DOWN_MS + 1) * MS))
    result, _ = call(up_ms, down_ms, extra=[copy_back, copy_there])
    assert (result.packets_received, result.loss_pct, result.round_trip.duplicates) == (PACKETS, 0.0, 2)
    assert (result.upstream.packets, result.upstream.duplicates) == (PACKETS + 1, 1)
    assert (result.downstream.packets, result.downstream.duplicates) == (PACKETS + 2, 2)
    for leg in (result.upstream, result.downstream):
        assert (leg.loss.lost, leg.loss.discarded, leg.reordered) == (0, 0, 0)


def test_reordering_belongs_to_the_leg_whose_delay_reordered() -> None:
    # Request 400 is held 30 ms on the way there, reply 300 30 ms on the way back: each then arrives after
    # the next packet on its leg, 30 ms later than the 20-ms jitter buffer waits, so it is reordered there and
    # discarded. At home both replies arrive after their successor's; but reply 400 left the reflector as
    # soon as it came, so the downstream leg carried it in time: it is upstream's reordering, not downstream's.
    up_ms, down_ms = steady()
    up_ms[400] += 30
    down_ms[300] += 30
    result, _ = call(up_ms, down_ms)
    assert result.round_trip.reordered == 2 and result.loss_pct == 0.0
    assert (result.upstream.reordered, result.upstream.loss.discarded) == (1, 1)
    assert (result.downstream.reordered, result.downstream.loss.discarded) == (1, 1)
    up_ms[400] -= 30
    result, _ = call(up_ms, down_ms)
    assert (result.upstream.reordered, result.upstream.loss.discarded) == (0, 0)
    assert (result.downstream.reordered, result.downstream.loss.discarded) == (1, 1)
    # The discard is what the listener misses: 0.1 % effective loss on the downstream leg, its MOS the call's.
    assert result.downstream.loss.effective_loss_pct == pytest.approx(0.1)
    assert result.worse == "downstream" and result.mos == result.downstream.mos < result.upstream.mos


def test_a_reply_later_than_the_timeout_is_lost() -> None:
    up_ms, down_ms = steady(100)
    down_ms[50] += 2500  # 2.5 s: past the 2-s reply timeout, as probe/latency.py counts it
    result, _ = call(up_ms, down_ms)
    assert (result.packets_received, result.loss_pct, result.round_trip.late) == (99, 1.0, 1)
    assert (result.upstream.loss.lost, result.downstream.loss.lost) == (1, 1)


def test_no_reply_at_all_is_total_loss_with_no_rtt_or_jitter() -> None:
    result, _ = call(*steady(50), lost=set(range(50)))
    assert (result.packets_received, result.loss_pct, result.rtt_ms, result.jitter_ms) == (0, 100.0, None, None)
    # Listening quality (no delay known) at 100 % loss, G.107 eq. 7-29: R = 93.21 - 95 * 100 / (100 + 25.1) = 17.27,
    # MOS 1.18 by Annex B eq. B-4.
    assert result.mos_kind == "listening" and result.mos == pytest.approx(
        emodel.score("PCMU", 100.0).mos, abs=1e-9)
    assert result.r_factor == pytest.approx(17.27, abs=ITU_TOLERANCE)
    assert result.mos == pytest.approx(1.18, abs=ITU_MOS_TOLERANCE)


def test_a_minute_of_silence_is_all_lost_though_the_engine_takes_it_for_a_new_sequence() -> None:
    # 3,500 packets lost in a row: more than RFC 3550's MAX_DROPOUT, so the engine's sequence tracker starts a
    # new segment; the call still knows every packet it sent, and all of them count.
    result, _ = call(*steady(4000), lost=set(range(200, 3700)))
    assert (result.packets_received, result.loss_pct) == (500, 87.5)
    for leg in (result.upstream, result.downstream):
        assert (leg.loss.expected, leg.loss.lost, leg.loss.loss_runs) == (4000, 3500, ((3500, 1),))

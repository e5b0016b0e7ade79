"""`homeshore diagnose`'s pure part (planning/diagnosis.py): the call nearest a time, its poor windows merged into
periods, one sentence per cause with the evidence planning/cause.py gives it, and the --at time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from homeshore.planning.cause import CAUSES, HostFigures, WindowFigures, cause_of
from homeshore.planning.diagnosis import (CallWindow, Period, diagnose, parse_at, periods, sentence,
                                          summary_lines, window_of)

UTC = timezone.utc
T0 = int(datetime(2026, 12, 6, 10, 38, 20, tzinfo=UTC).timestamp()) * 10**9  # a window start on the 10-s grid
S = 10**9
POOR_IN = WindowFigures(mos=3.1, inbound_loss_pct=4.0, inbound_jitter_ms=12.0, far_end_loss_pct=0.0)
POOR_FAR = WindowFigures(mos=3.3, inbound_loss_pct=0.0, inbound_jitter_ms=3.0, far_end_loss_pct=5.0,
                         far_end_jitter_ms=31.0)
CLEAN = dict(cpu_pct=20.0, upload_use=0.1, download_use=0.2, gateway_rtt_ms=2.0, gateway_jitter_ms=0.5,
             gateway_loss_pct=0.0)

# Each cause as the agent's rules name it (real cause_of, so the evidence has the names the agent stores), and
# the sentence for 10:38:20-10:41:10 (17 windows).
SENTENCES = [
    (POOR_IN, {**CLEAN, "upload_use": 0.97}, "upload_saturated",
     "Your upload was saturated by other traffic on this machine from 10:38:20 to 10:41:10 (97 % of the line's "
     "upload speed in use)."),
    (POOR_IN, {**CLEAN, "download_use": 0.955}, "download_saturated",
     "Your download was saturated by other traffic on this machine from 10:38:20 to 10:41:10 (96 % of the "
     "line's download speed in use)."),
    (POOR_IN, {**CLEAN, "cpu_pct": 97.0}, "cpu",
     "This computer's processor was overloaded from 10:38:20 to 10:41:10 (CPU at 97 %)."),
    (POOR_IN, {**CLEAN, "wifi_signal_dbm": -78.0, "wifi_retries_per_s": 2.5}, "wifi_signal",
     "The Wi-Fi link was poor from 10:38:20 to 10:41:10 (-78 dBm signal and 2.5 retries a second)."),
    (POOR_IN, {**CLEAN, "gateway_rtt_ms": 25.0, "gateway_loss_pct": 4.0, "gateway_jitter_ms": 0.5}, "home_network",
     "From 10:38:20 to 10:41:10 the router answered in 25 ms with 4 % loss and 0.5 ms jitter: the home network "
     "(Wi-Fi or router) was the problem."),
    (POOR_IN, {**CLEAN, "vpn_kind": "wireguard"}, "vpn",
     "From 10:38:20 to 10:41:10 the call went through a VPN (wireguard) while the home network was clean: the "
     "VPN or its server was the likely problem."),
    (POOR_FAR, CLEAN, "far_end",
     "From 10:38:20 to 10:41:10 the far end reported 5 % loss and 31 ms jitter on what it received from this "
     "machine, while what it sent arrived clean: their side, or the line beyond the home."),
    (POOR_IN, CLEAN, "beyond_home",
     "From 10:38:20 to 10:41:10 the call arrived with 4 % loss and 12 ms jitter while the home network was clean "
     "(the router answered in 2 ms with 0 % loss and 0.5 ms jitter): the internet provider or beyond was the "
     "problem."),
    (POOR_IN, {"cpu_pct": 20.0}, "unknown",
     "The call was poor from 10:38:20 to 10:41:10, and nothing measured on this machine explains it."),
]


def test_the_table_covers_every_cause() -> None:
    assert sorted(cause for _, _, cause, _ in SENTENCES) == sorted(CAUSES)


@pytest.mark.parametrize(("window", "host", "cause", "expected"), SENTENCES, ids=[row[2] for row in SENTENCES])
def test_each_cause_in_plain_words_with_its_evidence(window: WindowFigures, host: dict, cause: str,
                                                    expected: str) -> None:
    finding = cause_of(window, HostFigures(**host))
    assert finding is not None and finding.cause == cause
    period = Period(cause, T0, T0 + 170 * S, 17, finding.evidence)
    assert sentence(period, UTC) == expected


def test_a_sentence_without_evidence_still_reads() -> None:
    for cause in CAUSES:
        text = sentence(Period(cause, T0, T0 + 10 * S, 1, {}), UTC)
        assert "10:38:20" in text and "10:38:30" in text and "None" not in text and "  " not in text, text


def test_times_are_in_the_zone_given() -> None:
    london_summer = timezone(timedelta(hours=1))
    text = sentence(Period("cpu", T0, T0 + 10 * S, 1, {"cpu_pct": 97.0}), london_summer)
    assert "from 11:38:20 to 11:38:30" in text


def w(offset_s: int, cause: str | None = None, direction: str = "inbound", key: str = "c1", spread_ns: int = 0,
      **evidence: float | str) -> CallWindow:
    return CallWindow(key, T0 + offset_s * S + spread_ns, direction, 3.0 if cause else 4.3, 5.0, 1.0, cause,
                      evidence)


MERGES = [
    ("one window", [w(0, "cpu")], [("cpu", 0, 10, 1)]),
    ("consecutive windows, one period", [w(0, "cpu"), w(10, "cpu"), w(20, "cpu")], [("cpu", 0, 30, 3)]),
    ("both directions of a window count once",
     [w(0, "cpu"), w(0, "cpu", "outbound", spread_ns=617), w(10, "cpu", spread_ns=5),
      w(10, "cpu", "outbound", spread_ns=999)], [("cpu", 0, 20, 2)]),
    ("another cause starts another period", [w(0, "cpu"), w(10, "cpu"), w(20, "vpn"), w(30, "vpn")],
     [("cpu", 0, 20, 2), ("vpn", 20, 40, 2)]),
    ("a clean window ends a period", [w(0, "cpu"), w(10), w(20, "cpu")], [("cpu", 0, 10, 1), ("cpu", 20, 30, 1)]),
    ("a missing window ends a period", [w(0, "cpu"), w(20, "cpu")], [("cpu", 0, 10, 1), ("cpu", 20, 30, 1)]),
    ("clean call, no period", [w(0), w(10), w(0, direction="outbound")], []),
    ("order of arrival does not matter", [w(20, "far_end"), w(0, "far_end"), w(10, "far_end")],
     [("far_end", 0, 30, 3)]),
]


@pytest.mark.parametrize(("windows", "expected"), [row[1:] for row in MERGES], ids=[row[0] for row in MERGES])
def test_consecutive_windows_with_one_cause_merge(windows: list[CallWindow], expected: list[tuple]) -> None:
    got = [(p.cause, (p.start_ns - T0) // S, (p.end_ns - T0) // S, p.windows) for p in periods(windows)]
    assert got == expected


def test_a_period_keeps_the_worst_of_each_figure() -> None:
    windows = [w(0, "wifi_signal", wifi_signal_dbm=-70.0, gateway_loss_pct=1.0),
               w(10, "wifi_signal", wifi_signal_dbm=-81.0, gateway_loss_pct=0.5, gateway_rtt_ms=9.0),
               w(20, "wifi_signal", wifi_signal_dbm=-75.0, gateway_loss_pct=3.0)]
    (period,) = periods(windows)
    assert period.evidence == {"wifi_signal_dbm": -81.0, "gateway_loss_pct": 3.0, "gateway_rtt_ms": 9.0}


def test_the_call_nearest_the_time_is_chosen_and_only_its_windows() -> None:
    early = [w(s, key="early") for s in (0, 10, 20)]
    late = [w(s, "cpu", key="late") for s in (600, 610)] + [w(600, "cpu", "outbound", key="late")]
    at = T0 + 400 * S  # 380 s after early's last window, 200 s before late's first
    found = diagnose(early + late, at, 15 * 60 * S)
    assert found is not None and {x.call_key for x in found.windows} == {"late"}
    assert [(x.time_ns - T0) // S for x in found.windows] == [600, 600, 610]
    assert [x.direction for x in found.windows] == ["inbound", "outbound", "inbound"]
    assert (found.start_ns - T0) // S == 600 and (found.end_ns - T0) // S == 620
    assert diagnose(early + late, at, 100 * S) is None  # nothing within 100 s
    assert diagnose([], at, 15 * 60 * S) is None


def test_a_clean_call_says_so() -> None:
    found = diagnose([w(0), w(10)], T0, 60 * S)
    assert found is not None
    assert summary_lines(found, UTC) == ["The call from 10:38:20 to 10:38:40 had no poor window."]


def test_a_stored_point_becomes_a_window() -> None:
    tags = {"agent": "h-1", "phase": "window", "direction": "inbound", "cause": "cpu", "codec": "PCMA"}
    fields = {"call_key": "k", "mos": 3.0, "jitter_ms": 4.0, "loss_pct": 1.0, "cpu_pct": 97.0, "packets": 500.0}
    assert window_of(tags, fields, T0) == CallWindow("k", T0, "inbound", 3.0, 4.0, 1.0, "cpu", {"cpu_pct": 97.0})
    assert window_of({**tags, "phase": "end"}, fields, T0) is None
    assert window_of(tags, {**fields, "call_key": None}, T0) is None
    clean = window_of({k: v for k, v in tags.items() if k != "cause"}, {"call_key": "k", "mos": None}, T0)
    assert clean == CallWindow("k", T0, "inbound", None, None, None, None, {})


TODAY = date(2026, 12, 6)
PLUS_ONE = timezone(timedelta(hours=1))
TIMES = [
    ("10:40", UTC, datetime(2026, 12, 6, 10, 40, tzinfo=UTC)),
    ("9:05:30", UTC, datetime(2026, 12, 6, 9, 5, 30, tzinfo=UTC)),
    ("10:40", PLUS_ONE, datetime(2026, 12, 6, 9, 40, tzinfo=UTC)),
    ("2026-07-01T10:40", PLUS_ONE, datetime(2026, 7, 1, 9, 40, tzinfo=UTC)),
    ("2026-07-01T10:40:00Z", PLUS_ONE, datetime(2026, 7, 1, 10, 40, tzinfo=UTC)),
    ("2026-07-01T10:40+02:00", UTC, datetime(2026, 7, 1, 8, 40, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "zone", "expected"), TIMES)
def test_at_reads_hh_mm_today_and_iso(text: str, zone: timezone, expected: datetime) -> None:
    assert parse_at(text, TODAY, zone) == expected


@pytest.mark.parametrize("text", ["25:00", "10:61", "1040", "yesterday", "", "10:40pm", "2026-13-01T10:00"])
def test_a_bad_at_names_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not HH:MM, HH:MM:SS or ISO-8601"):
        parse_at(text, TODAY, UTC)

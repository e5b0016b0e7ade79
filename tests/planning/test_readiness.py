"""evaluate(): each criterion at, just past and just short of its threshold and WARN band; advice that names the
cause the host context shows; the verdict and its JSON form; and no measurement that makes it raise."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.planning.figures import figure, quantity
from homeshore.planning.measurements import CONNECTIONS, ReadinessMeasurements
from homeshore.planning.policy import RANGES, Policy
from homeshore.planning.readiness import evaluate
from homeshore.planning.verdict import CRITERIA, Status, verdict_dict

GOOD_HOME = ReadinessMeasurements(
    download_goodput_mbps=30.0, upload_goodput_mbps=6.0, idle_rtt_ms=20.0, loaded_rtt_download_ms=32.0,
    loaded_rtt_upload_ms=38.0, jitter_ms=3.0, loss_pct=0.0, mos=4.38, connection="wired",
)
OVERHEAD = 1514 / 1448  # the default allowance, written out: a TCP/IPv4 Ethernet frame over its payload
PASS, WARN, FAIL = Status.PASS, Status.WARN, Status.FAIL


def home(**changes: object) -> ReadinessMeasurements:
    return dataclasses.replace(GOOD_HOME, **changes)


def speed(line_mbps: float) -> float:
    """The goodput a speed test reports on a line of this rate under the default overhead allowance."""
    return line_mbps / OVERHEAD


# (criterion, changes to the good home, status): at the threshold, a hair either side, and the same at the WARN
# band's edge. Thresholds are inclusive (a figure equal to one does not fail), and so are WARN bands.
BOUNDS = [
    ("download", {"download_goodput_mbps": speed(7.999)}, FAIL),
    ("download", {"download_goodput_mbps": speed(8.0)}, WARN),
    ("download", {"download_goodput_mbps": speed(8.001)}, WARN),
    ("download", {"download_goodput_mbps": speed(9.999)}, WARN),
    ("download", {"download_goodput_mbps": speed(10.0)}, PASS),
    ("upload", {"upload_goodput_mbps": speed(0.999)}, FAIL),
    ("upload", {"upload_goodput_mbps": speed(1.0)}, WARN),
    ("upload", {"upload_goodput_mbps": speed(1.249)}, WARN),
    ("upload", {"upload_goodput_mbps": speed(1.25)}, PASS),
    ("idle_rtt", {"idle_rtt_ms": 100.001}, FAIL),
    ("idle_rtt", {"idle_rtt_ms": 100.0}, WARN),
    ("idle_rtt", {"idle_rtt_ms": 75.001}, WARN),
    ("idle_rtt", {"idle_rtt_ms": 75.0}, PASS),
    # idle 20 ms: limit idle + 100 = 120 ms, WARN above idle + 75 = 95 ms
    ("loaded_rtt", {"loaded_rtt_upload_ms": 120.001}, FAIL),
    ("loaded_rtt", {"loaded_rtt_download_ms": 120.001}, FAIL),
    ("loaded_rtt", {"loaded_rtt_upload_ms": 120.0}, WARN),
    ("loaded_rtt", {"loaded_rtt_upload_ms": 95.001}, WARN),
    ("loaded_rtt", {"loaded_rtt_upload_ms": 95.0}, PASS),
    # idle 150 ms (itself failing): the absolute 200 ms limit applies, WARN above 150 ms
    ("loaded_rtt", {"idle_rtt_ms": 150.0, "loaded_rtt_upload_ms": 200.001}, FAIL),
    ("loaded_rtt", {"idle_rtt_ms": 150.0, "loaded_rtt_upload_ms": 200.0}, WARN),
    ("loaded_rtt", {"idle_rtt_ms": 150.0, "loaded_rtt_upload_ms": 150.001}, WARN),
    ("loaded_rtt", {"idle_rtt_ms": 140.0, "loaded_rtt_upload_ms": 150.0}, PASS),
    # idle not measured: the absolute limit
    ("loaded_rtt", {"idle_rtt_ms": None, "loaded_rtt_upload_ms": 200.001}, FAIL),
    ("loaded_rtt", {"idle_rtt_ms": None, "loaded_rtt_upload_ms": 150.0}, PASS),
    ("jitter", {"jitter_ms": 30.001}, FAIL),
    ("jitter", {"jitter_ms": 30.0}, WARN),
    ("jitter", {"jitter_ms": 22.501}, WARN),
    ("jitter", {"jitter_ms": 22.5}, PASS),
    ("loss", {"loss_pct": 1.001}, FAIL),
    ("loss", {"loss_pct": 1.0}, WARN),
    ("loss", {"loss_pct": 0.751}, WARN),
    ("loss", {"loss_pct": 0.75}, PASS),
    ("mos", {"mos": 3.999}, FAIL),
    ("mos", {"mos": 4.0}, WARN),
    ("mos", {"mos": 4.199}, WARN),
    ("mos", {"mos": 4.2}, PASS),
]


@pytest.mark.parametrize(("name", "changes", "status"), BOUNDS)
def test_each_criterion_at_its_bounds(name: str, changes: dict, status: Status) -> None:
    verdict = evaluate(home(**changes))
    criterion = verdict.criterion(name)
    assert criterion.status is status, criterion.advice
    if "idle_rtt_ms" not in changes:
        assert verdict.overall is status  # the good home's other figures all pass


def test_a_good_home_passes_with_short_advice() -> None:
    verdict = evaluate(GOOD_HOME)
    assert verdict.overall is PASS and not verdict.could_not_measure
    assert [c.name for c in verdict.criteria] == list(CRITERIA)
    assert verdict.criterion("jitter").advice == "Jitter 3 ms is within the 30 ms limit."
    assert verdict.bufferbloat_grade == "A"  # worst phase: upload, +18 ms


def test_the_worse_loaded_phase_is_judged() -> None:
    criterion = evaluate(home(loaded_rtt_download_ms=300.0, loaded_rtt_upload_ms=40.0)).criterion("loaded_rtt")
    assert criterion.value == 300.0 and "while downloading" in criterion.advice


@pytest.mark.parametrize(("missing", "could_not_measure"), [
    ("download_goodput_mbps", True), ("upload_goodput_mbps", True), ("idle_rtt_ms", True), ("jitter_ms", True),
    ("loss_pct", True), ("mos", False),
])
def test_a_missing_figure_warns_and_essential_ones_cannot_measure(missing: str, could_not_measure: bool) -> None:
    verdict = evaluate(home(**{missing: None}))
    assert verdict.overall is WARN and verdict.could_not_measure is could_not_measure
    unmeasured = [c for c in verdict.criteria if not c.measured]
    assert len(unmeasured) == 1 and unmeasured[0].status is WARN and unmeasured[0].value is None
    assert "not measured" in unmeasured[0].advice


def test_loaded_rtt_needs_either_phase() -> None:
    verdict = evaluate(home(loaded_rtt_download_ms=None, loaded_rtt_upload_ms=None))
    assert verdict.criterion("loaded_rtt").status is WARN and not verdict.could_not_measure
    assert verdict.bufferbloat_grade is None
    assert evaluate(home(loaded_rtt_download_ms=None)).criterion("loaded_rtt").value == 38.0


def test_a_failure_stands_when_other_figures_are_missing() -> None:
    verdict = evaluate(home(loss_pct=4.0, jitter_ms=None))
    assert verdict.overall is FAIL and verdict.could_not_measure


@pytest.mark.parametrize(("field", "bad"), [
    ("jitter_ms", float("nan")), ("jitter_ms", -1.0), ("loss_pct", 101.0), ("mos", 0.5), ("mos", float("inf")),
    ("download_goodput_mbps", float("nan")), ("download_goodput_mbps", 1.75e308),  # its line rate overflows to inf
])
def test_an_unusable_figure_counts_as_not_measured(field: str, bad: float) -> None:
    verdict = evaluate(home(**{field: bad}))
    assert verdict.could_not_measure is (field != "mos")
    (criterion,) = [c for c in verdict.criteria if not c.measured]
    assert criterion.status is WARN and "could not be used" in criterion.advice


# --- advice ---------------------------------------------------------------------------------------------------


def advice(name: str, **changes: object) -> str:
    return evaluate(home(**changes)).criterion(name).advice


def test_wifi_jitter_says_connect_by_cable_with_the_added_jitter() -> None:
    text = advice("jitter", jitter_ms=36.0, connection="wifi", wifi_jitter_added_ms=14.0)
    assert text.startswith("Jitter 36 ms is above the 30 ms limit.")
    assert "Connect by cable: Wi-Fi added 14 ms of jitter." in text


def test_wifi_without_a_figure_still_names_wifi() -> None:
    assert "Connect by cable" in advice("loss", loss_pct=2.0, connection="wifi")
    assert "Wi-Fi" not in advice("jitter", jitter_ms=36.0)  # wired: the line, not the house
    assert "ask the ISP" in advice("jitter", jitter_ms=36.0)


def test_a_mobile_connection_is_named() -> None:
    assert "fixed broadband line" in advice("jitter", jitter_ms=36.0, connection="cellular")


def test_other_download_traffic_asks_for_a_quiet_household() -> None:
    text = advice("download", download_goodput_mbps=5.0, other_download_mbps=12.0)
    assert "something else was downloading (12 Mbit/s): repeat it when the household is quiet" in text
    assert "quiet" not in advice("download", download_goodput_mbps=5.0, other_download_mbps=0.3)  # background
    assert "quiet" not in advice("download", download_goodput_mbps=5.0, other_upload_mbps=12.0)  # other way


def test_other_traffic_is_named_on_any_figure_it_disturbs() -> None:
    text = advice("jitter", jitter_ms=40.0, other_download_mbps=12.0, other_upload_mbps=2.5)
    assert "downloading (12 Mbit/s) and uploading (2.5 Mbit/s)" in text


def test_a_saturated_upload_is_named_with_the_loaded_rtt() -> None:
    text = advice("loaded_rtt", loaded_rtt_upload_ms=600.0, other_upload_mbps=3.0)
    assert "Your upload is saturated by another program (3 Mbit/s besides the test): loaded RTT 600 ms." in text


def test_bufferbloat_names_the_queue_and_sqm() -> None:
    text = advice("loaded_rtt", loaded_rtt_download_ms=150.0)
    assert text.startswith("RTT under load 150 ms (while downloading) is above the 120 ms limit (idle 20 ms + 100 ms)")
    assert "Your router's queue adds 130 ms under load (bufferbloat grade C)" in text and "SQM" in text


def test_a_high_loaded_rtt_from_a_slow_line_is_not_blamed_on_the_queue() -> None:
    text = advice("loaded_rtt", idle_rtt_ms=190.0, loaded_rtt_upload_ms=210.0)
    assert "idle RTT (190 ms), not the router's queue" in text


def test_a_busy_computer_is_named() -> None:
    assert "CPU 97%" in advice("mos", mos=3.6, cpu_pct=97.0)
    assert "CPU" not in advice("mos", mos=3.6, cpu_pct=40.0)


def test_a_warning_without_a_cause_suggests_the_evening_peak() -> None:
    text = advice("download", download_goodput_mbps=speed(9.0))
    assert "with little margin (warning below 10 Mbit/s)" in text and "evening peak" in text


@pytest.mark.parametrize(("name", "changes", "status"), BOUNDS)
def test_every_advice_states_the_value_and_the_threshold(name: str, changes: dict, status: Status) -> None:
    criterion = evaluate(home(**changes)).criterion(name)
    assert quantity(criterion.value, criterion.unit) in criterion.advice
    assert f"the {quantity(criterion.threshold, criterion.unit)} " in criterion.advice


# --- JSON -----------------------------------------------------------------------------------------------------


def test_verdict_dict_is_designs_check_json() -> None:
    document = verdict_dict(evaluate(home(jitter_ms=40.0, mos=None)))
    assert set(document) == {"verdict", "criteria"} and document["verdict"] == "FAIL"
    assert [c["name"] for c in document["criteria"]] == ["download", "upload", "idle_rtt", "loaded_rtt", "jitter",
                                                         "loss", "mos"]
    for criterion in document["criteria"]:
        assert set(criterion) == {"name", "status", "value", "threshold", "unit", "advice"}
        assert criterion["status"] in ("PASS", "WARN", "FAIL")
    assert document["criteria"][6]["value"] is None
    assert json.loads(json.dumps(document, allow_nan=False)) == document


# --- any measurements, any valid policy -------------------------------------------------------------------------

figures = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 1000)
measurements = st.builds(ReadinessMeasurements, **{
    field.name: (st.sampled_from(CONNECTIONS) if field.name == "connection" else figures)
    for field in dataclasses.fields(ReadinessMeasurements)
})
policies = st.builds(Policy, **{
    key: st.floats(bounds.low, bounds.high, exclude_min=not bounds.low_allowed) for key, bounds in RANGES.items()
})


@settings(max_examples=400, deadline=None)
@given(measurements, policies)
def test_any_measurements_never_raise_and_a_fail_has_advice(measured: ReadinessMeasurements, policy: Policy) -> None:
    verdict = evaluate(measured, policy)
    assert [c.name for c in verdict.criteria] == list(CRITERIA)
    assert (verdict.overall is FAIL) == any(c.status is FAIL for c in verdict.criteria)
    for criterion in verdict.criteria:
        assert criterion.advice and "\n" not in criterion.advice
        if criterion.status is FAIL:
            assert quantity(criterion.value, criterion.unit) in criterion.advice
            assert figure(criterion.threshold) in criterion.advice
            assert len(criterion.advice.split(". ")) >= 2  # the comparison, then what to do
        if criterion.measured:
            assert math.isfinite(criterion.value)
    json.dumps(verdict_dict(verdict), allow_nan=False)

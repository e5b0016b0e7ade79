"""The policy's defaults and bounds, the line-rate correction of goodput, and reading the policy file."""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.planning.measurements import ReadinessMeasurements
from homeshore.planning.policy import RANGES, TCP_IPV4_ETHERNET_OVERHEAD_PCT, Policy, PolicyError
from homeshore.planning.policy_file import load_policy, policy_origin
from homeshore.planning.readiness import evaluate
from homeshore.planning.verdict import Status

# iperf3's receiver goodput through `tc tbf rate R` on a veth pair: R x 1448/1514 in theory (full TCP segments
# with timestamps in Ethernet frames), and what this machine measured (8 s, reverse mode, 16 kB burst).
GOODPUT_PER_LINE_RATE = 1448 / 1514
MEASURED_GOODPUT_MBPS = {7: 6.700, 8: 7.666, 10: 9.578}


def test_defaults_are_design_and_issue_5() -> None:
    policy = Policy()
    assert (policy.download_min_mbps, policy.upload_min_mbps) == (8.0, 1.0)
    assert (policy.idle_rtt_max_ms, policy.loaded_rtt_increase_max_ms, policy.loaded_rtt_max_ms) == (100, 100, 200)
    assert (policy.jitter_max_ms, policy.loss_max_pct, policy.mos_min) == (30.0, 1.0, 4.0)
    assert policy.protocol_overhead_pct == pytest.approx(4.558, abs=0.001)


def test_every_policy_field_has_a_range() -> None:
    assert set(RANGES) == {field.name for field in dataclasses.fields(Policy)}


def test_line_rate_inverts_the_overhead_of_a_full_segment() -> None:
    for line_mbps in (2.0, 8.0, 10.0, 50.0):
        assert Policy().line_rate_mbps(line_mbps * GOODPUT_PER_LINE_RATE) == line_mbps


@pytest.mark.parametrize(("shaped_mbps", "goodput_mbps", "fails"), [
    (7, 7 * GOODPUT_PER_LINE_RATE, True),
    (7, MEASURED_GOODPUT_MBPS[7], True),
    (8, MEASURED_GOODPUT_MBPS[8], False),
    (10, 10 * GOODPUT_PER_LINE_RATE, False),
    (10, MEASURED_GOODPUT_MBPS[10], False),
    (10, 9.5, False),  # a slightly low reading of a 10 Mbit/s home: 9.933 Mbit/s line rate, WARN
])
def test_download_rule_on_line_rate(shaped_mbps: int, goodput_mbps: float, fails: bool) -> None:
    criterion = evaluate(ReadinessMeasurements(download_goodput_mbps=goodput_mbps)).criterion("download")
    assert (criterion.status is Status.FAIL) == fails
    assert criterion.value == pytest.approx(shaped_mbps, rel=0.01)
    assert criterion.goodput_mbps == goodput_mbps
    assert f"{goodput_mbps:.3f}".rstrip("0") in criterion.advice and "line rate" in criterion.advice


def test_without_the_correction_an_8_mbit_home_would_fail() -> None:
    measured = ReadinessMeasurements(download_goodput_mbps=MEASURED_GOODPUT_MBPS[8])
    assert evaluate(measured).criterion("download").status is Status.WARN
    assert evaluate(measured, Policy(protocol_overhead_pct=0)).criterion("download").status is Status.FAIL


def test_a_1_mbit_uplink_meets_the_upload_rule() -> None:
    measured = ReadinessMeasurements(upload_goodput_mbps=1.0 * GOODPUT_PER_LINE_RATE)
    assert evaluate(measured).criterion("upload").status is Status.WARN


def test_overhead_constant_is_tcp_ipv4_ethernet() -> None:
    assert 1 + TCP_IPV4_ETHERNET_OVERHEAD_PCT / 100 == pytest.approx((1500 + 14) / (1500 - 20 - 20 - 12))


@pytest.mark.parametrize(("key", "value"), [
    ("jitter_max_ms", -1.0), ("idle_rtt_max_ms", 0.0), ("loss_max_pct", 101.0), ("mos_min", 5.5),
    ("download_min_mbps", float("nan")), ("warn_margin_pct", 95.0), ("upload_min_mbps", True),
])
def test_policy_refuses_a_nonsensical_value(key: str, value: object) -> None:
    with pytest.raises(PolicyError, match=key):
        Policy(**{key: value})


# --- the policy file ------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "policy.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("text", ["", "[policy]\n", "# nothing set\n[policy]\n# jitter_max_ms = 20\n"])
def test_a_file_without_keys_gives_the_defaults(tmp_path: Path, text: str) -> None:
    assert load_policy(write(tmp_path, text)) == Policy()


def test_keys_override_the_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "[policy]\ndownload_min_mbps = 10\nloaded_rtt_max_ms = 150.5\n"
                                         "protocol_overhead_pct = 6.2  # PPPoE over VDSL\n"))
    assert policy == Policy(download_min_mbps=10.0, loaded_rtt_max_ms=150.5, protocol_overhead_pct=6.2)
    assert isinstance(policy.download_min_mbps, float)


@pytest.mark.parametrize(("text", "names"), [
    ("[policy]\ndownload_min_mbps = 'eight'\n", ["policy.toml:2:", "download_min_mbps", "must be a number"]),
    ("[policy]\n\ndownload_min_mpbs = 9\n", ["policy.toml:3:", "download_min_mpbs", "did you mean download_min_mbps"]),
    ("[policy]\nbandwidth = 9\n", ["policy.toml:2:", "bandwidth", "known keys"]),
    ("[policy]\njitter_max_ms = -1\n", ["policy.toml:2:", "jitter_max_ms", "out of range"]),
    ("[policy]\nidle_rtt_max_ms = 0\n", ["policy.toml:2:", "idle_rtt_max_ms", "out of range"]),
    ("[policy]\nloss_max_pct = 150\n", ["policy.toml:2:", "loss_max_pct", "out of range"]),
    ("[policy]\nmos_min = 6.0\n", ["policy.toml:2:", "mos_min"]),
    ("[policy]\nloss_max_pct = nan\n", ["policy.toml:2:", "loss_max_pct", "finite"]),
    ("[policy]\nmos_min = true\n", ["policy.toml:2:", "mos_min", "bool"]),
    ("[policy]\njitter_max_ms = [30]\n", ["policy.toml:2:", "jitter_max_ms", "list"]),
    ("[polcy]\njitter_max_ms = 30\n", ["policy.toml:1:", "polcy", "[policy]"]),
    ("jitter_max_ms = 30\n[policy]\n", ["policy.toml:1:", "jitter_max_ms", "[policy]"]),
    ("policy = 3\n", ["policy.toml:1:", "policy must be a table"]),
    ("[policy]\njitter_max_ms = \n", ["policy.toml", "malformed TOML", "line 2"]),
    ("[policy]\njitter_max_ms = 30\njitter_max_ms = 20\n", ["policy.toml", "malformed TOML", "line 3"]),
    (b"[policy]\n# \xff\xfe\n", ["policy.toml", "cannot read"]),
])
def test_a_bad_file_gives_one_line_naming_the_problem(tmp_path: Path, text: str | bytes, names: list[str]) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(write(tmp_path, text))
    message = str(raised.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nope\.toml: cannot read the policy file: No such file"):
        load_policy(tmp_path / "nope.toml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_policy_or_one_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory), "[policy]\n" + text)
        try:
            assert isinstance(load_policy(path), Policy)
        except PolicyError as error:
            assert "\n" not in str(error) and "policy.toml" in str(error)


def test_a_check_names_its_policy_by_file_name_and_sha256_or_as_the_defaults(tmp_path: Path) -> None:
    policy = tmp_path / "alice" / "strict.toml"
    policy.parent.mkdir()
    policy.write_bytes(b"[policy]\njitter_max_ms = 20.0\n")
    # reference: sha256sum(1) of the same bytes
    expected = subprocess.run(["sha256sum", str(policy)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert policy_origin(policy) == {"file": "strict.toml", "sha256": expected}
    assert policy_origin(None) == {"file": None, "sha256": None}
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        policy_origin(tmp_path / "missing.toml")

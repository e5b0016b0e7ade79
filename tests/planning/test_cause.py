"""The cause rules (planning/cause.py) and their thresholds in the policy file's [cause] table.

Tables of cases: each cause on its own, then pairs of causes to fix their precedence, and the edges (a figure
equal to its threshold, unknown figures, a clean window)."""

from __future__ import annotations

import dataclasses

import pytest

from homeshore.planning.cause import CAUSES, CauseFinding, HostFigures, WindowFigures, cause_of, is_poor
from homeshore.planning.cause_policy import CAUSE_RANGES, CausePolicy
from homeshore.planning.policy import Policy, PolicyError
from homeshore.planning.policy_file import load_cause_policy, load_policies, load_policy
from tests.planning.test_policy import write

CLEAN_WINDOW = WindowFigures(mos=4.3, inbound_loss_pct=0.0, inbound_jitter_ms=3.0, far_end_loss_pct=0.0,
                             far_end_jitter_ms=4.0)
POOR_INBOUND = WindowFigures(mos=3.1, inbound_loss_pct=4.0, inbound_jitter_ms=12.0, far_end_loss_pct=0.0)
POOR_FAR_END = WindowFigures(mos=3.3, inbound_loss_pct=0.0, inbound_jitter_ms=3.0, far_end_loss_pct=5.0)
CLEAN_HOST = HostFigures(cpu_pct=20.0, upload_use=0.1, download_use=0.2, wifi_signal_dbm=-55.0,
                         wifi_retries_per_s=0.0, gateway_rtt_ms=2.0, gateway_jitter_ms=0.5, gateway_loss_pct=0.0)


def host(**changes) -> HostFigures:
    return dataclasses.replace(CLEAN_HOST, **changes)


BUSY = {"cpu_pct": 97.0}
UPLOAD = {"upload_use": 0.97}
DOWNLOAD = {"download_use": 0.95}
WEAK = {"wifi_signal_dbm": -78.0}
HOME = {"gateway_jitter_ms": 25.0}
GATEWAY_CLEAN = {"gateway_rtt_ms": 2.0, "gateway_jitter_ms": 0.5, "gateway_loss_pct": 0.0}


EACH_CAUSE = [
    # Each cause on its own, with its evidence.
    (POOR_INBOUND, host(**BUSY), CauseFinding("cpu", {"cpu_pct": 97.0})),
    (POOR_FAR_END, host(**UPLOAD), CauseFinding("upload_saturated", {"upload_use": 0.97, **GATEWAY_CLEAN})),
    (POOR_INBOUND, host(**DOWNLOAD), CauseFinding("download_saturated", {"download_use": 0.95, **GATEWAY_CLEAN})),
    (POOR_INBOUND, host(**WEAK), CauseFinding("wifi_signal", {"wifi_signal_dbm": -78.0, "wifi_retries_per_s": 0.0,
                                                              **GATEWAY_CLEAN})),
    (POOR_INBOUND, host(wifi_retries_per_s=40.0),
     CauseFinding("wifi_signal", {"wifi_signal_dbm": -55.0, "wifi_retries_per_s": 40.0, **GATEWAY_CLEAN})),
    (POOR_INBOUND, host(**HOME), CauseFinding("home_network", {**GATEWAY_CLEAN, "gateway_jitter_ms": 25.0})),
    (POOR_INBOUND, host(gateway_loss_pct=6.0), CauseFinding("home_network", {**GATEWAY_CLEAN,
                                                                             "gateway_loss_pct": 6.0})),
    (POOR_INBOUND, host(gateway_rtt_ms=80.0), CauseFinding("home_network", {**GATEWAY_CLEAN,
                                                                            "gateway_rtt_ms": 80.0})),
    (POOR_INBOUND, host(vpn_kind="wireguard"), CauseFinding("vpn", {"vpn_kind": "wireguard", **GATEWAY_CLEAN})),
    (POOR_FAR_END, CLEAN_HOST, CauseFinding("far_end", {"far_end_loss_pct": 5.0, **GATEWAY_CLEAN})),
    (POOR_INBOUND, CLEAN_HOST, CauseFinding("beyond_home", {"inbound_loss_pct": 4.0, "inbound_jitter_ms": 12.0,
                                                            **GATEWAY_CLEAN})),
    # Poor inbound with no gateway figures: the home is not cleared, so the cause is not known.
    (POOR_INBOUND, HostFigures(cpu_pct=20.0), CauseFinding("unknown", {})),
    (WindowFigures(mos=3.0), CLEAN_HOST, CauseFinding("unknown", GATEWAY_CLEAN)),
    # Both directions poor with a clean home: the path beyond it, not the far end alone.
    (dataclasses.replace(POOR_INBOUND, far_end_loss_pct=5.0), CLEAN_HOST,
     CauseFinding("beyond_home", {"inbound_loss_pct": 4.0, "inbound_jitter_ms": 12.0, **GATEWAY_CLEAN})),
    # A jittery far end alone is far_end too.
    (dataclasses.replace(CLEAN_WINDOW, far_end_jitter_ms=45.0), CLEAN_HOST,
     CauseFinding("far_end", {"far_end_loss_pct": 0.0, "far_end_jitter_ms": 45.0, **GATEWAY_CLEAN})),
]


@pytest.mark.parametrize("window, context, expected", EACH_CAUSE)
def test_each_cause(window, context, expected):
    assert cause_of(window, context) == expected


# Precedence: with two conditions at once, the first in the rules' order names the window.
ORDER = [("cpu", BUSY), ("upload_saturated", UPLOAD), ("download_saturated", DOWNLOAD), ("wifi_signal", WEAK),
         ("home_network", HOME), ("vpn", {"vpn_kind": "tun"})]


@pytest.mark.parametrize("first, later", [(a, b) for i, a in enumerate(ORDER) for b in ORDER[i + 1:]],
                         ids=lambda pair: pair[0])
def test_precedence(first, later):
    context = host(**first[1], **later[1])
    assert cause_of(POOR_INBOUND, context).cause == first[0]
    assert cause_of(POOR_FAR_END, context).cause == first[0]


@pytest.mark.parametrize("name, condition", ORDER, ids=[name for name, _ in ORDER])
def test_a_local_condition_outranks_far_end_and_beyond_home(name, condition):
    assert cause_of(POOR_INBOUND, host(**condition)).cause == name
    assert cause_of(POOR_FAR_END, host(**condition)).cause == name


@pytest.mark.parametrize("context", [CLEAN_HOST, host(**BUSY), host(**UPLOAD), host(**WEAK), host(**HOME),
                                     host(vpn_kind="tun"), HostFigures()])
def test_a_clean_window_gets_no_cause_whatever_the_host(context):
    assert cause_of(CLEAN_WINDOW, context) is None


@pytest.mark.parametrize("window, poor", [
    (CLEAN_WINDOW, False),
    (WindowFigures(), False),  # nothing known: nothing to explain
    (dataclasses.replace(CLEAN_WINDOW, mos=3.6), False),  # at the threshold: not poor
    (dataclasses.replace(CLEAN_WINDOW, mos=3.59), True),
    (dataclasses.replace(CLEAN_WINDOW, inbound_loss_pct=1.0), False),
    (dataclasses.replace(CLEAN_WINDOW, inbound_loss_pct=1.01), True),
    (dataclasses.replace(CLEAN_WINDOW, inbound_jitter_ms=30.5), True),
    (dataclasses.replace(CLEAN_WINDOW, far_end_loss_pct=2.0), True),
    (dataclasses.replace(CLEAN_WINDOW, far_end_jitter_ms=31.0), True),
])
def test_poor_window(window, poor):
    assert is_poor(window, CausePolicy()) is poor


@pytest.mark.parametrize("changes, expected", [
    ({"cpu_pct": 90.0}, "cpu"),  # CPU at the threshold counts (Operata: "above 90 %" read inclusively)
    ({"cpu_pct": 89.9}, "beyond_home"),
    ({"upload_use": 0.9}, "upload_saturated"),
    ({"upload_use": 0.89}, "beyond_home"),
    ({"wifi_signal_dbm": -70.0}, "beyond_home"),  # -70 itself is still "fair"
    ({"wifi_signal_dbm": -70.5}, "wifi_signal"),
    ({"gateway_jitter_ms": 10.0}, "beyond_home"),
    ({"gateway_jitter_ms": 10.1}, "home_network"),
    ({"gateway_loss_pct": None}, "unknown"),  # the home segment not measured: not cleared
])
def test_thresholds_at_their_edges(changes, expected):
    assert cause_of(POOR_INBOUND, host(**changes)).cause == expected


def test_every_cause_is_reachable_and_the_set_is_bounded():
    seen = {expected.cause for _, _, expected in EACH_CAUSE}
    assert seen == set(CAUSES)


def test_thresholds_come_from_the_policy():
    strict = CausePolicy(cpu_busy_pct=50.0, wifi_signal_min_dbm=-60.0, gateway_jitter_max_ms=0.2)
    assert cause_of(POOR_INBOUND, host(cpu_pct=60.0), strict).cause == "cpu"
    assert cause_of(POOR_INBOUND, host(wifi_signal_dbm=-65.0), strict).cause == "wifi_signal"
    assert cause_of(POOR_INBOUND, CLEAN_HOST, strict).cause == "home_network"  # 0.5 ms now over its 0.2 ms
    lenient = CausePolicy(mos_poor_below=3.0, loss_poor_pct=5.0, jitter_poor_ms=50.0)
    assert cause_of(POOR_INBOUND, CLEAN_HOST, lenient) is None


def test_every_cause_threshold_has_a_range_and_the_defaults_are_cited():
    assert set(CAUSE_RANGES) == {f.name for f in dataclasses.fields(CausePolicy)}
    policy = CausePolicy()
    assert (policy.cpu_busy_pct, policy.wifi_signal_min_dbm, policy.mos_poor_below) == (90.0, -70.0, 3.6)


# --- the [cause] table of the policy file ---------------------------------------------------------------------


def test_cause_table_beside_the_policy_table(tmp_path):
    path = write(tmp_path, "[policy]\njitter_max_ms = 25\n\n[cause]\ncpu_busy_pct = 80\nwifi_signal_min_dbm = -67\n")
    assert load_policy(path) == Policy(jitter_max_ms=25.0)
    assert load_cause_policy(path) == CausePolicy(cpu_busy_pct=80.0, wifi_signal_min_dbm=-67.0)
    assert load_policies(path) == (Policy(jitter_max_ms=25.0), CausePolicy(cpu_busy_pct=80.0,
                                                                          wifi_signal_min_dbm=-67.0))
    assert load_cause_policy(write(tmp_path, "[policy]\n")) == CausePolicy()


@pytest.mark.parametrize("text, names", [
    ("[cause]\ncpu_busy = 80\n", ["policy.toml:2:", "cpu_busy", "did you mean cpu_busy_pct"]),
    ("[cause]\ncpu_busy_pct = 0\n", ["policy.toml:2:", "cpu_busy_pct", "out of range"]),
    ("[cause]\nwifi_signal_min_dbm = 10\n", ["policy.toml:2:", "wifi_signal_min_dbm", "out of range"]),
    ("[cause]\nupload_use_max = 'most'\n", ["policy.toml:2:", "upload_use_max", "must be a number"]),
    ("[policy]\n[causes]\n", ["policy.toml:2:", "causes", "[policy] and [cause]"]),
    ("cause = 1\n", ["policy.toml:1:", "cause must be a table"]),
])
def test_a_bad_cause_table_gives_one_line(tmp_path, text, names):
    for load in (load_policy, load_cause_policy):  # the whole file is checked, whichever table is wanted
        with pytest.raises(PolicyError) as raised:
            load(write(tmp_path, text))
        message = str(raised.value)
        assert "\n" not in message
        for name in names:
            assert name in message, message

"""The WebRTC call's figures as the readiness check judges a call (server/call_summary.py): the worse direction,
as `homeshore check` takes the worse leg of its synthetic call; a call blocked by the network fails on loss,
with the reason in the document. The legs are scored by call_figures.score (the engine's score_leg) from
transits written out here, so the expected loss is exact arithmetic."""

from __future__ import annotations

from datetime import datetime, timezone

from homeshore.planning.readiness import DEFAULT_POLICY
from homeshore.server import call_figures
from homeshore.server.browser_check_document import BrowserCheckInput, ServerCount, browser_document
from homeshore.server.browser_figures import parse_figures
from homeshore.server.call_summary import call_summary
from homeshore.server.webrtc_call import BLOCKED_REASON

SECONDS = 2  # 100 packets a leg
DOWN = ServerCount(tuple([100_000] * 80), 0.1)
UP = ServerCount(tuple([25_000] * 80), 0.1)
FIGURES = parse_figures(b'{"rtt_idle_ms": [10, 12, 11], "rtt_download_ms": [20], "rtt_upload_ms": [15],'
                        b' "download_mbps": 8, "upload_mbps": 2, "connection_type": "ethernet"}')


def _transits(lost: set[int]) -> list[tuple[int, int]]:
    return [(seq, 5_000_000) for seq in range(SECONDS * call_figures.PACKETS_PER_S) if seq not in lost]


def _document(call):
    check = BrowserCheckInput(server="http://10.0.0.1:8080", started_at=datetime(2026, 12, 6, tzinfo=timezone.utc),
                              download_s=8.0, upload_s=8.0, proxied=False, download=DOWN, upload=UP,
                              figures=FIGURES, call=call)
    return browser_document(check, DEFAULT_POLICY, candidate="R-1", area="NG5", version="test")


def test_the_worse_direction_is_judged() -> None:
    """3 of 100 lost up (every 30th), none down: the call's loss is 3 %, its MOS the upstream's."""
    figures = call_figures.score(SECONDS, 0.5, _transits({10, 40, 70}), _transits(set()))
    summary = call_summary(figures)
    assert [leg["direction"] for leg in summary.legs] == ["upstream", "downstream"]
    assert (summary.legs[0]["loss_pct"], summary.legs[1]["loss_pct"]) == (3.0, 0.0)
    assert summary.loss_pct == 3.0 and summary.packets_received == 97
    assert summary.mos == figures.upstream.mos < figures.downstream.mos
    document, verdict = _document(summary)
    assert {c.name: c.status for c in verdict.criteria}["loss"] == "FAIL"  # the policy allows 1 %
    assert document["measurements"]["synthetic_call"]["legs"][0]["loss_pct"] == 3.0


def test_without_the_browsers_log_the_upstream_alone_is_judged_and_the_document_says_so() -> None:
    summary = call_summary(call_figures.score(SECONDS, 0.5, _transits(set()), None))
    assert [leg["direction"] for leg in summary.legs] == ["upstream"] and summary.loss_pct == 0.0
    document, _ = _document(summary)
    assert document["not_reached"] == ["synthetic call: the browser sent no arrival log: downstream not measured"]


def test_a_blocked_call_fails_on_loss_with_the_reason() -> None:
    """No UDP path: nothing crossed, so the call's loss is 100 % and the home FAILs, saying why."""
    reason = BLOCKED_REASON.format(10)
    summary = call_summary(call_figures.blocked(20, 10.0, reason))
    assert (summary.blocked, summary.loss_pct, summary.packets_received, summary.mos) == (True, 100.0, 0, None)
    document, verdict = _document(summary)
    assert document["verdict"] == "FAIL" and {c.name: c.status for c in verdict.criteria}["loss"] == "FAIL"
    assert document["not_reached"] == [f"synthetic call: {reason}"]
    assert document["measurements"]["synthetic_call"]["blocked"] is True
    # What to fix names the network's blocking of UDP, not the cables and the router that lost packets would.
    (loss,) = [c for c in document["criteria"] if c["name"] == "loss"]
    assert loss["advice"].startswith(
        "Packet loss 100% is above the 1% limit. No packet of the test call got through")
    assert loss["advice"].endswith("calls would not get through from here. Use another network, or ask whoever runs "
                                   "this one to allow UDP.") and "router" not in loss["advice"]
    # Jitter and MOS are missing because nothing crossed: a repeat from here would not change that.
    for name in ("jitter", "mos"):
        (missing,) = [c for c in document["criteria"] if c["name"] == name]
        assert missing["advice"].endswith("could not be checked: no packet of the test call got through (see "
                                          "packet loss).") and "repeat" not in missing["advice"]

"""A browser check judged as `homeshore check` judges a home (pure): the server's own counts make the speeds
(exact arithmetic over a receipt's bins, the warm-up left out as for the CLI), the browser's are kept beside them
and used only behind a proxy; the verdict is planning/readiness.evaluate's on the same measurements."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from homeshore.planning.measurements import ReadinessMeasurements
from homeshore.planning.readiness import DEFAULT_POLICY, evaluate
from homeshore.planning.verdict import verdict_dict
from homeshore.server.browser_check_document import (BrowserCheckInput, CallFigures, ServerCount,
                                                     browser_document, browser_measurements)
from homeshore.server.browser_figures import parse_figures

# 8 s of 0.1-s bins: 100 000 bytes each (8 Mbit/s) down, 25 000 (2 Mbit/s) up; the first 1.6 s (the warm-up)
# slower, as slow start makes them, and left out.
DOWN = ServerCount(tuple([20_000] * 16 + [100_000] * 64), 0.1)
UP = ServerCount(tuple([5_000] * 16 + [25_000] * 64), 0.1)
FIGURES = parse_figures(b'{"rtt_idle_ms": [10, 12, 11], "rtt_download_ms": [40, 60], "rtt_upload_ms": [15],'
                        b' "download_mbps": 50, "upload_mbps": 9, "connection_type": "ethernet"}')
CALL = CallFigures(seconds=20, packets_sent=1000, packets_received=990, loss_pct=1.0, burst_loss_pct=0.0,
                   rtt_ms=11.0, jitter_ms=2.5, r_factor=88.0, mos=4.3)


def _input(proxied: bool, call: CallFigures | None = None) -> BrowserCheckInput:
    return BrowserCheckInput(server="http://10.0.0.1:8080", started_at=datetime(2026, 12, 6, tzinfo=timezone.utc),
                             download_s=8.0, upload_s=8.0, proxied=proxied, download=DOWN, upload=UP,
                             figures=FIGURES, call=call)


def test_the_servers_count_makes_the_speeds_whatever_the_page_says() -> None:
    measurements, counted_by = browser_measurements(_input(proxied=False))
    # 63 steady bins after the warm-up (the last non-empty one is left out): 63 * 100 000 bytes in 6.3 s.
    assert measurements.download_goodput_mbps == pytest.approx(8.0, abs=1e-9)
    assert measurements.upload_goodput_mbps == pytest.approx(2.0, abs=1e-9)
    assert counted_by == {"download": "server", "upload": "server"}
    assert (measurements.idle_rtt_ms, measurements.loaded_rtt_download_ms, measurements.loaded_rtt_upload_ms) == \
        (11.0, 50.0, 15.0)
    assert measurements.connection == "wired" and measurements.jitter_ms is None


def test_behind_a_proxy_the_browsers_count_is_used_and_named() -> None:
    measurements, counted_by = browser_measurements(_input(proxied=True))
    assert (measurements.download_goodput_mbps, measurements.upload_goodput_mbps) == (50.0, 9.0)
    assert counted_by == {"download": "browser", "upload": "browser"}


def test_the_document_is_homeshore_checks_with_the_browser_beside_it() -> None:
    document, verdict = browser_document(_input(proxied=False, call=CALL), DEFAULT_POLICY, candidate="R-1",
                                         area="NG5", version="test")
    speeds, _ = browser_measurements(_input(proxied=False))
    expected = evaluate(ReadinessMeasurements(
        download_goodput_mbps=speeds.download_goodput_mbps, upload_goodput_mbps=speeds.upload_goodput_mbps,
        idle_rtt_ms=11.0,
        loaded_rtt_download_ms=50.0, loaded_rtt_upload_ms=15.0, jitter_ms=2.5, loss_pct=1.0, mos=4.3,
        connection="wired"), DEFAULT_POLICY)
    assert verdict == expected and document["verdict"] == verdict_dict(expected)["verdict"]
    assert [c["advice"] for c in document["criteria"]] == [c.advice for c in expected.criteria]
    assert document["bufferbloat_grade"] == "B"  # 39 ms more while downloading: B from 30 to 60
    assert document["measurements"]["synthetic_call"]["mos"] == 4.3
    assert document["not_reached"] == [] and document["method"] == "selfhosted"
    assert document["browser"]["counted_by"] == {"download": "server", "upload": "server"}
    assert document["browser"]["download_mbps"] == 50.0 and document["measurements"]["upload_counted_at"] == "receiver"


def test_without_the_call_the_verdict_says_what_was_not_measured() -> None:
    document, verdict = browser_document(_input(proxied=False), DEFAULT_POLICY, candidate="R-1", area=None,
                                         version="test")
    assert verdict.could_not_measure and document["verdict"] == "WARN"
    assert document["not_reached"] == ["synthetic call: this server does not run the call yet, so jitter, "
                                       "packet loss and call quality were not measured"]
    assert document["measurements"]["synthetic_call"] is None

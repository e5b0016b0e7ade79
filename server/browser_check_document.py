"""A browser check judged as `homeshore check` judges a home (pure): the server's own counts and the page's
figures -> ReadinessMeasurements -> planning/readiness.evaluate -> the same JSON document, with what the
browser saw kept beside it under "browser".

Which count: the speeds are the server's (a download from what the candidate's TCP acknowledged, TCP_INFO; an
upload from the bytes that arrived: server/download_receipts.py, receipts.py), the warm-up left out as for the
CLI (probe/speed_timeline.py). When the server sees the check from loopback, TLS ends at a reverse proxy on
its machine and its counts are the proxy's, not the candidate's: then the browser's count is used, and the
document says so (`browser.counted_by`, `browser.server_saw`). The round-trip times are the browser's (fetches
of a tiny file: what a request from that home waits), which the server cannot see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeshore.planning.measurements import ReadinessMeasurements
from homeshore.planning.policy import Policy
from homeshore.planning.readiness import evaluate
from homeshore.planning.verdict import Verdict
from homeshore.probe.check_document import DocumentFigures, readiness_document
from homeshore.probe.speed_timeline import steady_rate_from_bins_mbps, warmup_for
from homeshore.server.browser_figures import BrowserFigures, median_ms

CALL_NOT_RUN = ("synthetic call: this server does not run the call yet, so jitter, packet loss and call quality "
                "were not measured")
CALL_DID_NOT_RUN = ("synthetic call: the browser did not run the test call (no WebRTC, or the page was left), so "
                    "jitter, packet loss and call quality were not measured")


@dataclass(frozen=True)
class ServerCount:
    """One phase as the server counted it: bytes per bin of bin_s from the first one (a receipt's bins)."""

    bins: tuple[int, ...]
    bin_s: float


@dataclass(frozen=True)
class CallFigures:
    """The synthetic call's scored result, from the WebRTC peer (server/webrtc_call.py), as the document's
    `synthetic_call` reports it; the policy's jitter, loss and MOS come from here."""

    seconds: float
    packets_sent: int
    packets_received: int
    loss_pct: float
    burst_loss_pct: float | None
    rtt_ms: float | None
    jitter_ms: float | None
    r_factor: float | None
    mos: float | None
    mos_kind: str = "conversational"
    codec: str = "PCMU"
    blocked: bool = False  # no UDP path: no packet could cross, so the loss is the whole call's
    note: str | None = None  # why (blocked), or what was left out (no arrival log: upstream only)
    legs: tuple[dict[str, Any], ...] = ()  # each direction's figures, as the document reports them


@dataclass(frozen=True)
class BrowserCheckInput:
    server: str
    started_at: datetime
    download_s: float
    upload_s: float
    proxied: bool  # the server saw the check from loopback: a reverse proxy's connection
    download: ServerCount | None
    upload: ServerCount | None
    figures: BrowserFigures
    call: CallFigures | None
    call_note: str = CALL_NOT_RUN  # why there is no call, when there is none


def server_rate_mbps(count: ServerCount | None, phase_s: float) -> float | None:
    if count is None or not any(count.bins):
        return None
    return steady_rate_from_bins_mbps(count.bins, bin_s=count.bin_s, warmup_s=warmup_for(phase_s), phase_s=phase_s)


def browser_measurements(check: BrowserCheckInput) -> tuple[ReadinessMeasurements, dict[str, str]]:
    """What the policy judges, and which count each speed came from ({"download": "server"|"browser", ...})."""
    f, call = check.figures, check.call
    speeds, counted_by = {}, {}
    for phase, count, phase_s, own in (("download", check.download, check.download_s, f.download_mbps),
                                       ("upload", check.upload, check.upload_s, f.upload_mbps)):
        counted_by[phase] = "browser" if check.proxied else "server"
        speeds[phase] = own if check.proxied else server_rate_mbps(count, phase_s)
    measurements = ReadinessMeasurements(
        download_goodput_mbps=speeds["download"], upload_goodput_mbps=speeds["upload"],
        idle_rtt_ms=median_ms(f.rtt_idle_ms), loaded_rtt_download_ms=median_ms(f.rtt_download_ms),
        loaded_rtt_upload_ms=median_ms(f.rtt_upload_ms),
        jitter_ms=call.jitter_ms if call else None, loss_pct=call.loss_pct if call else None,
        mos=call.mos if call else None, connection=f.conn, udp_blocked=bool(call and call.blocked))
    return measurements, counted_by


def browser_document(check: BrowserCheckInput, policy: Policy, *, candidate: str | None, area: str | None,
                     version: str, policy_origin: dict[str, str | None] | None = None
                     ) -> tuple[dict[str, Any], Verdict]:
    """`homeshore check --json`'s document for a browser check, and its verdict."""
    measurements, counted_by = browser_measurements(check)
    verdict = evaluate(measurements, policy)
    f, call = check.figures, check.call
    not_reached = [check.call_note] if call is None else [f"synthetic call: {call.note}"] if call.note else []
    for phase, value in (("download", measurements.download_goodput_mbps),
                         ("upload", measurements.upload_goodput_mbps)):
        if value is None:
            not_reached.append(f"{phase}: the {counted_by[phase]} counted too few bytes to give a speed")
    figures = DocumentFigures(
        server=check.server, method="selfhosted", started_at=check.started_at,
        download_goodput_mbps=measurements.download_goodput_mbps, upload_goodput_mbps=measurements.upload_goodput_mbps,
        upload_counted_at="sender" if counted_by["upload"] == "browser" else "receiver",
        idle_rtt_ms=measurements.idle_rtt_ms, loaded_rtt_download_ms=measurements.loaded_rtt_download_ms,
        loaded_rtt_upload_ms=measurements.loaded_rtt_upload_ms, loaded_loss_download_pct=None,
        loaded_loss_upload_pct=None, jitter_ms=measurements.jitter_ms, loss_pct=measurements.loss_pct,
        synthetic_call=_call_dict(call), bytes_used=f.download_bytes + f.upload_bytes, duration_s=f.duration_s,
        host=_host(f), not_reached=tuple(not_reached))
    document = readiness_document(figures, verdict, policy, candidate=candidate, area=area, version=version,
                                  policy_origin=policy_origin)
    document["browser"] = {
        "counted_by": counted_by,
        "server_saw": "proxy" if check.proxied else "client",
        "download_mbps": _rounded(f.download_mbps),
        "upload_mbps": _rounded(f.upload_mbps),
        "rtt_samples": {"idle": len(f.rtt_idle_ms), "download": len(f.rtt_download_ms),
                        "upload": len(f.rtt_upload_ms)},
        "connection_type": f.connection_type,
        "effective_type": f.effective_type,
    }
    return document, verdict


def _rounded(value: float | None, places: int = 3) -> float | None:
    return None if value is None else round(value, places)


def _host(f: BrowserFigures) -> dict[str, Any]:
    """The document's host object (probe/host.py's keys): only the connection kind is known from a browser."""
    keys = ("interface", "link_mbps", "mtu_bytes", "wifi_signal_dbm", "wifi_link_quality", "cpu_pct", "mem_pct",
            "duration_s", "rx_mbps", "tx_mbps", "other_rx_mbps", "other_tx_mbps")
    host: dict[str, Any] = dict.fromkeys(keys)
    host["kind"] = host["conn"] = f.conn
    return host


def _call_dict(call: CallFigures | None) -> dict[str, Any] | None:
    if call is None:
        return None
    return {"seconds": _rounded(call.seconds, 1), "packets_sent": call.packets_sent,
            "packets_received": call.packets_received, "loss_pct": _rounded(call.loss_pct),
            "burst_loss_pct": _rounded(call.burst_loss_pct), "rtt_ms": _rounded(call.rtt_ms),
            "jitter_ms": _rounded(call.jitter_ms), "r_factor": _rounded(call.r_factor), "mos": _rounded(call.mos),
            "mos_kind": call.mos_kind, "codec": call.codec, "blocked": call.blocked, "legs": list(call.legs)}


def verdict_reply(document: dict[str, Any], labels: dict[str, str], headlines: dict[str, str]) -> dict[str, Any]:
    """What the page shows: the verdict, a headline, what to fix (the advice of every criterion not passed,
    worst first), and the technical figures."""
    order = {"FAIL": 0, "WARN": 1}
    fixes: Sequence[dict] = sorted((c for c in document["criteria"] if c["status"] != "PASS"),
                                   key=lambda c: order[c["status"]])
    m = document["measurements"]
    return {
        "verdict": document["verdict"],
        "headline": headlines[document["verdict"]],
        "fixes": [{"criterion": labels.get(c["name"], c["name"]), "status": c["status"], "advice": c["advice"]}
                  for c in fixes],
        "not_measured": document["not_reached"],
        "bufferbloat_grade": document["bufferbloat_grade"],
        "figures": {"download_mbps": m["download_goodput_mbps"], "upload_mbps": m["upload_goodput_mbps"],
                    "idle_rtt_ms": m["idle_rtt_ms"], "loaded_rtt_download_ms": m["loaded_rtt_download_ms"],
                    "loaded_rtt_upload_ms": m["loaded_rtt_upload_ms"], "jitter_ms": m["jitter_ms"],
                    "loss_pct": m["loss_pct"], "browser_download_mbps": document["browser"]["download_mbps"],
                    "browser_upload_mbps": document["browser"]["upload_mbps"],
                    "counted_by": document["browser"]["counted_by"],
                    "server_saw": document["browser"]["server_saw"]},
    }

"""The `homeshore check --json` document (DESIGN.md's contract), built from one run and its verdict (pure); a
browser check on `homeshore serve` builds the same document from its own figures (readiness_document).

The terminal panel, the HTML report and the stored samples are all rendered from this one document, so the
three never disagree. Names carry their units; null where a figure was not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeshore.planning.policy import Policy
from homeshore.planning.verdict import Verdict, verdict_dict
from homeshore.probe.check_run import CheckRun
from homeshore.probe.host import host_dict
from homeshore.quality.results import rounded


@dataclass(frozen=True)
class DocumentFigures:
    """What a document reports beside the verdict, however the check was run: a CheckRun of `homeshore check`
    (document_figures) or a browser check on `homeshore serve` (server/browser_check_document.py)."""

    server: str | None
    method: str
    started_at: datetime
    download_goodput_mbps: float | None
    upload_goodput_mbps: float | None
    upload_counted_at: str | None
    idle_rtt_ms: float | None
    loaded_rtt_download_ms: float | None
    loaded_rtt_upload_ms: float | None
    loaded_loss_download_pct: float | None
    loaded_loss_upload_pct: float | None
    jitter_ms: float | None
    loss_pct: float | None
    synthetic_call: dict[str, Any] | None
    bytes_used: int
    duration_s: float
    host: dict[str, Any]
    not_reached: tuple[str, ...]


def check_document(run: CheckRun, verdict: Verdict, policy: Policy, *, candidate: str | None, area: str | None,
                   version: str, policy_origin: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The document; `policy` names the policy file that judged it ({"file": None, "sha256": None}: defaults)."""
    return readiness_document(document_figures(run), verdict, policy, candidate=candidate, area=area,
                              version=version, policy_origin=policy_origin)


def document_figures(run: CheckRun) -> DocumentFigures:
    speed, call = run.speed, run.call
    return DocumentFigures(
        server=speed.server if speed else run.plan.server,
        method=speed.method if speed else ("ookla" if run.plan.server is None else "selfhosted"),
        started_at=run.started_at,
        download_goodput_mbps=speed.download_goodput_mbps if speed else None,
        upload_goodput_mbps=speed.upload_goodput_mbps if speed else None,
        upload_counted_at=speed.upload_counted_at if speed else None,
        idle_rtt_ms=call.rtt_ms if call else None,
        loaded_rtt_download_ms=_median(run.loaded_download), loaded_rtt_upload_ms=_median(run.loaded_upload),
        loaded_loss_download_pct=_loss(run.loaded_download), loaded_loss_upload_pct=_loss(run.loaded_upload),
        jitter_ms=call.jitter_ms if call else None, loss_pct=call.loss_pct if call else None,
        synthetic_call=_call_dict(call), bytes_used=run.bytes_used, duration_s=run.duration_s,
        host=host_dict(run.host), not_reached=tuple(run.not_reached))


def readiness_document(figures: DocumentFigures, verdict: Verdict, policy: Policy, *, candidate: str | None,
                       area: str | None, version: str, policy_origin: dict[str, str | None] | None = None
                       ) -> dict[str, Any]:
    """The document of any check: its figures, judged by `verdict` under `policy`."""
    f = figures
    judged = verdict_dict(verdict)
    criteria = [dict(item, goodput_mbps=rounded(c.goodput_mbps)) for item, c in zip(judged["criteria"],
                                                                                     verdict.criteria)]
    download_line = verdict.criterion("download").value
    upload_line = verdict.criterion("upload").value
    return {
        "verdict": judged["verdict"],
        "could_not_measure": verdict.could_not_measure,
        "server": f.server,
        "method": f.method,
        "time": f.started_at.isoformat(timespec="seconds"),
        "candidate": candidate,
        "area": area,
        "bufferbloat_grade": verdict.bufferbloat_grade,
        "policy": dict(policy_origin) if policy_origin else {"file": None, "sha256": None},
        "criteria": criteria,
        "measurements": {
            "download_goodput_mbps": rounded(f.download_goodput_mbps),
            "download_line_mbps": rounded(download_line),
            "upload_goodput_mbps": rounded(f.upload_goodput_mbps),
            "upload_line_mbps": rounded(upload_line),
            "upload_counted_at": f.upload_counted_at,
            "protocol_overhead_pct": policy.protocol_overhead_pct,
            "idle_rtt_ms": rounded(f.idle_rtt_ms),
            "loaded_rtt_download_ms": rounded(f.loaded_rtt_download_ms),
            "loaded_rtt_upload_ms": rounded(f.loaded_rtt_upload_ms),
            "loaded_loss_download_pct": rounded(f.loaded_loss_download_pct),
            "loaded_loss_upload_pct": rounded(f.loaded_loss_upload_pct),
            "jitter_ms": rounded(f.jitter_ms),
            "loss_pct": rounded(f.loss_pct),
            "synthetic_call": f.synthetic_call,
            "bytes_used": f.bytes_used,
            "duration_s": rounded(f.duration_s, 1),
        },
        "host": f.host,
        "not_reached": list(f.not_reached),
        "version": version,
    }


def _median(result) -> float | None:
    return rounded(result.rtt_median_ms) if result is not None else None


def _loss(result) -> float | None:
    return rounded(result.loss_pct) if result is not None else None


def _call_dict(call) -> dict[str, Any] | None:
    if call is None:
        return None
    return {
        "seconds": rounded(call.duration_s, 1), "packets_sent": call.packets_sent,
        "packets_received": call.packets_received, "loss_pct": rounded(call.loss_pct),
        "burst_loss_pct": rounded(call.burst_loss_pct), "rtt_ms": rounded(call.rtt_ms),
        "jitter_ms": rounded(call.jitter_ms), "r_factor": rounded(call.r_factor), "mos": rounded(call.mos),
        "mos_kind": call.mos_kind, "codec": call.codec,
    }

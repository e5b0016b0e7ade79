"""A readiness check from start to document, the one pipeline behind `homeshore check` and the agent's
scheduled speed test: run (probe/check_run.py) -> measurements -> verdict (planning/readiness.py) -> the JSON
document (probe/check_document.py), from which the terminal panel, the HTML report and the stored samples are
all rendered. A change to how a check is judged or reported is made here once and reaches both callers.
"""

from __future__ import annotations

from typing import Any

from homeshore import __version__
from homeshore.planning.policy import Policy
from homeshore.planning.readiness import evaluate
from homeshore.probe.check_document import check_document
from homeshore.probe.check_run import (CheckPlan, Progress, ServerStoppedAnswering, no_progress, phase_outcomes,
                                       readiness_measurements, run_check)
from homeshore.probe.check_silence import server_silence


def checked_home(plan: CheckPlan, policy: Policy, *, candidate: str | None = None, area: str | None = None,
                 progress: Progress = no_progress, policy_origin: dict[str, str | None] | None = None
                 ) -> dict[str, Any]:
    """Run `plan`, judge it by `policy`, and return `homeshore check --json`'s document (DESIGN.md), naming the
    policy by `policy_origin` (planning/policy_file.py's; None: the defaults).

    Raises CheckCannotStart when nothing could be measured (server unreachable, not a speed-test server), and
    ServerStoppedAnswering when the server went silent mid-check: then what the later phases lost is the
    server's doing, and neither judged nor stored as the home's (probe/check_silence.py)."""
    run = run_check(plan, progress)
    silence = server_silence(phase_outcomes(run))
    if silence is not None:
        raise ServerStoppedAnswering(silence.message())
    verdict = evaluate(readiness_measurements(run), policy)
    return check_document(run, verdict, policy, candidate=candidate, area=area, version=__version__,
                          policy_origin=policy_origin)

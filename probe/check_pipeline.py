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
from homeshore.probe.check_run import CheckPlan, Progress, no_progress, readiness_measurements, run_check


def checked_home(plan: CheckPlan, policy: Policy, *, candidate: str | None = None, area: str | None = None,
                 progress: Progress = no_progress) -> dict[str, Any]:
    """Run `plan`, judge it by `policy`, and return `homeshore check --json`'s document (DESIGN.md).

    Raises CheckCannotStart when nothing could be measured (server unreachable, not a speed-test server)."""
    run = run_check(plan, progress)
    verdict = evaluate(readiness_measurements(run), policy)
    return check_document(run, verdict, policy, candidate=candidate, area=area, version=__version__)

"""Shared test helpers: where the shared data lies, and how tests ask for system tools.

Under HOMESHORE_REQUIRE_NETNS=1 (set by .ci/run) a test that cannot get what it needs fails instead of
skipping, so CI never passes by skipping the real-world tests.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path

import pytest

# `make test-compiled` runs the suite against a mypyc build. The repository root, which pytest puts first on
# sys.path, has a homeshore/ of its own: the build's is imported here, first, and its modules follow it.
if os.environ.get("HOMESHORE_IMPORT_FROM"):
    sys.path.insert(0, os.environ["HOMESHORE_IMPORT_FROM"])
    importlib.import_module("homeshore")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PCAPS = SHARED / "pcaps"


def required() -> bool:
    return os.environ.get("HOMESHORE_REQUIRE_NETNS") == "1"


def skip_or_fail(reason: str) -> None:
    if required():
        pytest.fail(f"{reason} (HOMESHORE_REQUIRE_NETNS=1: this may not be skipped)")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def pcaps() -> Path:
    if not PCAPS.is_dir():
        skip_or_fail(f"shared captures not found at {PCAPS}")
    return PCAPS


def _fail_a_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if required() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{reason} (HOMESHORE_REQUIRE_NETNS=1: this may not be skipped)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Under HOMESHORE_REQUIRE_NETNS=1 a skip that did not come through skip_or_fail (a bare pytest.skip, a
    skipif mark or importorskip added later) fails too: CI must not pass by skipping."""
    outcome = yield
    _fail_a_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    """The same for a whole module skipped while it is collected (pytest.skip(allow_module_level=True))."""
    outcome = yield
    _fail_a_skip(outcome.get_result())

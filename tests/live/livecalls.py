"""Running `homeshore calls --json` inside a test namespace, for the live tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

from tests import netlab
from tests.conftest import REPO, require_tool, skip_or_fail


def require_lab(tools: tuple[str, ...]) -> None:
    if os.geteuid() != 0:
        skip_or_fail("live capture tests need root (network namespaces, packet capture)")
    for tool in tools:
        require_tool(tool)


@contextmanager
def homeshore_calls(host: netlab.Host, *extra: str, settle_s: float = 2.5):
    """`homeshore calls --json` capturing on host's veth, ready (its capture open) when the block starts; stopped
    with SIGINT (Ctrl-C) `settle_s` after the block, so the tick that ends a call has printed its end samples.
    Yields a dict that then holds its parsed JSON lines ("samples"), stdout, stderr and exit code."""
    argv = [sys.executable, "-m", "homeshore.cli.main", "calls", "--iface", host.dev, "--json", *extra]
    process = netlab.popen(host.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    result: dict = {}
    ready = process.stderr.readline()
    try:
        if "capturing packet headers on" not in ready:
            raise AssertionError(f"homeshore calls did not start: {ready}{process.stderr.read()}")
        yield result
    finally:
        time.sleep(settle_s)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        result["exit"] = process.returncode
        result["stderr"] = ready + err
        result["stdout"] = out
        result["samples"] = [json.loads(line) for line in out.splitlines() if line.strip()]


def end_sample(samples: list[dict], direction: str, ssrc: int | None = None) -> dict:
    (sample,) = [s for s in samples if s["phase"] == "end" and s["direction"] == direction
                 and (ssrc is None or s["ssrc"] == ssrc)]
    return sample

"""Running `homeshore calls --json` inside a test namespace, for the live tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager

from tests import netlab
from tests.conftest import REPO, require_tool, skip_or_fail


def require_lab(tools: tuple[str, ...]) -> None:
    if os.geteuid() != 0:
        skip_or_fail("live capture tests need root (network namespaces, packet capture)")
    for tool in tools:
        require_tool(tool)


def every_stream_ended(samples: list[dict]) -> bool:
    """Each stream (direction, SSRC) that any sample names has its end sample."""
    seen = {(s.get("direction"), s.get("ssrc")) for s in samples}
    ended = {(s.get("direction"), s.get("ssrc")) for s in samples if s.get("phase") == "end"}
    return bool(seen) and seen <= ended


@contextmanager
def homeshore_calls(host: netlab.Host, *extra: str, end_timeout_s: float = 30):
    """`homeshore calls --json` capturing on host's veth, ready (its capture open) when the block starts; stopped
    with SIGINT (Ctrl-C) once it has caught up with the block: every stream it printed has its end sample (the
    tick after a call's BYE prints them), or it printed a line after the block ended, so its capture loop had
    read everything the block sent (a stream without a BYE then ends with the interrupt). At most
    end_timeout_s; the test's own assertions then say what is missing.
    Yields a dict that then holds its parsed JSON lines ("samples"), stdout, stderr and exit code."""
    argv = [sys.executable, "-m", "homeshore.cli.main", "calls", "--iface", host.dev, "--json", *extra]
    process = netlab.popen(host.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    result: dict = {}
    lines: list[str] = []
    printed = threading.Condition()

    def read_stdout() -> None:
        for line in process.stdout:
            with printed:
                lines.append(line)
                printed.notify_all()

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    ready = process.stderr.readline()
    try:
        if "capturing packet headers on" not in ready:
            raise AssertionError(f"homeshore calls did not start: {ready}{process.stderr.read()}")
        yield result
    finally:
        with printed:
            printed_in_block = len(lines)
            printed.wait_for(lambda: len(lines) > printed_in_block or every_stream_ended(
                [json.loads(line) for line in lines if line.strip()]), timeout=end_timeout_s)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        err = process.stderr.read()
        reader.join(timeout=20)
        result["exit"] = process.returncode
        result["stderr"] = ready + err
        result["stdout"] = "".join(lines)
        result["samples"] = [json.loads(line) for line in lines if line.strip()]


def end_sample(samples: list[dict], direction: str, ssrc: int | None = None) -> dict:
    (sample,) = [s for s in samples if s["phase"] == "end" and s["direction"] == direction
                 and (ssrc is None or s["ssrc"] == ssrc)]
    return sample

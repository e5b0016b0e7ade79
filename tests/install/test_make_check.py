"""`make check` without SERVER=: homeshore check goes to speedtest.net, which a home with no route to it (a
network namespace of tests/netlab.py) cannot reach; the check exits 2 and make then says how to give the
contact centre's server. With SERVER= the URL reaches `homeshore check --server` unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import netlab
from tests.conftest import REPO, require_tool

VENV = Path(sys.executable).parent.parent


def make_check(ns: str, *variables: str) -> subprocess.CompletedProcess:
    # -o: the install stamp counts as made, so make never reinstalls the virtualenv here
    argv = ["make", "--no-print-directory", "-C", str(REPO), "-o", f"{VENV}/.installed", f"VENV={VENV}", "check",
            *variables]
    process = netlab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def test_make_check_without_server_says_how_to_give_one() -> None:
    require_tool("make")
    with netlab.Lab() as lab:
        without = make_check(lab.a.ns)
        port = 8080  # nothing listens in the lab's fresh namespace
        given = make_check(lab.a.ns, f"SERVER=http://{lab.b.ipv4}:{port}")
    assert without.returncode != 0
    assert "homeshore check: cannot reach" in without.stderr and "speedtest.net" in without.stderr, without.stderr
    assert "make check SERVER=http://" in without.stderr, without.stderr
    assert given.returncode != 0 and f"cannot reach http://{lab.b.ipv4}:{port}" in given.stderr, given.stderr
    assert "make check SERVER=" not in given.stderr

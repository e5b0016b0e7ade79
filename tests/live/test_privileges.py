"""Live capture needs root or CAP_NET_RAW, and nothing else: an unprivileged user with that one capability
captures; without it, one clear line naming both fixes and exit code 2 (no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import netlab
from tests.conftest import REPO
from tests.live.livecalls import require_lab

NOBODY = "65534"
CAP_NET_RAW = 13
CALLS = [sys.executable, "-m", "homeshore.cli.main", "calls"]


def as_nobody(*capabilities: str) -> list[str]:
    """setpriv: become nobody, keeping only the named capabilities (as the systemd unit's ambient set does)."""
    keep = ",".join(["-all", *(f"+{c}" for c in capabilities)])
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", f"--inh-caps={keep}",
            f"--ambient-caps={keep}", f"--bounding-set={keep}"]


def test_without_the_capability_one_line_names_both_fixes_and_exits_2():
    require_lab(("setpriv",))
    result = subprocess.run([*as_nobody(), *CALLS, "--duration", "1"], capture_output=True, text=True, cwd=REPO,
                            timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("homeshore calls: live capture needs root or the CAP_NET_RAW capability")
    assert "sudo" in line and "setcap cap_net_raw+ep" in line and "Traceback" not in result.stderr


def test_an_unprivileged_user_with_cap_net_raw_alone_captures_calls():
    require_lab(("setpriv", "ip"))
    with netlab.Lab() as lab:
        argv = [*as_nobody("net_raw"), *CALLS, "--iface", lab.a.dev, "--json", "--duration", "6"]
        process = netlab.popen(lab.a.ns, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        ready = process.stderr.readline()
        assert "capturing packet headers on veth-a" in ready, ready + process.stderr.read()
        status = Path(f"/proc/{process.pid}/status").read_text()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert fields["Uid"].split()[1] == NOBODY  # effective user
        assert int(fields["CapEff"], 16) == 1 << CAP_NET_RAW  # that capability and no other
        report = netlab.send_rtp(lab.b.ns, lab.a.ipv4, streams=1, rate_pps=50, seconds=2)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert report["packets_sent"] == 100
    assert '"phase": "end"' in out and '"packets": 100' in out


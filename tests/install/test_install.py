"""install/: the install and uninstall scripts, staged with --destdir into a temporary directory (a real pip
install of a copy of this source tree into a fresh virtual environment, its dependencies from the package
index), the systemd unit checked by `systemd-analyze verify`, and the launchd property list."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from homeshore import __version__
from tests.conftest import REPO, require_tool

INSTALL = REPO / "install"
UNIT = INSTALL / "homeshore-agent.service"
# A prefix nothing on this machine uses, so the test can tell that a staged install left the real system alone.
PREFIX = "/opt/homeshore-staged-test"
_NOT_SOURCE = shutil.ignore_patterns(".venv", ".venv-dev", ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache",
                                     "tests", "*.so")


def run(script: str, *args: str, timeout_s: float = 300, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", str(INSTALL / script), *args], capture_output=True, text=True,
                            timeout=timeout_s, env={**os.environ, **env})
    return result


def ok(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout.splitlines()


def source_copy(directory: Path) -> Path:
    """This source tree without the venv, builds and tests: pip builds in the tree it is given, and the
    working tree is shared with other work."""
    copy = directory / "source"
    shutil.copytree(REPO, copy, ignore=_NOT_SOURCE, symlinks=True)
    return copy


def test_staged_install_twice_then_uninstall(tmp_path):
    stage = tmp_path / "stage"
    source = source_copy(tmp_path)
    real_unit = Path("/etc/systemd/system/homeshore-agent.service")
    unit_existed = real_unit.exists()
    install_args = ["--destdir", str(stage), "--prefix", PREFIX, "--source", str(source), "--python", sys.executable]

    # No C compiler, which also spares this test mypyc's minute (test_wheel.py builds the compiled one): pure
    # Python, and install.sh says so in exactly one line.
    started = time.monotonic()
    first_run = run("install.sh", *install_args, CC="/bin/false")
    first = ok(first_run)
    first_s = time.monotonic() - started
    assert [line for line in (first_run.stdout + first_run.stderr).splitlines() if "warning" in line] == [
        "homeshore: warning: the capture analyser is pure Python, several times slower (built without a working"
        " C compiler, or with HOMESHORE_COMPILE=0): install gcc and python3-dev, then install again"]
    root = stage / PREFIX.lstrip("/")
    homeshore = root / "bin" / "homeshore"
    unit = stage / "etc/systemd/system/homeshore-agent.service"
    config = stage / "etc/homeshore/agent.toml"
    assert any(line.startswith("created the virtual environment") for line in first)
    assert any("installed the sample configuration" in line for line in first)
    assert any("systemctl enable --now homeshore-agent" in line for line in first)

    version = subprocess.run([str(homeshore), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"homeshore, version {__version__}"
    assert homeshore.is_symlink() and not Path(homeshore.readlink()).is_absolute()  # resolves when staged
    assert (root / "venv" / "pyvenv.cfg").is_file()
    unit_text = unit.read_text()
    assert "@PREFIX@" not in unit_text
    assert f"ExecStart={PREFIX}/bin/homeshore agent run --config /etc/homeshore/agent.toml" in unit_text
    assert config.read_bytes() == (INSTALL / "agent.toml").read_bytes()
    assert config.stat().st_mode & 0o777 == 0o644
    # Staged: the running system is untouched.
    assert not Path(PREFIX).exists()
    assert real_unit.exists() == unit_existed

    # Again, with the operator's edits in the configuration: upgraded in place, configuration kept.
    config.write_text('[collector]\nurl = "http://collector.example.org:8086"\n')
    unit.write_text("stale")
    started = time.monotonic()
    second = ok(run("install.sh", *install_args, CC="/bin/false"))
    second_s = time.monotonic() - started
    assert any(line.startswith("keeping the virtual environment") for line in second)
    assert any(line.startswith("kept the existing") for line in second)
    assert config.read_text() == '[collector]\nurl = "http://collector.example.org:8086"\n'
    assert unit.read_text() == unit_text
    assert subprocess.run([str(homeshore), "--version"], capture_output=True, timeout=60).returncode == 0
    print(f"install: first {first_s:.1f} s, second {second_s:.1f} s")

    # Uninstall: the prefix and the unit go, the configuration and the state stay ...
    state = stage / "var/lib/homeshore"
    state.mkdir(parents=True)
    (state / "spool.sqlite3").write_text("unsent")
    lines = ok(run("uninstall.sh", "--destdir", str(stage), "--prefix", PREFIX))
    assert not root.exists() and not unit.exists()
    assert config.is_file() and (state / "spool.sqlite3").is_file()
    assert f"removed {root}" in lines and f"removed {unit}" in lines
    # ... a second run has nothing to do ...
    assert ok(run("uninstall.sh", "--destdir", str(stage), "--prefix", PREFIX))[-1] == "nothing to remove"
    # ... and --purge removes the configuration and the state too.
    lines = ok(run("uninstall.sh", "--destdir", str(stage), "--prefix", PREFIX, "--purge"))
    assert not config.exists() and not state.exists()
    assert f"removed {stage / 'etc/homeshore'}" in lines
    assert ok(run("uninstall.sh", "--destdir", str(stage), "--prefix", PREFIX, "--purge"))[-1] == "nothing to remove"


def test_uninstall_leaves_a_directory_it_did_not_install(tmp_path):
    stage = tmp_path / "stage"
    stranger = stage / "opt" / "data"
    stranger.mkdir(parents=True)
    (stranger / "keep").write_text("x")
    result = run("uninstall.sh", "--destdir", str(stage), "--prefix", "/opt/data")
    assert result.returncode == 2 and "does not look like a homeshore install" in result.stderr
    assert (stranger / "keep").is_file()


def test_bad_options_exit_2_with_one_line(tmp_path):
    for script, args, message in [
        ("install.sh", ["--bogus"], "unknown option --bogus"),
        ("install.sh", ["--prefix", "relative", "--destdir", str(tmp_path)], "absolute path"),
        ("install.sh", ["--source", str(tmp_path), "--destdir", str(tmp_path)], "not a homeshore source tree"),
        ("install.sh", ["--prefix"], "--prefix needs"),
        ("uninstall.sh", ["--bogus"], "unknown option --bogus"),
        ("uninstall.sh", ["--prefix", "/", "--destdir", str(tmp_path)], "must not be /"),
    ]:
        result = run(script, *args)
        assert result.returncode == 2, (script, args, result.stdout, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was made


def test_unit_verifies_with_the_prefix_filled_in(tmp_path):
    analyze = require_tool("systemd-analyze")
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    executable = prefix / "bin" / "homeshore"
    executable.write_text("#!/bin/sh\nexit 0\n")
    executable.chmod(0o755)
    unit = tmp_path / "homeshore-agent.service"
    unit.write_text(UNIT.read_text().replace("@PREFIX@", str(prefix)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # Unknown or misspelt directives are only warnings to verify; there must be none about this unit.
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line]
    assert complaints == []


def test_verify_catches_a_missing_executable(tmp_path):
    """The verify test above can fail: the same unit with a prefix that holds no homeshore does not verify."""
    analyze = require_tool("systemd-analyze")
    unit = tmp_path / "homeshore-agent.service"
    unit.write_text(UNIT.read_text().replace("@PREFIX@", str(tmp_path / "nothing")))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "not executable" in result.stdout + result.stderr


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if match:
            found.setdefault(match[1], []).append(match[2])
    return found


def test_unit_runs_as_homeshore_with_only_cap_net_raw():
    unit = directives(UNIT.read_text())
    assert unit["AmbientCapabilities"] == ["CAP_NET_RAW"]
    assert unit["CapabilityBoundingSet"] == ["CAP_NET_RAW"]
    assert unit["User"] == ["homeshore"] and unit["Group"] == ["homeshore"]
    assert unit["ExecStart"] == ["@PREFIX@/bin/homeshore agent run --config /etc/homeshore/agent.toml"]
    expected = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "StateDirectory": "homeshore", "StateDirectoryMode": "0700", "ConfigurationDirectory": "homeshore",
        "Restart": "on-failure", "RestartSec": "10", "KillSignal": "SIGTERM", "TimeoutStopSec": "10",
        "ExecReload": "/bin/kill -HUP $MAINPID", "MemoryDenyWriteExecute": "yes", "PrivateDevices": "yes",
    }
    assert {key: unit[key] for key in expected} == {key: [value] for key, value in expected.items()}
    # Raw-socket capture needs AF_PACKET; the unit must not cut the agent off the host's network.
    assert "AF_PACKET" in unit["RestrictAddressFamilies"][0].split()
    assert "PrivateNetwork" not in unit and "PrivateUsers" not in unit


def test_launchd_plist_runs_the_agent():
    with open(INSTALL / "macos" / "org.homeshore.agent.plist", "rb") as handle:
        plist = plistlib.load(handle)
    assert plist["Label"] == "org.homeshore.agent"
    assert plist["ProgramArguments"] == ["@PREFIX@/bin/homeshore", "agent", "run", "--config",
                                         "/etc/homeshore/agent.toml"]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"]
    assert plist["UserName"] == "homeshore"
    assert plist["StandardErrorPath"].startswith("/")

"""Every command that talks to a URL says what to try when the URL is the mistake: https:// to a server that
speaks plain HTTP, and a port nothing listens on. One line on stderr, exit 2, run as the installed console
script against a real plain-HTTP server and a real closed port."""

from __future__ import annotations

import subprocess
import sys
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from tests.cli.one_line import assert_one_line_exit_2
from tests.references.http_peer import serving
from tests.references.influxd import closed_port

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")


@pytest.fixture(scope="module")
def plain_http_port():
    with serving(SimpleHTTPRequestHandler) as url:
        yield int(url.rsplit(":", 1)[1])


def command(name: str, url: str, tmp_path: Path) -> list[str]:
    return {
        "check": ["check", "--server", url, "--quick"],
        "collector init": ["collector", "init", "--url", url, "--writer", "w", "--secrets-dir", str(tmp_path / "s")],
        "collector init --api v2": ["collector", "init", "--api", "v2", "--org", "cc", "--url", url, "--writer", "w",
                                    "--secrets-dir", str(tmp_path / "s")],
        "collector query": ["collector", "query", "SHOW DATABASES", "--url", url],
        "map": ["map", "--from", "influx", "--url", url, "--out", str(tmp_path / "map.html")],
        "diagnose": ["diagnose", "--from", "influx", "--url", url, "--agent", "h-1", "--at", "10:40"],
    }[name]


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HOMESHORE_AGENT_STATE_DIR": str(tmp_path / "state"),
           "HOMESHORE_ADMIN_TOKEN": "a-token"}
    return subprocess.run([str(CONSOLE_SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


COMMANDS = ("check", "collector init", "collector init --api v2", "collector query", "map", "diagnose")


@pytest.mark.parametrize("name", COMMANDS)
def test_https_to_a_plain_http_server_says_try_http(name: str, plain_http_port: int, tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{plain_http_port}"
    line = assert_one_line_exit_2(run(command(name, url, tmp_path), tmp_path),
                                  f"the server speaks plain HTTP: try http://127.0.0.1:{plain_http_port}")
    assert "wrong version number" in line.lower() and "not permitted" not in line, line


@pytest.mark.parametrize("name", COMMANDS)
def test_a_closed_port_says_nothing_listens(name: str, tmp_path: Path) -> None:
    with closed_port() as port:
        assert_one_line_exit_2(run(command(name, f"http://127.0.0.1:{port}", tmp_path), tmp_path),
                               f"nothing listens on 127.0.0.1:{port}: is the server running?")

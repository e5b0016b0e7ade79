"""`homeshore check` on bad input and unreachable servers: one line on stderr, exit 2, no traceback, and no
measurement started for input that can be checked first. The installed console script runs as a user would."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from tests.cli.one_line import assert_one_line_exit_2
from tests.references.influxd import closed_port

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")


def check(*args: str, tmp_path: Path, timeout_s: float = 60) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HOMESHORE_AGENT_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([str(CONSOLE_SCRIPT), "check", *args], capture_output=True, text=True, env=env,
                          timeout=timeout_s)


@pytest.mark.parametrize("args, fragment", [
    (["--server", "ftp://collector.example.org"], "is not a server URL"),
    (["--server", "http://"], "is not a server URL"),
    (["--server", "http://10.0.0.1:99999"], "invalid port"),
    (["--postcode", "XYZ 123"], "is not a UK postcode"),
    (["--candidate", "Jane Smith <07700 900123>"], "candidate reference"),
    (["--call-seconds", "0"], "--call-seconds"),
    (["--report", "/nonexistent-dir/report.html"], "does not exist"),
    (["--policy", "/nonexistent-policy.toml"], "cannot read the policy file"),
    (["--colour"], "No such option"),
    (["--config", "/nonexistent-agent.toml"], "config file not found"),
])
def test_bad_options_stop_before_any_measurement(args: list[str], fragment: str, tmp_path: Path) -> None:
    """Nothing was measured: the server given (listening, never answering) has no connection waiting to be
    accepted, which the first request of any measurement would have left, and no state was written."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server_args = [] if "--server" in args else ["--server", f"http://127.0.0.1:{server.getsockname()[1]}"]
        result = check(*server_args, *args, tmp_path=tmp_path)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()
    assert_one_line_exit_2(result, fragment)
    assert not (tmp_path / "state").exists()


def test_a_malformed_policy_file_names_file_and_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[policy]\ndownload_min_mbps = 8\njitter_max_ms = 'thirty'\n")
    line = assert_one_line_exit_2(check("--policy", str(policy), tmp_path=tmp_path), str(policy), "jitter_max_ms")
    assert f"{policy}:3:" in line


def test_a_refused_connection_says_which_server(tmp_path: Path) -> None:
    with closed_port() as port:
        assert_one_line_exit_2(check("--server", f"http://127.0.0.1:{port}", "--quick", tmp_path=tmp_path),
                               f"cannot reach http://127.0.0.1:{port}", "refused")


def test_a_web_server_that_is_not_a_homeshore_server_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html>a web site</html>")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert_one_line_exit_2(check("--server", url, "--quick", tmp_path=tmp_path), url, "not a homeshore server")
    finally:
        server.shutdown()
        server.server_close()

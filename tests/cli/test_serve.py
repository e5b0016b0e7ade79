"""`homeshore serve` as the installed console script: it says where it listens, answers HTTP and UDP probes and
the links `homeshore invite` prints (on the speed endpoints' port), stops cleanly on SIGTERM and Ctrl-C with
its counters, and turns bad options into one line and exit 2."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from homeshore.cli.status import ExitStatus
from homeshore.probe.latency import measure_udp
from homeshore.server.check_documents import save_document
from homeshore.server.recruiter_access import TOKEN_FILE, recruiter_token
from homeshore.server.invite_secret import SECRET_FILE, invite_secret
from homeshore.server.invite_store import STORE_FILE, InviteStore
from homeshore.server.invites import Invites

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
LISTENING = re.compile(r"^homeshore serve: HTTPS? on 127\.0\.0\.1:(\d+), UDP reflector on 127\.0\.0\.1:(\d+)$")
TOKEN_LINE = "homeshore serve: candidates' results for recruiters at /r/, with the token in {path}"


def counters(line: str, prefix: str) -> dict[str, int]:
    assert line.startswith(prefix + ": "), line
    return {key: int(value) for key, value in (item.split("=") for item in line[len(prefix) + 2:].split())}


def start_serve(state_dir: Path, *args: str, scheme: str = "HTTP") -> tuple[subprocess.Popen, int, int]:
    """`homeshore serve --bind 127.0.0.1 --state-dir STATE_DIR ARGS` on free ports, once it has said where it
    listens and where the recruiters' token is."""
    assert CONSOLE_SCRIPT.is_file(), f"{CONSOLE_SCRIPT} not installed (pip install -e .)"
    process = subprocess.Popen([str(CONSOLE_SCRIPT), "serve", "--bind", "127.0.0.1", "--http-port", "0",
                                "--udp-port", "0", "--state-dir", str(state_dir), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(20, process.kill)  # a server that never says it listens must not hang the test
    watchdog.start()
    try:
        line = process.stdout.readline().rstrip("\n")
        token_line = process.stdout.readline().rstrip("\n")
    finally:
        watchdog.cancel()
    match = LISTENING.match(line)
    if match is None or not line.startswith(f"homeshore serve: {scheme} on ") or \
            token_line != TOKEN_LINE.format(path=state_dir / TOKEN_FILE):
        process.kill()
        pytest.fail(f"unexpected first lines {line!r}, {token_line!r}; stderr: {process.communicate()[1]!r}")
    return process, int(match[1]), int(match[2])


def test_serve_answers_http_and_udp_and_prints_its_counters_on_sigterm(tmp_path: Path) -> None:
    process, http_port, udp_port = start_serve(tmp_path, "--test-length", "5")
    try:
        base = f"http://127.0.0.1:{http_port}"
        assert urllib.request.urlopen(f"{base}/speedtest/latency.txt?x=1.0", timeout=5).read() == b"test=test"
        info = json.loads(urllib.request.urlopen(f"{base}/homeshore.json", timeout=5).read())
        assert info == {"service": "homeshore", "version": 1, "udp_port": udp_port}
        config = urllib.request.urlopen(f"{base}/speedtest-config.php", timeout=5).read()
        assert b'<download testlength="5"' in config
        result = measure_udp("127.0.0.1", udp_port, seconds=1)
        assert result.sent > 0 and result.received == result.sent
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == ExitStatus.OK
    assert stderr == ""
    http_line, udp_line, links_line, recruiter_line, checks_line, admission_line, calls_line = stdout.splitlines()
    http = counters(http_line, "homeshore serve: HTTP")
    assert http["requests"] == 3 and http["connections"] == 3 and http["malformed"] == 0
    udp = counters(udp_line, "homeshore serve: UDP reflector")
    assert udp["replied"] == udp["received"] == result.sent
    assert counters(links_line, "homeshore serve: candidate links") == {"valid": 0, "forged": 0, "expired": 0,
                                                                         "used_up": 0}
    assert set(counters(recruiter_line, "homeshore serve: recruiter pages").values()) == {0}
    assert counters(checks_line, "homeshore serve: browser checks") == {
        "started": 0, "refused": 0, "busy": 0, "finished": 0, "bad_finish": 0, "store_errors": 0}
    assert counters(admission_line, "homeshore serve: check admission") == {
        "admitted": 0, "finished": 0, "expired": 0, "refused_per_source": 0, "refused_total": 0, "refused_bytes": 0,
        "not_in_progress": 0}
    assert set(counters(calls_line, "homeshore serve: browser calls").values()) == {0}


def test_ctrl_c_is_a_clean_stop(tmp_path: Path) -> None:
    process, _, _ = start_serve(tmp_path)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == ExitStatus.OK, stderr
    assert [line.split(":")[1].strip() for line in stdout.splitlines()] == ["HTTP", "UDP reflector",
                                                                            "candidate links", "recruiter pages",
                                                                            "browser checks", "check admission",
                                                                            "browser calls"]


def _invite(state_dir: Path, base: str, *args: str) -> str:
    """The link `homeshore invite` prints for the server at base."""
    done = subprocess.run([str(CONSOLE_SCRIPT), "invite", "R-2026/0016", "--base-url", base, "--state-dir",
                           str(state_dir), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == ExitStatus.OK, done.stderr
    link = done.stdout.splitlines()[0]
    assert link.startswith(f"{base}/c/"), link
    return link


def _status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_link_invite_prints_opens_on_serve_beside_the_speed_endpoints(tmp_path: Path) -> None:
    """The two commands agree on the state directory: a link `invite` writes after the server started opens
    200 (taking no use); a forged, an expired and a used-up one 403/410; the speed endpoints answer on the same
    port; each outcome is in the final counters."""
    process, http_port, _ = start_serve(tmp_path)
    try:
        base = f"http://127.0.0.1:{http_port}"
        valid = _invite(tmp_path, base)
        used_up = _invite(tmp_path, base, "--uses", "1")
        token = valid.rsplit("/", 1)[1]
        forged = f"{base}/c/{token[:40]}{'A' if token[40] != 'A' else 'B'}{token[41:]}"
        # What the server will see for these two: a use taken, and an invite made two hours ago for one hour,
        # both in the store and with the secret `invite` created (the server reads them from there).
        invites = Invites(invite_secret(tmp_path), InviteStore(tmp_path / STORE_FILE))
        assert invites.start_check(used_up.rsplit("/", 1)[1]).invite.uses_left == 0
        made_s = time.time() - 7200
        expired_token, _ = Invites(invite_secret(tmp_path), InviteStore(tmp_path / STORE_FILE),
                                   clock=lambda: made_s).create("R-3", None, 3600, 1)

        status, page = _status(valid)
        assert status == 200 and "Your connection check" in page
        assert _status(valid)[0] == 200  # opening the page took no use
        status, page = _status(forged)
        assert status == 403 and "not valid" in page
        status, page = _status(f"{base}/c/{expired_token}")
        assert status == 410 and "expired" in page
        status, page = _status(used_up)
        assert status == 410 and "already been used" in page
        assert urllib.request.urlopen(f"{base}/speedtest/latency.txt", timeout=5).read() == b"test=test"
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == ExitStatus.OK and stderr == ""
    http_line, _, links_line, _, _, _, _ = stdout.splitlines()
    assert counters(links_line, "homeshore serve: candidate links") == {"valid": 2, "forged": 1, "expired": 1,
                                                                         "used_up": 1}
    http = counters(http_line, "homeshore serve: HTTP")
    assert http["connections"] == 6 and http["requests"] == 1 and http["malformed"] == 0


def test_the_recruiters_pages_need_the_token_serve_made(tmp_path: Path) -> None:
    """A browser check stored in the state directory is listed and reported on /r/ with the token from the file
    serve names, and refused without it; both in the final counters."""
    save_document(tmp_path, "AAAAAAAAAAAAAAAAAAAAAA", {"verdict": "WARN", "time": "2026-12-06T04:40:00+00:00",
                                                       "candidate": "R-2026/0016", "area": "NG5"})
    process, http_port, _ = start_serve(tmp_path)
    try:
        base = f"http://127.0.0.1:{http_port}/r/"
        token = (tmp_path / TOKEN_FILE).read_text().strip()
        status, body = _status(base)
        assert status == 401 and "R-2026/0016" not in body
        assert _status(base + "AAAAAAAAAAAAAAAAAAAAAA")[0] == 401
        signed_in = urllib.request.Request(base, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(signed_in, timeout=10) as response:
            assert response.status == 200 and ">R-2026/0016</a>" in response.read().decode()
        signed_in = urllib.request.Request(base + "AAAAAAAAAAAAAAAAAAAAAA",
                                           headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(signed_in, timeout=10) as response:
            assert "R-2026/0016" in response.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == ExitStatus.OK and stderr == ""
    assert counters(stdout.splitlines()[3], "homeshore serve: recruiter pages") == {
        "lists": 1, "reports": 1, "not_found": 0, "unreadable": 0, "unauthorized": 2}


@pytest.fixture
def busy_ports():
    """A TCP port with a listener and a UDP port with a bound socket, both on 127.0.0.1."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    udp.bind(("127.0.0.1", 0))
    yield tcp.getsockname()[1], udp.getsockname()[1]
    tcp.close()
    udp.close()


@pytest.mark.parametrize(("case", "message"), [
    ("tcp_in_use", "cannot listen on TCP 127.0.0.1:{tcp}: Address already in use"),
    ("udp_in_use", "cannot listen on UDP 127.0.0.1:{udp}: Address already in use"),
    ("bad_address", "--bind must be an IP address"),
    ("not_local", "cannot listen on UDP 192.0.2.1:0: Cannot assign requested address"),
    ("port_70000", "--http-port must be a port number from 0 to 65535, not '70000'"),
    ("udp_port_text", "--udp-port must be a port number from 0 to 65535, not 'eighty'"),
    ("test_length", "--test-length must be whole seconds from 1 to 60, not '0'"),
    ("readable_secret", "can be read by other users (mode 0644)"),
    ("readable_token", "recruiter_token can be read by other users (mode 0640)"),
    ("per_address", "--checks-per-address must be a whole number from 1 to 1000, not '0'"),
    ("total", "--checks-total must be a whole number from 1 to 100000, not 'many'"),
    ("megabytes", "--check-megabytes must be a whole number from 1 to 1048576, not '-5'"),
    ("bad_policy", "policy.toml:2: unknown key 'download_min' in [policy] (did you mean download_min_mbps?)"),
])
def test_bad_options_are_one_line_and_exit_2(case: str, message: str, busy_ports, tmp_path: Path) -> None:
    tcp, udp = busy_ports
    invite_secret(tmp_path)
    if case == "readable_secret":
        (tmp_path / SECRET_FILE).chmod(0o644)
    if case == "readable_token":
        recruiter_token(tmp_path)
        (tmp_path / TOKEN_FILE).chmod(0o640)
    (tmp_path / "policy.toml").write_text("[policy]\ndownload_min = 10\n")
    args = {
        "tcp_in_use": ["--bind", "127.0.0.1", "--http-port", str(tcp), "--udp-port", "0"],
        "udp_in_use": ["--bind", "127.0.0.1", "--http-port", "0", "--udp-port", str(udp)],
        "bad_address": ["--bind", "collector.example.org"],
        "not_local": ["--bind", "192.0.2.1", "--http-port", "0", "--udp-port", "0"],  # TEST-NET-1: nobody's
        "port_70000": ["--http-port", "70000"],
        "udp_port_text": ["--udp-port", "eighty"],
        "test_length": ["--test-length", "0"],
        "readable_secret": ["--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0"],
        "readable_token": ["--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0"],
        "per_address": ["--checks-per-address", "0"],
        "total": ["--checks-total", "many"],
        "megabytes": ["--check-megabytes", "-5"],
        "bad_policy": ["--bind", "127.0.0.1", "--http-port", "0", "--policy", str(tmp_path / "policy.toml")],
    }[case]
    done = subprocess.run([str(CONSOLE_SCRIPT), "serve", "--state-dir", str(tmp_path), *args], capture_output=True, text=True, timeout=20)
    assert done.returncode == ExitStatus.CANNOT_MEASURE
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert message.format(tcp=tcp, udp=udp) in done.stderr


def test_the_admission_options_default_to_the_admission_limits() -> None:
    from homeshore.cli.serve import serve
    from homeshore.server.admission import AdmissionLimits

    defaults = {param.name: param.default for param in serve.params}
    limits = AdmissionLimits()
    assert (int(defaults["per_address_text"]), int(defaults["total_text"]), int(defaults["megabytes_text"]) * 2**20) \
        == (limits.checks_per_source, limits.checks_total, limits.bytes_per_check)

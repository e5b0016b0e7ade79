"""`homeshore serve` as the installed console script: it says where it listens, answers HTTP and UDP probes,
stops cleanly on SIGTERM and Ctrl-C with its counters, and turns bad options into one line and exit 2."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from homeshore.cli.status import ExitStatus
from homeshore.probe.latency import measure_udp

CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")
LISTENING = re.compile(r"^homeshore serve: HTTP on 127\.0\.0\.1:(\d+), UDP reflector on 127\.0\.0\.1:(\d+)$")


def counters(line: str, prefix: str) -> dict[str, int]:
    assert line.startswith(prefix + ": "), line
    return {key: int(value) for key, value in (item.split("=") for item in line[len(prefix) + 2:].split())}


def start_serve(*args: str) -> tuple[subprocess.Popen, int, int]:
    """`homeshore serve --bind 127.0.0.1 ARGS` on free ports, once it has said where it listens."""
    assert CONSOLE_SCRIPT.is_file(), f"{CONSOLE_SCRIPT} not installed (pip install -e .)"
    process = subprocess.Popen([str(CONSOLE_SCRIPT), "serve", "--bind", "127.0.0.1", "--http-port", "0",
                                "--udp-port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    watchdog = threading.Timer(20, process.kill)  # a server that never says it listens must not hang the test
    watchdog.start()
    try:
        line = process.stdout.readline().rstrip("\n")
    finally:
        watchdog.cancel()
    match = LISTENING.match(line)
    if match is None:
        process.kill()
        pytest.fail(f"unexpected first line {line!r}; stderr: {process.communicate()[1]!r}")
    return process, int(match[1]), int(match[2])


def test_serve_answers_http_and_udp_and_prints_its_counters_on_sigterm() -> None:
    process, http_port, udp_port = start_serve("--test-length", "5")
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
    http_line, udp_line = stdout.splitlines()
    http = counters(http_line, "homeshore serve: HTTP")
    assert http["requests"] == 3 and http["connections"] == 3 and http["malformed"] == 0
    udp = counters(udp_line, "homeshore serve: UDP reflector")
    assert udp["replied"] == udp["received"] == result.sent


def test_ctrl_c_is_a_clean_stop() -> None:
    process, _, _ = start_serve()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == ExitStatus.OK, stderr
    assert [line.split(":")[1].strip() for line in stdout.splitlines()] == ["HTTP", "UDP reflector"]


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
])
def test_bad_options_are_one_line_and_exit_2(case: str, message: str, busy_ports) -> None:
    tcp, udp = busy_ports
    args = {
        "tcp_in_use": ["--bind", "127.0.0.1", "--http-port", str(tcp), "--udp-port", "0"],
        "udp_in_use": ["--bind", "127.0.0.1", "--http-port", "0", "--udp-port", str(udp)],
        "bad_address": ["--bind", "collector.example.org"],
        "not_local": ["--bind", "192.0.2.1", "--http-port", "0", "--udp-port", "0"],  # TEST-NET-1: nobody's
        "port_70000": ["--http-port", "70000"],
        "udp_port_text": ["--udp-port", "eighty"],
        "test_length": ["--test-length", "0"],
    }[case]
    done = subprocess.run([str(CONSOLE_SCRIPT), "serve", *args], capture_output=True, text=True, timeout=20)
    assert done.returncode == ExitStatus.CANNOT_MEASURE
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert message.format(tcp=tcp, udp=udp) in done.stderr

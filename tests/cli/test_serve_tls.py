"""`homeshore serve --tls-cert --tls-key` as the console script, with a CA and a server certificate openssl makes
here: a client that verifies against that CA (hostname checked) gets the speed endpoints, a download whole and the
recruiters' pages over HTTPS; a client that trusts only the system's CAs is refused by its own verification, and
plain HTTP on the port gets no HTTP answer. Files that cannot serve: one line, exit 2."""

from __future__ import annotations

import http.client
import signal
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from homeshore.cli.status import ExitStatus
from homeshore.server.recruiter_access import TOKEN_FILE
from tests.cli.test_serve import CONSOLE_SCRIPT, counters, start_serve
from tests.conftest import require_tool

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]


def openssl(directory: Path, *args: str) -> None:
    done = subprocess.run([require_tool("openssl"), *args], cwd=directory, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.crt (a CA), server.crt/server.key (for IP 127.0.0.1, signed by it), other.key (another key),
    locked.key (the server's key under a passphrase), junk.pem."""
    d = tmp_path_factory.mktemp("pki")
    openssl(d, "req", "-x509", *EC, "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=homeshore test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    openssl(d, "req", *EC, "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                  "extendedKeyUsage=serverAuth\n")
    openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    openssl(d, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key")
    openssl(d, "pkey", "-in", "server.key", "-out", "locked.key", "-aes256", "-passout", "pass:secret")
    (d / "junk.pem").write_text("not a certificate\n")
    return d


def test_https_with_the_certificate_verified_against_its_ca(pki: Path, tmp_path: Path) -> None:
    process, http_port, _ = start_serve(tmp_path, "--tls-cert", str(pki / "server.crt"), "--tls-key",
                                        str(pki / "server.key"), scheme="HTTPS")
    try:
        base = f"https://127.0.0.1:{http_port}"
        trusting = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        assert trusting.verify_mode == ssl.CERT_REQUIRED and trusting.check_hostname
        with urllib.request.urlopen(f"{base}/speedtest/latency.txt", timeout=10, context=trusting) as reply:
            assert reply.read() == b"test=test"
        with urllib.request.urlopen(f"{base}/speedtest/random350x350.jpg", timeout=10, context=trusting) as reply:
            body = reply.read()
            assert len(body) == int(reply.headers["Content-Length"]) > 0
        token = (tmp_path / TOKEN_FILE).read_text().strip()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/r/", timeout=10, context=trusting)
        assert refused.value.code == 401
        signed_in = urllib.request.Request(f"{base}/r/", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(signed_in, timeout=10, context=trusting) as reply:
            assert reply.status == 200
        # Verification is on: a client that does not trust the test CA refuses the server itself.
        with pytest.raises(urllib.error.URLError) as untrusted:
            urllib.request.urlopen(f"{base}/speedtest/latency.txt", timeout=10,
                                   context=ssl.create_default_context())
        assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)
        # Nothing is served in clear on the HTTPS port: the TLS layer closes a connection that does not start
        # with a handshake.
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        try:
            with pytest.raises(ConnectionError):
                plain.request("GET", "/speedtest/latency.txt")
                plain.getresponse()
        finally:
            plain.close()
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == ExitStatus.OK and stderr == ""
    http_counts = counters(stdout.splitlines()[0], "homeshore serve: HTTP")
    assert http_counts["downloads"] == 1 and http_counts["bytes_sent"] == len(body)


@pytest.mark.parametrize(("cert", "key", "message"), [
    ("missing.crt", "server.key", "--tls-cert: cannot read {pki}/missing.crt: No such file or directory"),
    ("server.crt", "missing.key", "--tls-key: cannot read {pki}/missing.key: No such file or directory"),
    ("junk.pem", "server.key", "--tls-cert: {pki}/junk.pem holds no PEM certificate"),
    ("server.key", "server.key", "--tls-cert: {pki}/server.key holds no PEM certificate"),
    ("server.crt", "junk.pem", "--tls-key: {pki}/junk.pem holds no PEM private key"),
    ("server.crt", "server.crt", "--tls-key: {pki}/server.crt holds no PEM private key"),
    ("server.crt", "other.key", "--tls-key: {pki}/other.key is not the key of the certificate in {pki}/server.crt"),
    ("server.crt", "locked.key", "--tls-key: {pki}/locked.key is locked with a passphrase"),
    ("server.crt", None, "--tls-cert and --tls-key go together"),
    (None, "server.key", "--tls-cert and --tls-key go together"),
])
def test_files_that_cannot_serve_are_one_line_and_exit_2(pki: Path, tmp_path: Path, cert: str | None,
                                                         key: str | None, message: str) -> None:
    args = (["--tls-cert", str(pki / cert)] if cert else []) + (["--tls-key", str(pki / key)] if key else [])
    done = subprocess.run([str(CONSOLE_SCRIPT), "serve", "--bind", "127.0.0.1", "--http-port", "0", "--udp-port",
                           "0", "--state-dir", str(tmp_path), *args], capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == ExitStatus.CANNOT_MEASURE
    assert done.stdout == "" and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("homeshore serve: " + message.format(pki=pki)), line

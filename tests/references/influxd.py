"""A real InfluxDB 1.x for a test: Debian's `influxd` in a temporary directory on loopback ports it binds at 0.

DESIGN.md's recipe: `influxd config` prints the defaults; every /var/lib/influxdb moves into a temporary
directory, HTTP and the RPC bind-address bind 127.0.0.1:0 (the kernel picks free ports, nothing is probed
first), the HTTP port is read from the server's own "Listening on HTTP" log line, usage reporting is off (it
would try the internet) and so is the _internal monitor store (CPU the shared machine needs elsewhere).
The server is stopped by its process id, never by name.

    @pytest.fixture(scope="module")
    def influx():
        with InfluxServer() as server:
            yield server

    influx.query("CREATE DATABASE db"); influx.write(["m f=1 1"], "db"); influx.query("SELECT * FROM m", "db")

With `auth=True` the first admin user is created (`CREATE USER ... WITH ALL PRIVILEGES`, the one statement
InfluxDB allows before any user exists) and every request of the helper authenticates as it unless given
other credentials; `create_admin=False` leaves a fresh server with authentication on and no user yet.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool

_START_TIMEOUT_S = 30.0
_ADMIN = ("admin", "admin-password")


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback TCP port that refuses connections for the duration of the block: bound, never listening.

    Holding the bound socket keeps any other program from listening there meanwhile, which a port probed and
    released (bind, close, return the number) would not."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


_LISTENING = re.compile(r'msg="Listening on HTTP".* addr=127\.0\.0\.1:(\d+)')


def influxd_config(defaults: str, root: Path, http_port: int, rpc_port: int, *, auth: bool) -> str:
    """The printed defaults with paths, binds and switches rewritten, section by section."""
    out = []
    section = ""
    reporting_seen = False
    for line in defaults.replace("/var/lib/influxdb", str(root)).splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        indent = line[: len(line) - len(line.lstrip())]
        if section == "" and key == "bind-address":
            line = f'bind-address = "127.0.0.1:{rpc_port}"'
        elif section == "" and key == "reporting-disabled":
            line, reporting_seen = "reporting-disabled = true", True
        elif section == "" and key == "reporting-enabled":
            line, reporting_seen = "reporting-enabled = false", True
        elif section == "[http]" and key == "bind-address":
            line = f'{indent}bind-address = "127.0.0.1:{http_port}"'
        elif section == "[http]" and key == "auth-enabled":
            line = f"{indent}auth-enabled = {'true' if auth else 'false'}"
        elif section == "[http]" and key in ("log-enabled", "pprof-enabled"):
            line = f"{indent}{key} = false"
        elif section == "[http]" and key == "unix-socket-enabled":
            line = f"{indent}unix-socket-enabled = false"
        elif section == "[monitor]" and key == "store-enabled":
            line = f"{indent}store-enabled = false"
        elif section == "[logging]" and key == "level":
            line = f'{indent}level = "info"'  # the "Listening on HTTP" line names the port bound
        out.append(line)
    if not reporting_seen:
        out.insert(0, "reporting-disabled = true")
    return "\n".join(out) + "\n"


class InfluxServer:
    """Context manager: a started influxd; `.url`, `.query()`, `.write()`, `.ping()`."""

    def __init__(self, *, auth: bool = False, create_admin: bool = True) -> None:
        self.auth = auth
        self.admin = _ADMIN if auth and create_admin else None
        self.url = ""
        self.root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> InfluxServer:
        binary = require_tool("influxd")
        self.root = Path(tempfile.mkdtemp(prefix="homeshore-influxd-"))
        defaults = subprocess.run([binary, "config"], capture_output=True, text=True, timeout=30, check=True).stdout
        try:
            if not self._start(binary, defaults):
                raise RuntimeError(f"influxd did not start:\n{self.log()[-3000:]}")
            if self.admin is not None:
                self.query(f"CREATE USER {_ADMIN[0]} WITH PASSWORD '{_ADMIN[1]}' WITH ALL PRIVILEGES", credentials=None)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self, binary: str, defaults: str) -> bool:
        """Start on ports bound at 0; the configuration then names the HTTP port found, so that `start()` after
        `stop()` brings the collector back at the same URL (as a real one would)."""
        assert self.root is not None
        config = self.root / "influxdb.conf"
        config.write_text(influxd_config(defaults, self.root, 0, 0, auth=self.auth))
        with open(self.root / "influxd.log", "ab") as log:
            self._process = subprocess.Popen([binary, "-config", str(config)], stdout=log, stderr=log,
                                             stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline and self._process.poll() is None:
            listening = _LISTENING.search(self.log())
            if listening and not self.url:
                self.url = f"http://127.0.0.1:{listening[1]}"
                config.write_text(influxd_config(defaults, self.root, int(listening[1]), 0, auth=self.auth))
            if self.url and self.ping() == 204:
                return True
            time.sleep(0.1)  # the interval between looks at the log and /ping, not a wait for the process
        self._stop()
        return False

    def __exit__(self, *_exc: object) -> None:
        self._stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # by its pid
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
        self._process = None

    def stop(self) -> None:
        """Stops the server (a collector outage); its data directory and port are kept for `start()`."""
        self._stop()

    def start(self) -> None:
        """Starts the stopped server again with the same configuration: same port, same data.

        The one port given rather than bound at 0: the agent's URL names it. Another program may have taken it
        since `stop()`; influxd then exits with its bind error, which the RuntimeError shows."""
        assert self.root is not None and self._process is None, "start() follows stop()"
        binary = require_tool("influxd")
        with open(self.root / "influxd.log", "ab") as log:
            self._process = subprocess.Popen([binary, "-config", str(self.root / "influxdb.conf")], stdout=log,
                                             stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"influxd did not start again:\n{self.log()[-3000:]}")
            if self.ping() == 204:
                return
            time.sleep(0.1)
        self._stop()
        raise RuntimeError(f"influxd did not answer after a restart:\n{self.log()[-3000:]}")

    def log(self) -> str:
        path = self.root / "influxd.log" if self.root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def ping(self) -> int | None:
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=2) as reply:
                return reply.status
        except (OSError, urllib.error.URLError):
            return None

    def request(self, method: str, path: str, params: dict[str, str], body: bytes | None = None,
                credentials: tuple[str, str] | None | bool = True) -> HttpReply:
        """Any HTTP call; credentials True means the admin's (when auth is on), None means none."""
        if credentials is True:
            credentials = self.admin
        request = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode(params)}", data=body,
                                         method=method)
        if credentials:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return HttpReply(reply.status, reply.read().decode())
        except urllib.error.HTTPError as error:
            return HttpReply(error.code, error.read().decode(errors="replace"))

    def write(self, lines: list[str] | str, db: str, *, precision: str = "ns",
              credentials: tuple[str, str] | None | bool = True) -> HttpReply:
        """POST /write; returns the reply (204 on success) rather than raising, for tests of rejections."""
        text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
        return self.request("POST", "/write", {"db": db, "precision": precision}, text.encode(), credentials)

    def query(self, q: str, db: str | None = None, *,
              credentials: tuple[str, str] | None | bool = True) -> dict:
        """POST /query with timestamps as integer nanoseconds; raises on an HTTP or statement error."""
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        reply = self.request("POST", "/query", params, b"", credentials)
        if reply.status != 200:
            raise RuntimeError(f"{q!r}: HTTP {reply.status}: {reply.body}")
        answer = json.loads(reply.body)
        errors = [result["error"] for result in answer.get("results", []) if "error" in result]
        if "error" in answer or errors:
            raise RuntimeError(f"{q!r}: {answer.get('error') or errors}")
        return answer

    def rows(self, q: str, db: str | None = None) -> list[dict]:
        """The points of a query's first statement as dicts, one per row, with the series' tags merged in."""
        out = []
        for series in self.query(q, db)["results"][0].get("series", []):
            for values in series["values"]:
                row = dict(series.get("tags") or {})
                row.update(zip(series["columns"], values))
                out.append(row)
        return out


def quote_ident(name: str) -> str:
    """InfluxQL identifier in double quotes (for measurement and tag names in queries)."""
    return '"' + re.sub(r'(["\\])', r"\\\1", name) + '"'

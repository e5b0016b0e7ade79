"""InfluxDB 1.x `POST /write`: line protocol, nanosecond precision, gzip, Basic authentication.

- Credentials go in an `Authorization: Basic` header, never as `u=`/`p=` query parameters, which end up in
  proxy and server access logs.
- gzip (`Content-Encoding: gzip`): line protocol compresses about tenfold, which matters on a home's upload.
  influxd 1.6 accepts it (tests/collector/test_writer_v1.py writes through it).
- One persistent connection, reused across writes (a flush sends one request per batch). A reused connection
  that the server or a proxy closed while idle fails before any answer; that request is sent once more on a
  fresh connection, which is safe because writes are idempotent (DESIGN.md, "Durability").
- TLS verifies the certificate and host name with the system's CAs (`ssl.create_default_context()`);
  `verify_tls=False` turns that off only when the configuration asks, with a warning.
- `timeout_s` bounds the connect and every socket read, so a server that accepts and never answers costs one
  timeout, then RETRY.
- A URL path prefix (InfluxDB behind a reverse proxy at `https://host/influx`) is kept: `/influx/write`.
"""

from __future__ import annotations

import base64
import gzip as gzip_module
import http.client
import logging
import ssl
import urllib.parse
from typing import Sequence

from homeshore.collector.writer import (
    WriteResult, checked_collector_url, result_for_error, result_for_response, secret_forms,
)

log = logging.getLogger(__name__)

_GZIP_LEVEL = 5  # nearly the ratio of 9 at a fraction of the CPU (a flush can carry 5,000 lines)


class V1Writer:
    """Writes batches of lines to one InfluxDB 1.x database; one instance per thread (http.client's rule)."""

    def __init__(self, url: str, database: str, *, retention_policy: str = "", username: str = "",
                 password: str = "", timeout_s: float = 10.0, verify_tls: bool = True, gzip: bool = True) -> None:
        parts = checked_collector_url(url, timeout_s=timeout_s, credentials_hint="username and password_file")
        if not database:
            raise ValueError("database must not be empty")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        query = {"db": database, "precision": "ns"}
        if retention_policy:
            query["rp"] = retention_policy
        self._target = parts.path.rstrip("/") + "/write?" + urllib.parse.urlencode(query)
        self._timeout_s = timeout_s
        self._gzip = gzip
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzip:
            self._headers["Content-Encoding"] = "gzip"
        if username or password:
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._secrets = secret_forms(password, username=username)
        self._context: ssl.SSLContext | None = None
        if self._https:
            self._context = ssl.create_default_context()
            if not verify_tls:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
                log.warning("TLS certificate verification is off for %s (verify_tls = false)", self._origin())
        self._connection: http.client.HTTPConnection | None = None
        rp = f" retention policy {retention_policy}" if retention_policy else ""
        self.description = f"InfluxDB v1 {self._origin()}{parts.path.rstrip('/')} database {database}{rp}"

    def __repr__(self) -> str:
        return f"V1Writer({self.description!r})"

    def _origin(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{'https' if self._https else 'http'}://{host}:{self._port}"

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout_s,
                                               context=self._context)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)

    def write(self, lines: Sequence[str]) -> WriteResult:
        body = "\n".join(lines).encode()
        if self._gzip:
            body = gzip_module.compress(body, compresslevel=_GZIP_LEVEL)
        reused = self._connection is not None
        try:
            return self._post(body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
            if not reused:
                return result_for_error(error, secrets=self._secrets)
        except (OSError, http.client.HTTPException) as error:
            return result_for_error(error, secrets=self._secrets)
        # The idle connection had been closed by the other end: once more on a fresh one.
        try:
            return self._post(body)
        except (OSError, http.client.HTTPException) as error:
            return result_for_error(error, secrets=self._secrets)

    def _post(self, body: bytes) -> WriteResult:
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.request("POST", self._target, body=body, headers=self._headers)
            reply = self._connection.getresponse()
            data = reply.read()
        except BaseException:
            self.close()  # a connection in an unknown state is never reused
            raise
        if reply.will_close:
            self.close()
        return result_for_response(reply.status, data, retry_after=reply.getheader("Retry-After"),
                                   reason=reply.reason, secrets=self._secrets)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


"""InfluxQL over HTTP `/query`: the one way reports, maps and provisioning read the collector.

The same request works on InfluxDB 1.x, on 2.x through its DBRP mapping (`/query` compatibility endpoint) and
on 3.x. Authentication is Basic for 1.x users, `Authorization: Token` for 2.x/3.x tokens.

- POST, so statements that change things (CREATE, GRANT) go through it too, and nothing lands in a proxy's
  access log as a query string.
- `epoch=ns`: timestamps come back as integer nanoseconds, as the schema writes them.
- Bound parameters: InfluxQL's `params` form value (a JSON object; `$name` in the statement), which InfluxDB 1.x
  accepts since 1.4 (checked against Debian's 1.6 by tests/collector/test_query.py). Callers never format user
  input into a statement; identifiers cannot be bound, so `quote_ident` quotes them.
- Every failure is a `QueryError` with one line of text and a `kind`, never a secret: the server's error text is
  kept (it names statements and users, not passwords), credentials never enter a message.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping

from homeshore.collector.url_hints import with_hint


class QueryError(Exception):
    """One line; `kind` is "unreachable", "unauthorized" (401), "forbidden" (403), "no_admin" (403 from 1.x
    with authentication on and no user yet: it runs nothing but `CREATE USER ... WITH ALL PRIVILEGES`),
    "statement" (the server ran the request and a statement failed, or refused to parse it) or "http"."""

    def __init__(self, message: str, *, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class Series:
    """One series of a result: `values` are rows in the order of `columns` (the first is `time` for SELECTs)."""

    name: str
    tags: Mapping[str, str]
    columns: tuple[str, ...]
    values: list[tuple[Any, ...]] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """Each row as a dict, the series' tags merged in (a column wins over a tag of the same name)."""
        return [{**self.tags, **dict(zip(self.columns, row))} for row in self.values]


def quote_ident(name: str) -> str:
    """An InfluxQL identifier (database, measurement, user) in double quotes."""
    return '"' + re.sub(r'(["\\])', r"\\\1", name) + '"'


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class QueryClient:
    """`query()` sends one request of one or more statements; the result is every statement's series in order."""

    def __init__(self, url: str, *, database: str, retention_policy: str = "", username: str = "",
                 password: str = "", token: str = "", timeout_s: float = 30, verify_tls: bool = True) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"collector URL must be http:// or https://HOST[:PORT], not {url!r}")
        if token and (username or password):
            raise ValueError("give either a token (2.x/3.x) or a username and password (1.x), not both")
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.timeout_s = timeout_s
        self._authorization = ""
        if token:
            self._authorization = f"Token {token}"
        elif username:
            self._authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._context = ssl.create_default_context() if parts.scheme == "https" else None
        if self._context is not None and not verify_tls:
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE

    def __repr__(self) -> str:  # no credentials
        return f"QueryClient({self.url!r}, database={self.database!r})"

    def query(self, influxql: str, *, params: Mapping[str, Any] | None = None) -> list[Series]:
        form = {"q": influxql, "epoch": "ns"}
        if self.database:
            form["db"] = self.database
        if self.retention_policy:
            form["rp"] = self.retention_policy
        if params:
            form["params"] = json.dumps(dict(params))
        body = json.loads(self._post(urllib.parse.urlencode(form).encode()) or "{}")
        if "error" in body:
            raise QueryError(_one_line(body["error"]), kind="statement")
        series: list[Series] = []
        for result in body.get("results", []):
            if "error" in result:
                raise QueryError(_one_line(result["error"]), kind="statement")
            for raw in result.get("series", []):
                series.append(Series(name=raw.get("name", ""), tags=dict(raw.get("tags") or {}),
                                     columns=tuple(raw.get("columns", ())),
                                     values=[tuple(row) for row in raw.get("values", [])]))
        return series

    def _post(self, data: bytes) -> str:
        request = urllib.request.Request(self.url + "/query", data=data, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("Accept", "application/json")
        if self._authorization:
            request.add_header("Authorization", self._authorization)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=self._context) as reply:
                return reply.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            raise _http_error(error.code, error.read().decode("utf-8", errors="replace")) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            message = f"cannot reach the collector at {self.url}: {_one_line(str(reason))}"
            raise QueryError(with_hint(message, self.url, error), kind="unreachable") from None


def _http_error(status: int, text: str) -> QueryError:
    try:
        message = json.loads(text).get("error") or json.loads(text).get("message") or text
    except (ValueError, AttributeError):
        message = text
    message = _one_line(message) or "no detail"
    if status == 401:
        return QueryError(f"the collector refused the credentials (HTTP 401: {message})", kind="unauthorized",
                          status=status)
    if status == 403 and "create admin user first" in message:  # 1.x with auth on and no user yet
        return QueryError(message, kind="no_admin", status=status)
    if status == 403:
        return QueryError(f"not allowed (HTTP 403: {message})", kind="forbidden", status=status)
    if status == 400:  # 1.x answers a statement it cannot parse with 400
        return QueryError(message, kind="statement", status=status)
    return QueryError(f"HTTP {status}: {message}", kind="http", status=status)

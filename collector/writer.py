"""What a write to InfluxDB came to, and the one pure function that sorts HTTP answers and network errors.

The flush loop (collector/flush.py) acts on the outcome only, so every writer (v1 `/write`, v2 influxdb-client)
must sort the same way:

| outcome     | when                                              | the flush loop                                   |
|-------------|---------------------------------------------------|--------------------------------------------------|
| OK          | 2xx                                               | deletes the rows                                 |
| MALFORMED   | 400, 422: the server will never take these lines  | bisects, quarantines the lines that fail alone   |
| TOO_LARGE   | 413                                               | halves the batch                                 |
| RETRY       | 408, 429, 5xx, connection refused/reset, DNS,     | keeps the rows, backs off (Retry-After wins)     |
|             | timeouts, TLS failures                            |                                                  |
| REFUSED     | 401, 403, 404 and any other status                | keeps the rows, tells the operator               |

404 is REFUSED, not MALFORMED: InfluxDB 1.x answers 404 `database not found` and 2.x `bucket not found` or
`organization not found`, and a reverse proxy answers 404 for a wrong path prefix. The lines are fine; the
configuration is not, so they wait in the spool until an operator fixes it. Only 400 and 422 ever send a line
to quarantine (DESIGN.md, "Durability"). Other 4xx and 3xx (a proxy's redirect to a login page, `http://` sent
to an `https://` only port) are configuration problems too, so REFUSED. A TLS certificate that does not verify
is RETRY, not REFUSED: a home's captive portal or a hotel proxy breaks TLS for a while and then goes away.

Messages are one line of at most `MESSAGE_MAX_CHARS`, built from the server's own error (1.x: `{"error": ...}`,
2.x: `{"code": ..., "message": ...}`), and never carry a secret: every writer passes its password or token,
and every text a server or a library produced goes through `redact` (a server or proxy may echo the
Authorization header back in an error body).
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Protocol, Sequence

MESSAGE_MAX_CHARS = 300
REDACTED = "[redacted]"


class WriteOutcome(Enum):
    OK = "ok"
    MALFORMED = "malformed"  # 400/422: a line the server will never take
    RETRY = "retry"  # 408, 429, 5xx, network error, timeout
    REFUSED = "refused"  # 401/403/404/other: credentials or configuration wrong; keep the data, tell the operator
    TOO_LARGE = "too_large"  # 413


@dataclass(frozen=True)
class WriteResult:
    outcome: WriteOutcome
    status: int | None  # HTTP status; None when no answer came (network error, timeout)
    message: str  # one line, never a secret
    retry_after_s: float | None = None  # the server's Retry-After, when it sent one


class Writer(Protocol):
    description: str  # e.g. "InfluxDB v1 http://127.0.0.1:8086 database homeshore" (no secrets)

    def write(self, lines: Sequence[str]) -> WriteResult: ...

    def close(self) -> None: ...


def classify(status: int) -> WriteOutcome:
    """The outcome of an HTTP status (see the module's table)."""
    if 200 <= status < 300:
        return WriteOutcome.OK
    if status in (400, 422):
        return WriteOutcome.MALFORMED
    if status == 413:
        return WriteOutcome.TOO_LARGE
    if status in (408, 429) or 500 <= status < 600:
        return WriteOutcome.RETRY
    return WriteOutcome.REFUSED


def parse_retry_after(value: str | None, *, now_s: float | None = None) -> float | None:
    """Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, as seconds from now (a date in the past
    is 0); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):  # the RFC's integer; a decimal is read too, being harmless
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110: HTTP-dates are GMT
        return None
    now = time.time() if now_s is None else now_s
    return max(0.0, when.timestamp() - now)


def secret_forms(*secrets: str, username: str = "") -> tuple[str, ...]:
    """The texts that must never appear in a message: each secret, and the Basic credential built from it
    (what an echoed `Authorization: Basic ...` header would show)."""
    forms = []
    for secret in secrets:
        if not secret:
            continue
        forms.append(secret)
        forms.append(base64.b64encode(f"{username}:{secret}".encode()).decode())
    return tuple(forms)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):  # longest first: one may hold another
        text = text.replace(secret, REDACTED)
    return text


def one_line(text: str, secrets: Iterable[str] = ()) -> str:
    """Whitespace runs to one space, secrets redacted, then cut to `MESSAGE_MAX_CHARS` (redacting first, so a
    secret cut in half by the limit cannot leak its first part)."""
    flat = redact(" ".join(text.split()), secrets)
    return flat if len(flat) <= MESSAGE_MAX_CHARS else flat[: MESSAGE_MAX_CHARS - 1] + "…"


def server_error_text(body: bytes | str | None) -> str:
    """The server's reason from an error body: 1.x `{"error": ...}`, 2.x `{"code": ..., "message": ...}`,
    else the body itself (a proxy's HTML or text page)."""
    if body is None:
        return ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        if isinstance(data.get("error"), str):
            return data["error"]
        message = data.get("message")
        if isinstance(message, str):
            code = data.get("code")
            return f"{code}: {message}" if isinstance(code, str) and code else message
    return text


def result_for_response(status: int, body: bytes | str | None, *, retry_after: str | None = None,
                        reason: str = "", secrets: Iterable[str] = ()) -> WriteResult:
    """The WriteResult of an HTTP answer."""
    outcome = classify(status)
    if outcome is WriteOutcome.OK:
        return WriteResult(outcome, status, "")
    detail = server_error_text(body) or reason
    message = one_line(f"HTTP {status}: {detail}" if detail else f"HTTP {status}", secrets)
    retry_after_s = parse_retry_after(retry_after) if outcome is WriteOutcome.RETRY else None
    return WriteResult(outcome, status, message, retry_after_s)


def result_for_error(error: BaseException, *, secrets: Iterable[str] = ()) -> WriteResult:
    """A request that got no answer (refused, reset, DNS, timeout, TLS): always RETRY; nothing was stored, or
    it was and a resend overwrites it with the same values."""
    kind = type(error).__name__
    detail = str(error)
    return WriteResult(WriteOutcome.RETRY, None, one_line(f"{kind}: {detail}" if detail else kind, secrets))


def checked_collector_url(url: str, *, timeout_s: float, credentials_hint: str) -> urllib.parse.SplitResult:
    """The writers' shared checks at construction: an http(s) URL with a host and no user:password@ part
    (credentials in a URL end up in proxy logs; credentials_hint names where they go instead), and a positive
    timeout. Messages never repeat a credential."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"collector url must be http:// or https:// with a host, not {_safe_url(url)!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"collector url must not carry credentials; use {credentials_hint}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, not {timeout_s}")
    return parts


def _safe_url(url: str) -> str:
    """The URL without any user:password@ part, for error messages."""
    parts = urllib.parse.urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urllib.parse.urlunsplit(parts)

"""What to try when a URL could not be reached: one classification for every command that talks to a server
(`check --server`, `collector init/query`, `map --from influx`, the agent's writer errors in `agent status`).

Two mistakes account for most first runs, and the raw errors do not name them:
- https:// to a server that speaks plain HTTP: OpenSSL reads the HTTP answer as a TLS record and says
  "wrong version number" (`ssl.SSLError` reason `WRONG_VERSION_NUMBER`);
- nothing listening on the port: ECONNREFUSED ("Connection refused").
`url_hint` takes the exception itself or the text already made of it (the agent keeps only text).
"""

from __future__ import annotations

import errno
import re
import ssl
import urllib.error
import urllib.parse

_PLAIN_HTTP = re.compile(r"wrong[ _]version[ _]number", re.IGNORECASE)
_REFUSED = re.compile(r"connection refused|ConnectionRefusedError|\[Errno 111\]", re.IGNORECASE)


def _causes(error: BaseException) -> list[BaseException]:
    """The error, what a URLError wraps (`reason`), and its chain of causes."""
    seen: list[BaseException] = []
    current: object = error
    while isinstance(current, BaseException) and current not in seen:
        seen.append(current)
        if isinstance(current, urllib.error.URLError) and isinstance(current.reason, BaseException):
            current = current.reason
        else:
            current = current.__cause__ or current.__context__
    return seen


def _plain_http(error: BaseException | str) -> bool:
    if isinstance(error, str):
        return bool(_PLAIN_HTTP.search(error))
    return any((isinstance(e, ssl.SSLError) and e.reason == "WRONG_VERSION_NUMBER") or _PLAIN_HTTP.search(str(e))
               for e in _causes(error))


def _refused(error: BaseException | str) -> bool:
    if isinstance(error, str):
        return bool(_REFUSED.search(error))
    return any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
               or _REFUSED.search(str(e)) for e in _causes(error))


def url_hint(url: str, error: BaseException | str) -> str:
    """A short hint for `error` met while talking to `url`, or "" when there is none to give."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and _plain_http(error):
        return f"the server speaks plain HTTP: try http://{parts.netloc}{parts.path.rstrip('/')}"
    if parts.hostname and _refused(error):
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return f"nothing listens on {host}:{port}: is the server running?"
    return ""


def with_hint(message: str, url: str, error: BaseException | str) -> str:
    """`message`, followed by the hint for `error` when there is one ("...: connection refused; nothing ...")."""
    hint = url_hint(url, error)
    return f"{message}; {hint}" if hint and hint not in message else message  # once, however many layers add it

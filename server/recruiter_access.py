"""Who may read the candidates' results on the server (`/r/`): whoever presents the recruiters' token.

The token is 32 random bytes, kept as 64 hex digits in a 0600 file of the state directory, created on the
first `homeshore serve` (server/secret_file.py); the server prints where. It is sent either as
`Authorization: Bearer TOKEN` (scripts) or as the password of HTTP Basic (a browser's own sign-in prompt; the
user name is not checked: there is one credential, not accounts). The comparison takes the same time wherever
the first wrong character is (hmac.compare_digest), so the token cannot be found one character at a time. Pure,
apart from reading the file.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from pathlib import Path

from homeshore.server.secret_file import kept_secret

TOKEN_FILE = "recruiter_token"
TOKEN_BYTES = 32
REALM = "homeshore recruiters"
# Both schemes are named (RFC 7235 section 4.1): a browser shows its prompt for Basic, a script sees Bearer.
CHALLENGES = (f'Basic realm="{REALM}", charset="UTF-8"', f'Bearer realm="{REALM}"')


def recruiter_token(state_dir: Path) -> str:
    """The token (hex) kept in state_dir, made on first use; SecretFileError (one line) when it cannot be used."""
    return kept_secret(state_dir, TOKEN_FILE, TOKEN_BYTES, "anyone who read it can open every candidate's "
                       "results").hex()


def presented_token(authorization: str | None) -> str | None:
    """The credential an Authorization header carries (Bearer token, or Basic's password); None for none."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, colon, password = pair.partition(":")
    return password if colon else None


def is_authorized(authorization: str | None, token: str) -> bool:
    """Whether the header carries `token` (compared in constant time)."""
    presented = presented_token(authorization)
    return presented is not None and hmac.compare_digest(presented.encode("utf-8"), token.encode("utf-8"))

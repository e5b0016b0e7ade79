"""Invite tokens: the opaque part of a candidate's link (`https://HOST/c/TOKEN`), minted and verified. Pure.

A token is 57 bytes in URL-safe base64 (76 characters, no padding): a version byte, a random 128-bit invite id,
the expiry (unix seconds, 64-bit big-endian), and an HMAC-SHA256 (RFC 2104) of those 25 bytes under the
server's secret. It names no candidate: the reference and postcode district live in the server's invite store,
keyed by the id, so a forwarded or leaked link says nothing about whom it was for. The expiry is in the token
(and under the MAC) so an expired link is told apart without a store look-up.

57 bytes is a multiple of 3, so every one of the 76 characters carries six bits of the token and there are no
padding bits a decoder would ignore: any change to a token's text changes its bytes, and the MAC (compared in
constant time, `hmac.compare_digest`) fails. Keep the length a multiple of 3 if the layout ever changes.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

VERSION = 1
SECRET_BYTES = 32  # RFC 2104 section 3: a key shorter than the MAC (L = 32 bytes for SHA-256) is discouraged
INVITE_ID_BYTES = 16
_PAYLOAD = struct.Struct(">B16sQ")  # version, invite id, expires (unix s)
_MAC_BYTES = hashlib.sha256().digest_size
TOKEN_BYTES = _PAYLOAD.size + _MAC_BYTES  # 57
TOKEN_CHARS = TOKEN_BYTES * 4 // 3  # 76: TOKEN_BYTES is a multiple of 3 (see above)
_TOKEN_TEXT = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_CHARS}}}")


class InviteStatus(enum.Enum):
    """What a link is worth. The token alone tells VALID, FORGED and EXPIRED; USED_UP needs the store."""

    VALID = "valid"
    FORGED = "forged"  # malformed, or not signed by this server's secret (or unknown to its store)
    EXPIRED = "expired"
    USED_UP = "used_up"


@dataclass(frozen=True)
class TokenCheck:
    status: InviteStatus
    invite_id: str | None = None  # hex; set when the MAC is good (VALID or EXPIRED)
    expires_s: int | None = None  # unix seconds; set when the MAC is good


def new_invite_id(random_bytes: bytes) -> str:
    """The invite id (hex) from INVITE_ID_BYTES random bytes (the caller draws them: `secrets.token_bytes`)."""
    if len(random_bytes) != INVITE_ID_BYTES:
        raise ValueError(f"an invite id is {INVITE_ID_BYTES} random bytes, not {len(random_bytes)}")
    return random_bytes.hex()


def mint_token(secret: bytes, invite_id: str, expires_s: int) -> str:
    """The token for invite `invite_id` (hex, as `new_invite_id` makes) valid until `expires_s` (unix seconds)."""
    _check_secret(secret)
    payload = _PAYLOAD.pack(VERSION, bytes.fromhex(invite_id), expires_s)
    mac = hmac.new(secret, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload + mac).decode("ascii")


def verify_token(secret: bytes, token: str, now_s: float) -> TokenCheck:
    """VALID, EXPIRED (a good MAC, `now_s` at or past the expiry) or FORGED (anything else). Never raises on
    bad input: a token is whatever a browser sent."""
    _check_secret(secret)
    if not _TOKEN_TEXT.fullmatch(token):
        return TokenCheck(InviteStatus.FORGED)
    raw = base64.urlsafe_b64decode(token)
    payload, mac = raw[:_PAYLOAD.size], raw[_PAYLOAD.size:]
    if not hmac.compare_digest(mac, hmac.new(secret, payload, hashlib.sha256).digest()):
        return TokenCheck(InviteStatus.FORGED)
    version, invite_id, expires_s = _PAYLOAD.unpack(payload)
    if version != VERSION:
        return TokenCheck(InviteStatus.FORGED)
    status = InviteStatus.VALID if now_s < expires_s else InviteStatus.EXPIRED
    return TokenCheck(status, invite_id.hex(), expires_s)


def _check_secret(secret: bytes) -> None:
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"the invite secret is {SECRET_BYTES} bytes, not {len(secret)}")

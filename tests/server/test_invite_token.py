"""Invite tokens: minted and verified with fixed secrets and clocks; the MAC checked against openssl's HMAC."""

from __future__ import annotations

import base64
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeshore.server.invite_token import (TOKEN_CHARS, InviteStatus, TokenCheck, mint_token, new_invite_id,
                                           verify_token)
from tests.conftest import require_tool

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
INVITE_ID = "00112233445566778899aabbccddeeff"
EXPIRES_S = 1_800_000_000
TOKEN = mint_token(SECRET, INVITE_ID, EXPIRES_S)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _with_payload_byte(token: str, index: int, value: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[index] = value
    return base64.urlsafe_b64encode(bytes(raw)).decode()


def test_the_token_is_the_payload_and_openssls_hmac_sha256_of_it() -> None:
    openssl = require_tool("openssl")
    raw = base64.urlsafe_b64decode(TOKEN)
    payload = bytes([1]) + bytes.fromhex(INVITE_ID) + EXPIRES_S.to_bytes(8, "big")
    mac = subprocess.run([openssl, "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{SECRET.hex()}",
                          "-binary"], input=payload, capture_output=True, check=True).stdout
    assert raw == payload + mac
    assert len(TOKEN) == TOKEN_CHARS == 76 and "=" not in TOKEN


@pytest.mark.parametrize("token, secret, now_s, expected", [
    (TOKEN, SECRET, EXPIRES_S - 1, TokenCheck(InviteStatus.VALID, INVITE_ID, EXPIRES_S)),
    (TOKEN, SECRET, 0, TokenCheck(InviteStatus.VALID, INVITE_ID, EXPIRES_S)),
    (TOKEN, SECRET, EXPIRES_S, TokenCheck(InviteStatus.EXPIRED, INVITE_ID, EXPIRES_S)),  # expires at that second
    (TOKEN, SECRET, EXPIRES_S + 86400, TokenCheck(InviteStatus.EXPIRED, INVITE_ID, EXPIRES_S)),
    (TOKEN, OTHER_SECRET, 0, TokenCheck(InviteStatus.FORGED)),  # another server's link
    (mint_token(OTHER_SECRET, INVITE_ID, EXPIRES_S), SECRET, 0, TokenCheck(InviteStatus.FORGED)),
    (TOKEN[:-1], SECRET, 0, TokenCheck(InviteStatus.FORGED)),  # cut short (a mail client's line break)
    (TOKEN + "A", SECRET, 0, TokenCheck(InviteStatus.FORGED)),
    (TOKEN[:-4] + "AAA=", SECRET, 0, TokenCheck(InviteStatus.FORGED)),  # padding is not in the alphabet
    (TOKEN.replace(TOKEN[10], "+" if TOKEN[10] != "+" else "/"), SECRET, 0, TokenCheck(InviteStatus.FORGED)),
    ("", SECRET, 0, TokenCheck(InviteStatus.FORGED)),
    ("é" * TOKEN_CHARS, SECRET, 0, TokenCheck(InviteStatus.FORGED)),
    # A later expiry, or another invite's id, without the secret: the MAC no longer fits.
    (_with_payload_byte(TOKEN, 24, 0xFF), SECRET, EXPIRES_S + 1, TokenCheck(InviteStatus.FORGED)),
    (_with_payload_byte(TOKEN, 1, 0x01), SECRET, 0, TokenCheck(InviteStatus.FORGED)),
], ids=["valid", "valid-at-0", "expired-at-expiry", "expired-a-day-later", "verified-with-another-secret",
        "minted-with-another-secret", "one-char-short", "one-char-long", "padded", "standard-base64-char",
        "empty", "non-ascii", "expiry-extended", "id-changed"])
def test_verify(token: str, secret: bytes, now_s: float, expected: TokenCheck) -> None:
    assert verify_token(secret, token, now_s) == expected


def test_a_well_signed_token_of_another_version_is_forged() -> None:
    """The version byte is under the MAC; a token of a future format is refused, not misread."""
    import hashlib
    import hmac

    payload = bytes([2]) + bytes.fromhex(INVITE_ID) + EXPIRES_S.to_bytes(8, "big")
    token = base64.urlsafe_b64encode(payload + hmac.new(SECRET, payload, hashlib.sha256).digest()).decode()
    assert verify_token(SECRET, token, 0) == TokenCheck(InviteStatus.FORGED)


def test_the_token_reveals_nothing_but_a_random_id_and_the_expiry() -> None:
    """Two invites for one candidate share nothing but their expiry: the id is random, not derived."""
    first = mint_token(SECRET, new_invite_id(bytes(16)), EXPIRES_S)
    second = mint_token(SECRET, new_invite_id(b"\x01" * 16), EXPIRES_S)
    assert base64.urlsafe_b64decode(first)[17:25] == base64.urlsafe_b64decode(second)[17:25]
    assert base64.urlsafe_b64decode(first)[1:17] != base64.urlsafe_b64decode(second)[1:17]


def test_secrets_and_ids_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        mint_token(SECRET[:16], INVITE_ID, EXPIRES_S)
    with pytest.raises(ValueError, match="32 bytes"):
        verify_token(b"", TOKEN, 0)
    with pytest.raises(ValueError, match="16 random bytes"):
        new_invite_id(bytes(8))


@settings(max_examples=400, deadline=None)
@given(st.integers(0, TOKEN_CHARS - 1), st.sampled_from(ALPHABET))
def test_any_one_character_changed_is_forged(position: int, character: str) -> None:
    mutated = TOKEN[:position] + character + TOKEN[position + 1:]
    expected = InviteStatus.VALID if mutated == TOKEN else InviteStatus.FORGED
    assert verify_token(SECRET, mutated, 0).status is expected


@settings(max_examples=300, deadline=None)
@given(st.integers(0, TOKEN_CHARS), st.integers(0, 3), st.text(ALPHABET, max_size=3))
def test_any_cut_or_insertion_is_forged(position: int, cut: int, inserted: str) -> None:
    mutated = TOKEN[:position] + inserted + TOKEN[position + cut:]
    expected = InviteStatus.VALID if mutated == TOKEN else InviteStatus.FORGED
    assert verify_token(SECRET, mutated, 0).status is expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_whatever_a_browser_sends_is_answered_without_raising(text: str) -> None:
    assert verify_token(SECRET, text, 0).status is InviteStatus.FORGED

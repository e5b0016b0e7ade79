"""The server's invite secret: 32 random bytes (hex, one line) in a 0600 file of the state directory, created on
first use (server/secret_file.py). It signs every link `homeshore invite` prints."""

from __future__ import annotations

from pathlib import Path

from homeshore.server.invite_token import SECRET_BYTES
from homeshore.server.secret_file import SecretFileError, kept_secret

__all__ = ["SECRET_FILE", "SecretFileError", "invite_secret"]

SECRET_FILE = "invite_secret"


def invite_secret(state_dir: Path) -> bytes:
    """The secret kept in state_dir (created there, with state_dir at 0700, on first use)."""
    return kept_secret(state_dir, SECRET_FILE, SECRET_BYTES, "every link it signed may be forged")

"""The server's invite secret: 32 random bytes (hex, one line) in a 0600 file, created on first use.

The file is created with O_EXCL at mode 0600 and linked into place, so it is never seen half-written or readable
by others, and when two first uses race (`homeshore invite` and the server) one wins and the other reads it.
A file others can read is refused rather than used or fixed: a secret that leaked mints links for anyone, so the
operator must replace it, not just chmod it (cli/secret_files.py refuses a password file the same way; it is not
reused here because it raises a CLI error, and the server reads this file too).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from homeshore.server.invite_token import SECRET_BYTES

SECRET_FILE = "invite_secret"


class SecretFileError(Exception):
    """The secret file cannot be used; the message is one line naming the file and what to do."""


def invite_secret(state_dir: Path) -> bytes:
    """The secret kept in state_dir (created there, with state_dir at 0700, on first use)."""
    path = state_dir / SECRET_FILE
    if not path.exists():
        _create(state_dir, path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretFileError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    if mode & 0o077:
        raise SecretFileError(f"{path} can be read by other users (mode {mode:04o}): every link it signed may "
                              "be forged; delete it (a new secret is made, old links stop working)")
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != SECRET_BYTES:
        raise SecretFileError(f"{path} does not hold {SECRET_BYTES} bytes in hex; delete it to make a new secret")
    return secret


def _create(state_dir: Path, path: Path) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = state_dir / f".{SECRET_FILE}.{secrets.token_hex(8)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_bytes(SECRET_BYTES).hex() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another first use won: its secret is the one
        finally:
            draft.unlink()
    except OSError as error:
        raise SecretFileError(f"cannot create {path}: {error.strerror}") from None

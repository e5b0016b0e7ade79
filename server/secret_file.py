"""A server secret (random bytes, hex, one line) in a 0600 file of the state directory, created on first use:
the invite secret (invite_secret.py) and the recruiters' token (recruiter_access.py).

The file is created with O_EXCL at mode 0600 and linked into place, so it is never seen half-written or readable
by others, and when two first uses race (`homeshore invite` and the server) one wins and the other reads it.
A file others can read is refused rather than used or fixed: a secret that leaked is the operator's to replace,
not just to chmod (cli/secret_files.py refuses a password file the same way; it is not reused here because it
raises a CLI error, and the server reads these files too).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class SecretFileError(Exception):
    """The secret file cannot be used; the message is one line naming the file and what to do."""


def kept_secret(state_dir: Path, name: str, size_bytes: int, if_leaked: str) -> bytes:
    """The `size_bytes` secret in state_dir/name (created there, with state_dir at 0700, on first use).
    `if_leaked` says, in the refusal of a file others can read, what someone who read it could do."""
    path = state_dir / name
    if not path.exists():
        _create(state_dir, path, size_bytes)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretFileError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    if mode & 0o077:
        raise SecretFileError(f"{path} can be read by other users (mode {mode:04o}): {if_leaked}; delete it "
                              "(a new secret is made, the old one stops working)")
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != size_bytes:
        raise SecretFileError(f"{path} does not hold {size_bytes} bytes in hex; delete it to make a new secret")
    return secret


def _create(state_dir: Path, path: Path, size_bytes: int) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = state_dir / f".{path.name}.{secrets.token_hex(8)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_bytes(size_bytes).hex() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another first use won: its secret is the one
        finally:
            draft.unlink()
    except OSError as error:
        raise SecretFileError(f"cannot create {path}: {error.strerror}") from None

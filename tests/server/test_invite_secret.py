"""The invite secret file: made once at 0600, the same secret after, refused when others can read it."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from homeshore.server.invite_secret import SECRET_FILE, SecretFileError, invite_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_makes_32_random_bytes_at_0600_and_keeps_them(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    secret = invite_secret(state_dir)
    assert len(secret) == 32
    assert _mode(state_dir) == 0o700 and _mode(state_dir / SECRET_FILE) == 0o600
    assert (state_dir / SECRET_FILE).read_text() == secret.hex() + "\n"
    assert invite_secret(state_dir) == secret
    assert invite_secret(tmp_path / "another") != secret
    assert sorted(p.name for p in state_dir.iterdir()) == [SECRET_FILE]  # no draft left behind


def test_racing_first_uses_all_get_the_one_secret(tmp_path: Path) -> None:
    barrier, found = threading.Barrier(8), []

    def first_use() -> None:
        barrier.wait()
        found.append(invite_secret(tmp_path))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 1
    assert bytes.fromhex((tmp_path / SECRET_FILE).read_text()) == found[0]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_secret_others_can_read_is_refused_in_one_line(tmp_path: Path, mode: int) -> None:
    invite_secret(tmp_path)
    os.chmod(tmp_path / SECRET_FILE, mode)
    with pytest.raises(SecretFileError) as raised:
        invite_secret(tmp_path)
    message = str(raised.value)
    assert f"mode {mode:04o}" in message and "delete it" in message and "\n" not in message
    assert (tmp_path / SECRET_FILE).exists()  # refused, not silently replaced


@pytest.mark.parametrize("content", ["", "not hex\n", "00" * 16 + "\n", "00" * 33 + "\n"])
def test_a_damaged_secret_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(SecretFileError, match="does not hold 32 bytes in hex"):
        invite_secret(tmp_path)


def test_a_state_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SecretFileError, match="cannot create"):
        invite_secret(tmp_path / "file" / "state")

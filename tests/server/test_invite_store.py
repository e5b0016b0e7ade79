"""The invite store: what it keeps (a district, a reference, never a postcode or an e-mail address) and how a
use is taken: atomically, so racing browsers never take more uses than the invite allows."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from homeshore.server.invite_store import Invite, InviteStore

NOW_S = 1_800_000_000


def _invite(invite_id: str = "ab" * 16, uses: int = 1, district: str | None = "NG5", reference: str = "R-42",
            expires_s: int = NOW_S + 3600) -> Invite:
    return Invite(invite_id, reference, district, NOW_S, expires_s, uses)


def test_an_invite_is_kept_as_given_in_a_0600_wal_file(tmp_path: Path) -> None:
    store = InviteStore(tmp_path / "invites.sqlite3")
    store.add(_invite(district="SW1A"))
    store.add(_invite("cd" * 16, uses=3, district=None, reference="2026/0042 #3"))
    assert store.get("ab" * 16) == _invite(district="SW1A")
    assert store.get("cd" * 16) == _invite("cd" * 16, uses=3, district=None, reference="2026/0042 #3")
    assert store.get("ef" * 16) is None
    assert stat.S_IMODE((tmp_path / "invites.sqlite3").stat().st_mode) == 0o600
    import sqlite3

    assert sqlite3.connect(tmp_path / "invites.sqlite3").execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("invite, message", [
    (_invite(district="NG5 1AB"), "not a postcode district"),
    (_invite(district="NG51AB"), "not a postcode district"),
    (_invite(district="ng5"), "not a postcode district"),  # stored as the district is written, upper case
    (_invite(reference="jane.doe@example.com"), "never a name or phone number"),
    (_invite(reference="+44 7700 900123"), "never a name or phone number"),
    (_invite(reference=""), "never a name or phone number"),
])
def test_a_postcode_or_a_contact_is_refused(tmp_path: Path, invite: Invite, message: str) -> None:
    store = InviteStore(tmp_path / "invites.sqlite3")
    with pytest.raises(ValueError, match=message):
        store.add(invite)
    assert store.get(invite.invite_id) is None


def test_uses_are_taken_one_at_a_time_until_none_is_left(tmp_path: Path) -> None:
    store = InviteStore(tmp_path / "invites.sqlite3")
    store.add(_invite(uses=2))
    assert store.take_use("ab" * 16, NOW_S) is True
    assert store.get("ab" * 16).uses_left == 1
    assert store.take_use("ab" * 16, NOW_S) is True
    assert store.take_use("ab" * 16, NOW_S) is False
    assert store.get("ab" * 16).uses_taken == 2 and store.get("ab" * 16).uses_left == 0
    assert store.take_use("ef" * 16, NOW_S) is False  # unknown


def test_no_use_is_taken_at_or_after_the_expiry(tmp_path: Path) -> None:
    store = InviteStore(tmp_path / "invites.sqlite3")
    store.add(_invite(uses=5, expires_s=NOW_S + 10))
    assert store.take_use("ab" * 16, NOW_S + 10) is False
    assert store.take_use("ab" * 16, NOW_S + 9.5) is True
    assert store.get("ab" * 16).uses_taken == 1


@pytest.mark.parametrize("uses, browsers", [(1, 12), (3, 12)])
def test_racing_browsers_take_exactly_the_uses_allowed(tmp_path: Path, uses: int, browsers: int) -> None:
    """Each browser on its own connection (as two server workers would be), all released at once."""
    path = tmp_path / "invites.sqlite3"
    InviteStore(path).add(_invite(uses=uses))
    barrier, taken = threading.Barrier(browsers), []

    def browser() -> None:
        store = InviteStore(path)
        barrier.wait()
        taken.append(store.take_use("ab" * 16, NOW_S))

    threads = [threading.Thread(target=browser) for _ in range(browsers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [False] * (browsers - uses) + [True] * uses
    assert InviteStore(path).get("ab" * 16).uses_taken == uses

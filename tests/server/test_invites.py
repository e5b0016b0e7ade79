"""Invites end to end on a real store: a link is checked without cost, a check takes a use, and a forged,
expired or used-up link is told apart (fixed clock, fixed secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeshore.server.invite_store import InviteStore
from homeshore.server.invite_token import InviteStatus, mint_token
from homeshore.server.invites import Invites
from tests.server.clock import START_S, Clock, clock  # noqa: F401 - clock is a fixture

SECRET = bytes(range(32))


@pytest.fixture
def invites(tmp_path: Path, clock: Clock) -> Invites:
    return Invites(SECRET, InviteStore(tmp_path / "invites.sqlite3"), clock)


def test_checking_a_link_takes_no_use_and_starting_a_check_takes_one(invites: Invites) -> None:
    token, invite = invites.create("R-42", "NG5", 3600, 2)
    assert (invite.reference, invite.district, invite.expires_s, invite.uses_allowed) == ("R-42", "NG5",
                                                                                           START_S + 3600, 2)
    for _ in range(5):
        assert invites.check(token).status is InviteStatus.VALID
    first = invites.start_check(token)
    assert first.status is InviteStatus.VALID and first.invite.uses_taken == 1
    assert invites.check(token).status is InviteStatus.VALID
    assert invites.start_check(token).invite.uses_taken == 2
    for call in (invites.check, invites.start_check):
        used_up = call(token)
        assert used_up.status is InviteStatus.USED_UP and used_up.invite.uses_taken == 2


def test_a_link_expires_at_its_second_and_no_check_starts_after(invites: Invites, clock: Clock) -> None:
    token, _ = invites.create("R-42", None, 600, 1)
    clock.now_s = START_S + 599.9
    assert invites.check(token).status is InviteStatus.VALID
    clock.now_s = START_S + 600
    assert invites.check(token).status is InviteStatus.EXPIRED
    expired = invites.start_check(token)
    assert expired.status is InviteStatus.EXPIRED and expired.invite.uses_taken == 0


def test_links_not_issued_by_this_server_are_forged(invites: Invites, tmp_path: Path, clock: Clock) -> None:
    token, invite = invites.create("R-42", None, 600, 1)
    other_server = Invites(bytes(32), InviteStore(tmp_path / "other.sqlite3"), clock)
    assert other_server.check(token).status is InviteStatus.FORGED
    # Signed with this secret, but for an id the store never issued (a store replaced since).
    unknown = mint_token(SECRET, "00" * 16, START_S + 600)
    for call in (invites.check, invites.start_check):
        assert call(unknown).status is InviteStatus.FORGED
        assert call(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")).status is InviteStatus.FORGED
    assert invites.check(token).invite.uses_taken == 0


def test_the_store_refuses_what_may_not_be_kept(invites: Invites) -> None:
    with pytest.raises(ValueError, match="postcode district"):
        invites.create("R-42", "NG5 1AB", 600, 1)

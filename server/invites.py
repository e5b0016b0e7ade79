"""Invites as the server and the `invite` command use them: the token (invite_token) joined to the store.

`check` answers what a link is worth without changing anything (showing a page takes no use); `start_check` is
what the candidate's page calls when a check really starts, and takes one use atomically. A well-signed token
whose id the store does not know (the store was replaced, or the invite deleted) is FORGED: it was not issued
by this server as it stands.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from homeshore.server.invite_store import Invite, InviteStore
from homeshore.server.invite_token import (INVITE_ID_BYTES, InviteStatus, mint_token, new_invite_id,
                                           verify_token)


@dataclass(frozen=True)
class InviteCheck:
    status: InviteStatus
    invite: Invite | None = None  # the stored invite, for VALID, EXPIRED and USED_UP


class Invites:
    def __init__(self, secret: bytes, store: InviteStore, clock: Callable[[], float] = time.time) -> None:
        self._secret, self._store, self._clock = secret, store, clock

    def create(self, reference: str, district: str | None, lifetime_s: int, uses: int) -> tuple[str, Invite]:
        """A new invite and its token; ValueError for a reference or district the store refuses."""
        now_s = int(self._clock())
        invite = Invite(new_invite_id(secrets.token_bytes(INVITE_ID_BYTES)), reference, district, now_s,
                        now_s + lifetime_s, uses)
        self._store.add(invite)
        return mint_token(self._secret, invite.invite_id, invite.expires_s), invite

    def check(self, token: str) -> InviteCheck:
        """What the link is worth now; takes no use."""
        return self._judge(token, take_use=False)

    def start_check(self, token: str) -> InviteCheck:
        """VALID, with one use taken, when a check may start on this link; otherwise why not (no use taken)."""
        return self._judge(token, take_use=True)

    def _judge(self, token: str, take_use: bool) -> InviteCheck:
        now_s = self._clock()
        verdict = verify_token(self._secret, token, now_s)
        if verdict.invite_id is None:
            return InviteCheck(verdict.status)
        invite = self._store.get(verdict.invite_id)
        if invite is None:
            return InviteCheck(InviteStatus.FORGED)
        if verdict.status is InviteStatus.EXPIRED:
            return InviteCheck(InviteStatus.EXPIRED, invite)
        if take_use:
            # The same now_s as the token's expiry test, so a refused use means none was left (another took it).
            taken = self._store.take_use(invite.invite_id, now_s)
            invite = self._store.get(invite.invite_id) or invite
            return InviteCheck(InviteStatus.VALID if taken else InviteStatus.USED_UP, invite)
        return InviteCheck(InviteStatus.VALID if invite.uses_left else InviteStatus.USED_UP, invite)

"""The book of browser checks in progress (pure: times are arguments): ids, expiry, one finish, and the limits
per home's address and in all."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone

from homeshore.server.browser_checks import CheckBook, new_check_id

NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)


def _open(book: CheckBook, invite_id: str, source: str = "192.0.2.7", proxied: bool = False, now_s: float = 0.0):
    return book.open(invite_id=invite_id, reference="R-1", district=None, proxied=proxied, source=source,
                     started_at=NOW, now_s=now_s)


def test_a_check_id_is_16_random_bytes_in_22_base64url_characters() -> None:
    assert new_check_id(bytes(range(16))) == base64.urlsafe_b64encode(bytes(range(16))).decode()[:22]
    assert new_check_id(b"\xff" * 16) == "_" * 21 + "w"  # 128 bits: the 22nd character carries 2 of them
    book = CheckBook()
    ids = {_open(book, f"{i:032x}").check_id for i in range(50)}
    assert len(ids) == 50 and all(re.fullmatch(r"[A-Za-z0-9_-]{22}", check_id) for check_id in ids)


def test_a_check_expires_and_finishes_once() -> None:
    book = CheckBook(lifetime_s=300.0)
    check = _open(book, "a" * 32, now_s=1000.0)
    assert book.busy("a" * 32, 1300.0) and book.get(check.check_id, 1300.0) is check
    assert book.get(check.check_id, 1300.001) is None and not book.busy("a" * 32, 1300.001)
    again = _open(book, "a" * 32, now_s=2000.0)
    assert book.close(again.check_id) is again and book.close(again.check_id) is None


def test_limits_per_address_and_in_all_but_not_behind_a_proxy() -> None:
    book = CheckBook(max_open=5, max_per_source=2)
    _open(book, "1" * 32)
    assert not book.crowded("192.0.2.7", 0.0)
    _open(book, "2" * 32)
    assert book.crowded("192.0.2.7", 0.0) and not book.crowded("192.0.2.8", 0.0)
    for i in range(3):  # a reverse proxy's checks all come from loopback: only the total counts them
        _open(book, f"{i + 3}" * 32, source="127.0.0.1", proxied=True)
    assert not book.crowded("127.0.0.1", 0.0) and book.full(0.0)

"""The book of browser checks in progress (pure: times are arguments): ids, expiry, one finish, the check of a
speed request's test id. (The limits on checks in progress are server/admission.py's: test_admission.py.)"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime, timezone

from homeshore.server.browser_checks import CheckBook, new_check_id

NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)


def _open(book: CheckBook, invite_id: str, proxied: bool = False, now_s: float = 0.0):
    return book.open(new_check_id(secrets.token_bytes(16)), invite_id=invite_id, reference="R-1", district=None,
                     proxied=proxied, started_at=NOW, now_s=now_s)


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


def test_a_speed_requests_test_id_names_its_check_while_it_is_in_progress() -> None:
    book = CheckBook(lifetime_s=300.0)
    first, second = _open(book, "1" * 32), _open(book, "2" * 32)
    assert book.by_test(second.test_id, 0.0) is second and book.by_test(first.test_id, 0.0) is first
    assert book.by_test("0123456789abcdef", 0.0) is None  # speedtest-cli's, or homeshore check's
    book.close(first.check_id)
    assert book.by_test(first.test_id, 0.0) is None and book.by_test(second.test_id, 300.001) is None

"""server/check_documents.py on a real directory: modes, atomic replacement, ids that are never paths, the list
newest first by the check's own time."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from homeshore.server.check_documents import (REPORTS_DIR, CheckDocumentError, StoredCheck, is_check_id,
                                              load_document, save_document, stored_checks)


def check_id(n: int) -> str:
    """A check id as the server makes them: 16 bytes, base64url, unpadded."""
    return base64.urlsafe_b64encode(bytes([n]) * 16).decode().rstrip("=")


def document(reference: str, time: str, area: str | None = "NG5", verdict: str = "PASS") -> dict:
    return {"verdict": verdict, "time": time, "candidate": reference, "area": area, "criteria": []}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_saved_document_reads_back_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    doc = document("R-2026/0042", "2026-12-06T04:40:00+00:00") | {"measurements": {"download_goodput_mbps": 31.25}}
    path = save_document(state, check_id(1), doc)
    assert path == state / REPORTS_DIR / f"{check_id(1)}.json"
    assert load_document(state, check_id(1)) == doc
    assert mode(state / REPORTS_DIR) == 0o700 and mode(path) == 0o600
    assert load_document(state, check_id(2)) is None  # never stored
    assert load_document(tmp_path / "nowhere", check_id(1)) is None


def test_saving_again_replaces_the_document_and_leaves_no_draft(tmp_path: Path) -> None:
    save_document(tmp_path, check_id(1), document("R-1", "2026-12-06T04:40:00+00:00", verdict="WARN"))
    save_document(tmp_path, check_id(1), document("R-1", "2026-12-06T04:40:00+00:00", verdict="FAIL"))
    assert load_document(tmp_path, check_id(1))["verdict"] == "FAIL"
    assert os.listdir(tmp_path / REPORTS_DIR) == [f"{check_id(1)}.json"]


@pytest.mark.parametrize("bad", ["", "../../invite_secret", "A" * 21, "A" * 23, "A" * 21 + "=", "A" * 21 + "/",
                                 "A" * 21 + ".", "A" * 21 + "\n", "A" * 22 + "\n", "Ä" * 22, "A" * 21 + "+"])
def test_an_id_of_the_wrong_form_is_never_a_path(tmp_path: Path, bad: str) -> None:
    assert not is_check_id(bad)
    with pytest.raises(ValueError, match="a check id is 22 characters"):
        save_document(tmp_path, bad, document("R-1", "2026-12-06T04:40:00+00:00"))
    assert not (tmp_path / REPORTS_DIR).exists()
    assert load_document(tmp_path, bad) is None


def test_the_id_alphabet_is_base64url() -> None:
    assert all(is_check_id(check_id(n)) for n in range(256))
    assert is_check_id("-_" * 11) and is_check_id("aZ09" * 5 + "xy")


def test_a_document_that_is_not_a_json_object_is_refused_and_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        save_document(tmp_path, check_id(1), ["not", "a", "document"])  # type: ignore[arg-type]
    save_document(tmp_path, check_id(2), document("R-2", "2026-12-06T04:40:00+00:00"))
    broken = tmp_path / REPORTS_DIR / f"{check_id(3)}.json"
    broken.write_text("{half a docum", encoding="utf-8")
    with pytest.raises(CheckDocumentError, match=f"{check_id(3)}.json does not hold"):
        load_document(tmp_path, check_id(3))
    (tmp_path / REPORTS_DIR / f"{check_id(4)}.json").write_text("[1, 2]", encoding="utf-8")
    checks, unreadable = stored_checks(tmp_path)
    assert [check.check_id for check in checks] == [check_id(2)] and unreadable == 2


def test_checks_are_listed_newest_first_by_their_own_time(tmp_path: Path) -> None:
    # Saved in another order than their times, so neither file order nor modification time gives the answer.
    plan = [(7, document("R-7", "2026-12-05T09:00:00+01:00", "LS6", "WARN")),
            (5, document("R-5", "2026-12-06T04:00:00+00:00", None, "FAIL")),
            (9, document("R-9", "2026-12-04T23:30:00", "SW1A", "PASS")),  # no offset: UTC
            (3, {"verdict": "PASS", "candidate": "R-3"})]  # no time: last
    for n, doc in plan:
        save_document(tmp_path, check_id(n), doc)
    (tmp_path / REPORTS_DIR / "notes.txt").write_text("an operator's file", encoding="utf-8")
    draft = f".{check_id(8)}.json.0123456789abcdef.tmp"  # as collector/private_files.py names them
    (tmp_path / REPORTS_DIR / draft).write_text("{}", encoding="utf-8")
    checks, unreadable = stored_checks(tmp_path)
    assert unreadable == 0
    assert checks == [
        StoredCheck(check_id(5), datetime(2026, 12, 6, 4, tzinfo=timezone.utc), "R-5", None, "FAIL"),
        StoredCheck(check_id(7), datetime(2026, 12, 5, 8, tzinfo=timezone.utc), "R-7", "LS6", "WARN"),
        StoredCheck(check_id(9), datetime(2026, 12, 4, 23, 30, tzinfo=timezone.utc), "R-9", "SW1A", "PASS"),
        StoredCheck(check_id(3), None, "R-3", None, "PASS"),
    ]
    assert json.loads((tmp_path / REPORTS_DIR / f"{check_id(7)}.json").read_text())["area"] == "LS6"


def test_no_directory_lists_nothing(tmp_path: Path) -> None:
    assert stored_checks(tmp_path) == ([], 0)


def test_a_reports_directory_others_could_read_is_tightened(tmp_path: Path) -> None:
    (tmp_path / REPORTS_DIR).mkdir(mode=0o755)
    os.chmod(tmp_path / REPORTS_DIR, 0o755)
    save_document(tmp_path, check_id(1), document("R-1", "2026-12-06T04:40:00+00:00"))
    assert mode(tmp_path / REPORTS_DIR) == 0o700

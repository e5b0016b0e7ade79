"""`GET /r/` and `GET /r/{check_id}` on a real aiohttp server on loopback, over documents stored with
server/check_documents.py: refused (401, both challenges, nothing of any candidate, counted) without the
recruiters' token or with a wrong one, whatever the path; with it (Bearer, or Basic's password) the list newest
first and each check's report, byte for byte the report `homeshore check --report` writes from that document."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path

import pytest

from homeshore.cli.check_report import CONTENT_SECURITY_POLICY, VERDICT_COLOURS, render_check_report
from homeshore.server.check_documents import REPORTS_DIR, save_document
from homeshore.server.recruiter_access import TOKEN_FILE, is_authorized, presented_token, recruiter_token
from tests.cli.test_check_report import document
from tests.conftest import require_tool, skip_or_fail
from tests.references.chromium import decode_png, dump_dom, render
from tests.server.test_candidate_pages import _serving  # serves any object with routes(), on a thread

IDS = {"PASS": "AAAAAAAAAAAAAAAAAAAAAA", "WARN": "BBBBBBBBBBBBBBBBBBBBBB", "FAIL": "-_-_-_-_-_-_-_-_-_-_-_"}
TIMES = {"PASS": "2026-12-04T10:40:00+00:00", "WARN": "2026-12-06T04:40:00+00:00",  # newest
         "FAIL": "2026-12-05T09:15:00+01:00"}
REFERENCES = {"PASS": "R-2026/0040", "WARN": "R-2026/0042", "FAIL": "R-2026/0041"}
UNKNOWN = "ZZZZZZZZZZZZZZZZZZZZZZ"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    for verdict, check_id in IDS.items():
        save_document(tmp_path, check_id, document(verdict) | {"time": TIMES[verdict],
                                                               "candidate": REFERENCES[verdict]})
    return tmp_path


@pytest.fixture
def pages(state_dir: Path):
    try:
        from homeshore.server.recruiter_pages import RecruiterPages
    except ImportError:
        skip_or_fail("aiohttp is not installed (pip install 'homeshore[server]')")
    return RecruiterPages(state_dir, recruiter_token(state_dir))


async def _fetch_all(pages, requests: list[tuple[str, dict[str, str]]]) -> list[tuple[int, object, str]]:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    app = web.Application()
    app.add_routes(pages.routes())
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        replies = []
        for path, headers in requests:
            async with client.get(path, headers=headers) as response:
                replies.append((response.status, response.headers, await response.text()))
        return replies


def fetch(pages, *requests: tuple[str, dict[str, str]]) -> list[tuple[int, object, str]]:
    return asyncio.run(_fetch_all(pages, list(requests)))


def test_without_the_token_nothing_is_shown_and_each_refusal_is_counted(pages, state_dir: Path) -> None:
    token = (state_dir / TOKEN_FILE).read_text().strip()
    wrong = token[:-1] + ("0" if token[-1] != "0" else "1")
    refused = [{}, {"Authorization": f"Bearer {wrong}"}, {"Authorization": basic("recruiter", wrong)},
               {"Authorization": f"Basic {token}"},  # the token where Basic's base64 belongs
               {"Authorization": basic(token, "")},  # the token as the user name
               {"Authorization": f"Token {token}"}, {"Authorization": "Bearer"}, {"Authorization": "Basic %%%"},
               {"Authorization": f"Bearer {token[:32]}"}]  # half of it
    paths = ["/r/", "/r", f"/r/{IDS['FAIL']}", f"/r/{UNKNOWN}", "/r/..%2Finvite_secret"]
    replies = fetch(pages, *[(path, headers) for path in paths for headers in refused])
    for status, headers, body in replies:
        assert status == 401
        assert headers.getall("WWW-Authenticate") == ['Basic realm="homeshore recruiters", charset="UTF-8"',
                                                      'Bearer realm="homeshore recruiters"']
        assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
        assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert body == "Sign in with the recruiters' token: homeshore serve prints the file that holds it.\n"
    assert pages.counters.unauthorized == len(paths) * len(refused)
    assert (pages.counters.lists, pages.counters.reports, pages.counters.not_found) == (0, 0, 0)


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_with_the_token_the_list_is_newest_first_and_links_each_report(pages, state_dir: Path, scheme: str) -> None:
    token = (state_dir / TOKEN_FILE).read_text().strip()
    authorization = {"bearer": f"Bearer {token}", "basic": basic("anyone", token)}[scheme]
    ((status, headers, body),) = fetch(pages, ("/r/", {"Authorization": authorization}))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    rows = re.findall(r'<tr><td><a href="/r/([^"]+)">([^<]+)</a></td><td>([^<]+)</td><td>([^<]+)</td>'
                      r'<td[^>]*>([^<]+)</td></tr>', body)
    assert rows == [(IDS["WARN"], "R-2026/0042", "2026-12-06 04:40", "NG5", "WARN"),
                    (IDS["FAIL"], "R-2026/0041", "2026-12-05 08:15", "NG5", "FAIL"),
                    (IDS["PASS"], "R-2026/0040", "2026-12-04 10:40", "NG5", "PASS")]
    assert "<script" not in body.lower() and "src=" not in body
    assert pages.counters.lists == 1 and pages.counters.unauthorized == 0


def test_each_report_is_the_check_report_of_its_document(pages, state_dir: Path) -> None:
    token = (state_dir / TOKEN_FILE).read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    replies = fetch(pages, *[(f"/r/{check_id}", auth) for check_id in IDS.values()],
                    (f"/r/{UNKNOWN}", auth), ("/r/not-an-id", auth), ("/r/..%2F..%2Finvite_secret", auth))
    for verdict, (status, headers, body) in zip(IDS, replies):
        assert status == 200
        stored = document(verdict) | {"time": TIMES[verdict], "candidate": REFERENCES[verdict]}
        assert body == render_check_report(stored)
        assert headers["Content-Security-Policy"] == f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'"
        assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] == "nosniff"
    assert [status for status, _, _ in replies[3:]] == [404, 404, 404]
    assert {headers["Content-Security-Policy"] for _, headers, _ in replies[3:]} == {
        "default-src 'none'; frame-ancestors 'none'"}
    assert all(REFERENCES["PASS"] not in body for _, _, body in replies[3:])
    counters = pages.counters
    assert (counters.reports, counters.not_found, counters.unauthorized) == (3, 3, 0)


def test_a_damaged_document_is_a_500_and_counted(pages, state_dir: Path) -> None:
    (state_dir / REPORTS_DIR / f"{UNKNOWN}.json").write_text("{not json", encoding="utf-8")
    token = (state_dir / TOKEN_FILE).read_text().strip()
    (status, _, body), (list_status, _, listing) = fetch(pages, (f"/r/{UNKNOWN}", {"Authorization": f"Bearer {token}"}),
                                                         ("/r/", {"Authorization": f"Bearer {token}"}))
    assert status == 500 and body == "this check's stored result cannot be read\n"
    assert list_status == 200 and "<p>1 stored check(s) could not be read.</p>" in listing
    assert pages.counters.unreadable == 1


def test_the_token_file_is_made_once_at_0600(tmp_path: Path) -> None:
    token = recruiter_token(tmp_path / "state")
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert (tmp_path / "state" / TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    assert recruiter_token(tmp_path / "state") == token != recruiter_token(tmp_path / "other")


@pytest.mark.parametrize("header, presented", [
    (None, None), ("", None), ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Bearer", None),
    (basic("u", "p:q"), "p:q"), (basic("", "abc"), "abc"), ("Basic " + base64.b64encode(b"nocolon").decode(), None),
    ("Basic !!", None), ("Basic " + base64.b64encode(b"u:\xff").decode(), None), ("Digest abc", None),
])
def test_what_a_header_presents(header: str | None, presented: str | None) -> None:
    assert presented_token(header) == presented
    assert is_authorized(header, "abc") is (presented == "abc")


def test_chromium_shows_the_report_to_the_token(pages, state_dir: Path, tmp_path: Path) -> None:
    """The token as Basic's password in the URL (what the browser's sign-in prompt sends): the FAIL check's report,
    its banner in the verdict's colour (the inline style allowed by the header's policy) and no request but the
    page. (Without the token headless Chromium, which has no prompt, fails the load: ERR_INVALID_AUTH_CREDENTIALS;
    the refusal itself is read above.)"""
    chromium = require_tool("chromium")
    token = (state_dir / TOKEN_FILE).read_text().strip()
    with _serving(pages) as port:
        signed_in = f"http://recruiter:{token}@127.0.0.1:{port}/r/{IDS['FAIL']}"
        rendering = render(chromium, signed_in, tmp_path / "report")
        dom = dump_dom(chromium, signed_in, tmp_path / "dom")
    image = decode_png(rendering.screenshot.read_bytes(), max_rows=110)
    background = tuple(int(VERDICT_COLOURS["FAIL"][0][i:i + 2], 16) for i in (1, 3, 5))
    assert image.dominant(0, 0, 1200, 110) == background
    assert {url.split("@")[-1] for url in rendering.page_requests} <= {f"127.0.0.1:{port}/r/{IDS['FAIL']}",
                                                                      f"127.0.0.1:{port}/favicon.ico"}
    assert REFERENCES["FAIL"] in dom and "<script" not in dom
    assert pages.counters.reports == 2

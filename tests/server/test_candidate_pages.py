"""`GET /c/{token}` on a real aiohttp server on loopback: a forged, expired or used-up link gets a plain page
saying which (403/410) and is counted; a valid link gets the check's page and takes no use. The page as
headless Chromium shows it, at desktop width and at 390 px: its text, its style (allowed by the policy's hash,
which Chromium enforces), nothing wider than the screen, and no request but the page itself."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from homeshore.server.invite_store import InviteStore
from homeshore.server.invite_token import InviteStatus
from homeshore.server.invites import Invites
from tests.conftest import require_tool, skip_or_fail
from tests.references.chromium import decode_png, dump_dom, render
from tests.server.clock import START_S, Clock, clock  # noqa: F401 - clock is a fixture

SECRET = bytes(range(32))
PURPLE, GREEN, WHITE = (0x5A, 0x2D, 0x82), (0x1F, 0x6F, 0x43), (0xFF, 0xFF, 0xFF)  # candidate_page_html.STYLE


@pytest.fixture
def pages(tmp_path: Path, clock: Clock):
    try:
        from homeshore.server.candidate_pages import CandidatePages
    except ImportError:
        skip_or_fail("aiohttp is not installed (pip install 'homeshore[server]')")
    return CandidatePages(Invites(SECRET, InviteStore(tmp_path / "invites.sqlite3"), clock))


@pytest.fixture
def links(pages, clock: Clock) -> dict[InviteStatus, str]:
    """One link of each kind (the clock left at START_S)."""
    invites = pages.invites
    valid, _ = invites.create("R-1", "NG5", 3600, 1)
    used_up, _ = invites.create("R-2", None, 3600, 1)
    assert invites.start_check(used_up).status is InviteStatus.VALID
    clock.now_s = START_S - 7200  # an invite made two hours ago, for one hour
    expired, _ = invites.create("R-3", None, 3600, 1)
    clock.now_s = START_S
    forged = valid[:40] + ("A" if valid[40] != "A" else "B") + valid[41:]
    return {InviteStatus.VALID: valid, InviteStatus.USED_UP: used_up, InviteStatus.EXPIRED: expired,
            InviteStatus.FORGED: forged}


def _app(pages):
    from aiohttp import web

    app = web.Application()
    app.add_routes(pages.routes())
    return app


async def _fetch_all(pages, paths: list[str]) -> list[tuple[int, dict[str, str], str]]:
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(_app(pages), host="127.0.0.1", port=0)) as client:
        replies = []
        for path in paths:
            async with client.get(path) as response:
                replies.append((response.status, dict(response.headers), await response.text()))
        return replies


EXPECTED = [  # status, HTTP status, heading
    (InviteStatus.FORGED, 403, "This link is not valid"),
    (InviteStatus.EXPIRED, 410, "This link has expired"),
    (InviteStatus.USED_UP, 410, "This link has already been used"),
    (InviteStatus.VALID, 200, "Your connection check"),
]


def test_each_link_gets_its_page_and_status_and_is_counted(pages, links) -> None:
    paths = [f"/c/{links[status]}" for status, _, _ in EXPECTED] + [f"/c/{links[InviteStatus.VALID]}",
                                                                     "/c/x", "/c/" + "A" * 2000]
    replies = asyncio.run(_fetch_all(pages, paths))
    for (status, http_status, heading), (got_status, headers, body) in zip(EXPECTED, replies):
        assert got_status == http_status, status
        opening = '<h1 class="ok">' if status is InviteStatus.VALID else "<h1>"
        assert f"{opening}{heading}</h1>" in body
        assert ("measured yet" if status is InviteStatus.VALID else "measured.") in body
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
        assert body.lower().count("<script>") == (status is InviteStatus.VALID)  # the check's own, inline
        assert "src=" not in body and "href=" not in body
    assert [status for status, _, _ in replies[4:]] == [200, 403, 403]
    counters = pages.counters
    assert (counters.valid, counters.forged, counters.expired, counters.used_up) == (2, 3, 1, 1)
    # Showing the page twice took no use: the candidate's check still can start.
    assert pages.invites.check(links[InviteStatus.VALID]).invite.uses_taken == 0


def test_the_policy_allows_the_pages_own_style_and_nothing_else(pages, links) -> None:
    """The style-src hash is checked here against the served <style> text (CSP Level 2 section 4.2.3)."""
    ((_, headers, body),) = asyncio.run(_fetch_all(pages, [f"/c/{links[InviteStatus.EXPIRED]}"]))
    policy = headers["Content-Security-Policy"]
    style = re.search(r"<style>(.*?)</style>", body, re.S)[1]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy == (f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; "
                      "form-action 'none'; frame-ancestors 'none'")
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', body)[1]
    assert meta.replace("&#x27;", "'") == policy.removesuffix("; frame-ancestors 'none'")
    assert body.count("<style>") == 1 and ' style="' not in body


def test_the_check_pages_policy_allows_its_script_and_style_and_requests_to_itself_only(pages, links) -> None:
    ((_, headers, body),) = asyncio.run(_fetch_all(pages, [f"/c/{links[InviteStatus.VALID]}"]))
    policy = headers["Content-Security-Policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", body, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", body, re.S)
    digests = [base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() for text in (script, style)]
    assert policy == (f"default-src 'none'; script-src 'sha256-{digests[0]}'; style-src 'sha256-{digests[1]}'; "
                      "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', body)[1]
    assert meta.replace("&#x27;", "'") == policy.removesuffix("; frame-ancestors 'none'")
    assert not re.search(r"<[^>]* on[a-z]+=", body)  # no inline handlers: the policy would block them


def test_start_check_takes_the_use_a_page_view_does_not(pages, links) -> None:
    token = links[InviteStatus.VALID]
    asyncio.run(_fetch_all(pages, [f"/c/{token}"] * 3))
    assert pages.invites.start_check(token).status is InviteStatus.VALID
    ((status, _, body),) = asyncio.run(_fetch_all(pages, [f"/c/{token}"]))
    assert status == 410 and "This link has already been used" in body
    assert pages.counters.valid == 3 and pages.counters.used_up == 1


@contextmanager
def _serving(pages) -> Iterator[int]:
    """The pages on 127.0.0.1 on a free port, served from a thread of their own while a browser loads them."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app(pages))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.mark.parametrize("status, colour", [(InviteStatus.EXPIRED, PURPLE), (InviteStatus.FORGED, PURPLE),
                                            (InviteStatus.VALID, GREEN)])
@pytest.mark.parametrize("width, height", [(1200, 900), (390, 844)])
def test_chromium_shows_the_page_styled_and_within_the_screen(pages, links, tmp_path: Path, status: InviteStatus,
                                                              colour: tuple[int, int, int], width: int,
                                                              height: int) -> None:
    chromium = require_tool("chromium")
    heading = next(text for kind, _, text in EXPECTED if kind is status)
    with _serving(pages) as port:
        url = f"http://127.0.0.1:{port}/c/{links[status]}"
        dom = dump_dom(chromium, url, tmp_path / "dom", width=width, height=height)
        rendering = render(chromium, url, tmp_path / "shot", width=width, height=height)
    assert f">{heading}</h1>" in dom
    # A refusal runs nothing; the check's page runs its one script, allowed by its hash, and waits for Start.
    assert dom.count("<script") == (1 if status is InviteStatus.VALID else 0)
    if status is InviteStatus.VALID:
        assert '<button id="start" type="button">Start the check</button>' in dom
    assert set(rendering.page_requests) <= {url, f"http://127.0.0.1:{port}/favicon.ico"}
    image = decode_png(rendering.screenshot.read_bytes())
    assert image.width == width
    # The heading's band is drawn in its colour: the inline style ran, so Chromium accepted the policy's hash.
    assert image.colours(0, 0, width, height // 2)[colour] > 2000
    # Nothing runs off the right edge of a phone: the last 8 px columns are page background all the way down.
    assert set(image.colours(width - 8, 0, width, image.height)) == {WHITE}
    assert pages.invites.check(links[InviteStatus.VALID]).invite.uses_taken == 0


def test_the_calls_script_when_given_comes_first_and_is_allowed_by_its_own_hash() -> None:
    """server/call_script.py's CALL_JS (defining window.homeshoreCall) is a second script block, before the
    page's own, so the page finds the call when Start is pressed; each is allowed by its SHA-256 and no more."""
    from homeshore.server.candidate_page_html import page_html, page_policy
    from homeshore.server.candidate_page_script import SCRIPT

    call_js = "window.homeshoreCall = async function (url, options) { return null; };"
    body = page_html(InviteStatus.VALID, call_js)
    assert re.findall(r"<script>(.*?)</script>", body, re.S) == [call_js, SCRIPT]
    digests = [base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() for text in (call_js, SCRIPT)]
    assert f"script-src 'sha256-{digests[0]}' 'sha256-{digests[1]}';" in page_policy(InviteStatus.VALID, call_js)
    assert "<script" not in page_html(InviteStatus.EXPIRED, call_js)
    assert "script-src" not in page_policy(InviteStatus.EXPIRED, call_js)

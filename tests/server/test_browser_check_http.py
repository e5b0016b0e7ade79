"""The browser check's HTTP side on a real aiohttp server (aiohttp's test client): a start takes exactly one use
of a valid link and refuses every other as the page does, measuring nothing; a finish is judged, stored in the
spool as a `readiness` row with source "browser" (read back with planning/spool_read.py, as `homeshore
candidates` reads it) and written whole to reports/ (0600); bad input gets 400 and one line, counted."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from pathlib import Path

import pytest

from homeshore.server.invite_store import InviteStore
from homeshore.server.invite_token import InviteStatus
from homeshore.server.invites import Invites
from tests.conftest import skip_or_fail
from tests.server.clock import START_S, Clock, clock  # noqa: F401 - clock is a fixture

SECRET = bytes(range(32))
FIGURES = {"rtt_idle_ms": [20.0, 21.0, 22.0], "rtt_download_ms": [80.0, 90.0, 100.0], "rtt_upload_ms": [30.0],
           "download_mbps": 7.5, "upload_mbps": 1.9, "download_bytes": 8_000_000, "upload_bytes": 2_000_000,
           "connection_type": "wifi", "effective_type": "4g", "duration_s": 19.5}


@pytest.fixture
def checks(tmp_path: Path, clock: Clock):
    try:
        from homeshore.server.browser_check_http import BrowserCheckHttp
    except ImportError:
        skip_or_fail("aiohttp is not installed (pip install 'homeshore[server]')")
    return BrowserCheckHttp(Invites(SECRET, InviteStore(tmp_path / "invites.sqlite3"), clock), tmp_path)


def _links(checks, clock: Clock) -> dict[InviteStatus, str]:
    invites = checks.invites
    valid, _ = invites.create("R-1", "NG5", 3600, 1)
    used_up, _ = invites.create("R-2", None, 3600, 1)
    assert invites.start_check(used_up).status is InviteStatus.VALID
    clock.now_s = START_S - 7200
    expired, _ = invites.create("R-3", None, 3600, 1)
    clock.now_s = START_S
    forged = valid[:40] + ("A" if valid[40] != "A" else "B") + valid[41:]
    return {InviteStatus.VALID: valid, InviteStatus.USED_UP: used_up, InviteStatus.EXPIRED: expired,
            InviteStatus.FORGED: forged}


async def _posts(checks, requests: list[tuple[str, bytes]]) -> list[tuple[int, dict]]:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    app = web.Application()
    app.add_routes(checks.routes())
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        replies = []
        for path, body, *kind in requests:
            headers = {"Content-Type": kind[0] if kind else "application/json"}
            if callable(path):  # a path made from an earlier reply
                path = path(replies)
            async with client.post(path, data=body, headers=headers) as response:
                replies.append((response.status, await response.json()))
        return replies


def posts(checks, *requests) -> list[tuple[int, dict]]:
    return asyncio.run(_posts(checks, list(requests)))


def test_a_start_takes_one_use_and_names_the_check(checks, clock) -> None:
    token = _links(checks, clock)[InviteStatus.VALID]
    ((status, reply),) = posts(checks, (f"/c/{token}/start", b""))
    assert status == 200
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", reply["check_id"]) and re.fullmatch(r"[0-9a-f]{32}", reply["test_id"])
    assert reply["plan"] == {"idle_s": 2.0, "download_s": 8.0, "upload_s": 8.0, "call_s": 20.0}
    assert checks.invites.check(token).invite.uses_taken == 1
    assert checks.counters.started == 1


@pytest.mark.parametrize("status, http_status, title", [
    (InviteStatus.FORGED, 403, "This link is not valid"), (InviteStatus.EXPIRED, 410, "This link has expired"),
    (InviteStatus.USED_UP, 410, "This link has already been used")])
def test_a_bad_link_starts_nothing(checks, clock, status, http_status, title) -> None:
    links = _links(checks, clock)
    ((got, reply),) = posts(checks, (f"/c/{links[status]}/start", b""))
    assert got == http_status and reply["error"].startswith(title) and "\n" not in reply["error"]
    assert len(checks.book) == 0 and checks.counters.refused == 1 and checks.counters.started == 0
    for invite in (links[InviteStatus.VALID],):
        assert checks.invites.check(invite).invite.uses_taken == 0


def test_a_second_start_while_one_runs_is_refused_without_taking_a_use(checks) -> None:
    token, _ = checks.invites.create("R-9", None, 3600, 3)
    (first, second) = posts(checks, (f"/c/{token}/start", b""), (f"/c/{token}/start", b""))
    assert first[0] == 200 and second[0] == 409 and "already running" in second[1]["error"]
    assert checks.invites.check(token).invite.uses_taken == 1 and checks.counters.busy == 1


def _finish(replies) -> str:
    return f"/check/{replies[0][1]['check_id']}/finish"


def test_a_finish_is_judged_stored_and_written_once(checks, clock, tmp_path: Path) -> None:
    from homeshore.planning.candidates_source import spool_checks

    token = _links(checks, clock)[InviteStatus.VALID]
    started, finished, again = posts(checks, (f"/c/{token}/start", b""), (_finish, json.dumps(FIGURES).encode()),
                                     (_finish, json.dumps(FIGURES).encode()))
    assert finished[0] == 200, finished
    reply = finished[1]
    # The test client comes from loopback, as a reverse proxy on the server's machine would: the server's counts
    # are the proxy's, so the browser's are used, and the reply says so. No call ran: jitter and loss are not
    # measured, and the verdict says so. 7.5 Mbit/s of download goodput is a line rate below the policy's 8: FAIL.
    assert reply["verdict"] == "FAIL" and reply["figures"]["download_mbps"] == 7.5
    assert reply["figures"]["counted_by"] == {"download": "browser", "upload": "browser"}
    assert reply["figures"]["server_saw"] == "proxy"
    assert reply["figures"]["idle_rtt_ms"] == 21.0 and reply["figures"]["loaded_rtt_download_ms"] == 90.0
    assert reply["bufferbloat_grade"] == "C"  # 69 ms more under load: C from 60 to 200 (planning/bufferbloat.py)
    assert reply["fixes"][0]["status"] == "FAIL" and reply["fixes"][0]["criterion"] == "Download"
    assert any("synthetic call" in text for text in reply["not_measured"])
    assert {fix["criterion"] for fix in reply["fixes"]} >= {"Download", "Jitter", "Packet loss"}
    assert again[0] == 400 and "no such check" in again[1]["error"]
    (row,), unreadable = spool_checks(tmp_path / "spool.sqlite3", 0)
    assert unreadable == 0
    assert (row.reference, row.area, row.verdict, row.source) == ("R-1", "NG5", "FAIL", "browser")
    report = tmp_path / "reports" / f"{started[1]['check_id']}.json"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    document = json.loads(report.read_text())
    assert document["verdict"] == "FAIL" and document["candidate"] == "R-1" and document["host"]["conn"] == "wifi"
    assert document["measurements"]["upload_counted_at"] == "sender"
    assert checks.counters.finished == 1 and checks.counters.bad_finish == 1


BAD = [
    (b"{not json", "the figures are not JSON"),
    (b"[1, 2]", "the figures must be a JSON object"),
    (json.dumps(dict(FIGURES, download_mbps=-1)).encode(), "download_mbps must be a number from 0 to 100000"),
    (json.dumps(dict(FIGURES, rtt_idle_ms=[1.0, 1e9])).encode(), "rtt_idle_ms[1] must be a number from 0 to 60000"),
    (json.dumps(dict(FIGURES, download_bytes=1.5)).encode(), "download_bytes must be a whole number"),
    (json.dumps(dict(FIGURES, connection_type="5g-ultra")).encode(), "connection_type must be one of"),
    (json.dumps(dict(FIGURES, user_agent="x")).encode(), "unknown figure 'user_agent'"),
    (b"{" + b" " * 70_000 + b"}", "the figures are larger than 65536 bytes"),
]


@pytest.mark.parametrize("body, reason", BAD, ids=[reason.split()[0] + str(i) for i, (_, reason) in enumerate(BAD)])
def test_bad_figures_get_400_and_one_line_and_leave_the_check_open(checks, clock, body, reason) -> None:
    token = _links(checks, clock)[InviteStatus.VALID]
    _, (status, reply) = posts(checks, (f"/c/{token}/start", b""), (_finish, body))
    assert status == 400 and reply["error"].startswith(reason) and "\n" not in reply["error"]
    assert checks.counters.bad_finish == 1 and checks.counters.finished == 0 and len(checks.book) == 1


@pytest.mark.parametrize("path", ["/check/AAAAAAAAAAAAAAAAAAAAAA/finish", "/check/short/finish"])
def test_an_unknown_check_gets_400(checks, path) -> None:
    ((status, reply),) = posts(checks, (path, json.dumps(FIGURES).encode()))
    assert status == 400 and reply["error"] in ("not a check id",
                                                "no such check in progress (unknown, finished or expired)")
    assert checks.counters.bad_finish == 1


def test_an_expired_check_finishes_nothing(checks, clock) -> None:
    from homeshore.server.browser_checks import CheckBook

    checks.book = CheckBook(lifetime_s=0.0)  # expired by the time of any later request
    token = _links(checks, clock)[InviteStatus.VALID]
    _, (status, reply) = posts(checks, (f"/c/{token}/start", b""), (_finish, json.dumps(FIGURES).encode()))
    assert status == 400 and "expired" in reply["error"] and checks.counters.finished == 0


def test_the_calls_figures_come_from_the_provider_and_are_judged(checks, clock) -> None:
    """The WebRTC peer's scored call (server/webrtc_call.py, wired by the serve application) reaches the verdict
    through call_result; here a provider that has one for exactly this check."""
    from homeshore.server.browser_check_document import CallFigures

    asked: list[str] = []
    call = CallFigures(seconds=20, packets_sent=1000, packets_received=970, loss_pct=3.0, burst_loss_pct=1.0,
                       rtt_ms=20.0, jitter_ms=4.0, r_factor=80.0, mos=3.9)

    async def call_result(check_id: str) -> CallFigures | None:
        asked.append(check_id)
        return call

    checks.call_result = call_result
    token = _links(checks, clock)[InviteStatus.VALID]
    started, (status, reply) = posts(checks, (f"/c/{token}/start", b""), (_finish, json.dumps(FIGURES).encode()))
    assert status == 200 and asked == [started[1]["check_id"]]
    assert reply["figures"]["jitter_ms"] == 4.0 and reply["figures"]["loss_pct"] == 3.0
    assert not any("synthetic call" in text for text in reply["not_measured"])
    loss = next(fix for fix in reply["fixes"] if fix["criterion"] == "Packet loss")
    assert loss["status"] == "FAIL" and "3" in loss["advice"]  # 3 % against the policy's 1 %


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_post_another_site_could_send_unasked_is_refused_and_takes_no_use(checks, clock, kind) -> None:
    """A form or text POST needs no CORS preflight, so another site's page could send one: refused, no use."""
    token = _links(checks, clock)[InviteStatus.VALID]
    ((status, reply),) = posts(checks, (f"/c/{token}/start", b"", kind))
    assert status == 400 and reply["error"] == "the request must carry Content-Type: application/json"
    assert checks.invites.check(token).invite.uses_taken == 0 and len(checks.book) == 0
    started, (status, reply) = posts(checks, (f"/c/{token}/start", b""),
                                     (_finish, json.dumps(FIGURES).encode(), kind))
    assert started[0] == 200 and status == 400 and len(checks.book) == 1 and checks.counters.finished == 0


async def _download_beyond_the_budget(checks, token: str) -> tuple[list[int], object]:
    """Start a check on a real speed server (server/speed_http.py, routes as serve() mounts them), then ask for
    random4000x4000.jpg (31,625,536 bytes) under its test id twice, and once under a test id of no check."""
    import socket

    from aiohttp import ClientSession

    from homeshore.server import speed_http
    from homeshore.server.sockets import bound_socket

    sock = bound_socket("127.0.0.1", 0, socket.SOCK_STREAM)
    http = await speed_http.start_speed_http(sock, udp_port=9, routes=checks.routes())
    http.state.charge_test = checks.charge
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    statuses = []
    try:
        async with ClientSession() as session:
            async with session.post(f"{base}/c/{token}/start", json={}) as response:
                test_id = (await response.json())["test_id"]
            for test in (test_id, test_id, "0123456789abcdef"):
                async with session.get(f"{base}/speedtest/random4000x4000.jpg?test={test}") as response:
                    await response.read()
                    statuses.append(response.status)
    finally:
        await http.stop()
        sock.close()
    return statuses, http.state.counters


def test_a_checks_speed_requests_stop_at_its_byte_budget(tmp_path: Path, clock: Clock) -> None:
    """40 MB allowed: the first 31.6-MB download is served, the second would pass the budget and gets 413, counted
    by the admission and the speed server; a test id of no browser check (speedtest-cli's) is not held to it."""
    from homeshore.server.admission import Admission, AdmissionLimits
    from homeshore.server.browser_check_http import BrowserCheckHttp

    checks = BrowserCheckHttp(Invites(SECRET, InviteStore(tmp_path / "invites.sqlite3"), clock), tmp_path,
                              admission=Admission(AdmissionLimits(bytes_per_check=40_000_000)))
    token, _ = checks.invites.create("R-9", "NG5", 3600, 1)
    statuses, speed = asyncio.run(_download_beyond_the_budget(checks, token))
    assert statuses == [200, 413, 200]
    assert checks.admission.counters.refused_bytes == 1 and checks.admission.counters.admitted == 1
    assert (speed.too_large, speed.downloads) == (1, 2)

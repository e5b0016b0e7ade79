"""The browser check's HTTP side (aiohttp handlers; the serve application mounts them beside the candidate page):

    POST /c/{token}/start          takes one use of the invite and opens a check (server/browser_checks.py):
                                   {"check_id", "test_id", "plan"}; a forged, expired or used-up link gets the
                                   page's refusal (403/410, {"error": one line}) and nothing is measured; 409 when
                                   the link has a check in progress, 429 when the home's address has too
                                   many (server/browser_checks.py), 503 when the server has
    POST /check/{check_id}/finish  the page's figures (server/browser_figures.py) -> the server's own counts ->
                                   the verdict of `homeshore check` (server/browser_check_document.py); stored as
                                   a CLI check is (spool in the state directory, `readiness` with source
                                   "browser"), the whole document in reports/ (server/check_documents.py); replies
                                   what the page shows. Bad input: 400 and one line, counted.

The speeds come from the speed endpoints' receipts (`speed_state`, set once the speed server runs), the call's
figures from `call_result` (the WebRTC peer's scored call; None: the call is not run, and the verdict says so).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

from homeshore import __version__
from homeshore.planning.policy import Policy
from homeshore.planning.readiness import DEFAULT_POLICY
from homeshore.planning.verdict import CRITERION_LABELS
from homeshore.server.admission import Admission, Refusal
from homeshore.server.browser_check_document import (CALL_DID_NOT_RUN, CALL_NOT_RUN, BrowserCheckInput,
                                                     CallFigures, ServerCount, browser_document, verdict_reply)
from homeshore.server.browser_checks import CHECK_ID_BYTES, CheckBook, CheckPlan, new_check_id
from homeshore.server.browser_figures import MAX_BODY_BYTES, BadFigures, parse_figures
from homeshore.server.candidate_page_html import HEADLINES, PAGES
from homeshore.server.candidate_pages import HEADERS
from homeshore.server.download_count import measured_kind
from homeshore.server.invite_token import InviteStatus
from homeshore.server.invites import Invites

_BUSY = {
    Refusal.PER_SOURCE: "too many checks are running from your network just now: please try again later",
    Refusal.TOTAL: "the server is running too many checks just now: please try again in a minute",
}
CallResult = Callable[[str], Awaitable[CallFigures | None]]
_CHECK_ID = re.compile(r"[A-Za-z0-9_-]{22}")
# Both POSTs must say they carry JSON: a page of another site can send a form or plain text to us without
# asking, but JSON only after a CORS preflight this server never answers, so no other site can spend a
# candidate's use or finish a check (the Fetch standard's CORS-safelisted request headers).
_NOT_JSON = "the request must carry Content-Type: application/json"
_JSON_HEADERS = {key: value for key, value in HEADERS.items() if key != "Content-Security-Policy"}


@dataclass
class BrowserCheckCounters:
    started: int = 0
    refused: int = 0  # forged, expired or used-up links
    busy: int = 0  # a check in progress on the link (409), too many from the address (429) or in all (503)
    finished: int = 0
    bad_finish: int = 0  # 400: malformed figures, an unknown or expired check, a request that is not JSON
    store_errors: int = 0  # a result that could not be kept (the candidate still sees the verdict)


class BrowserCheckHttp:
    def __init__(self, invites: Invites, state_dir: Path, *, policy: Policy = DEFAULT_POLICY,
                 policy_origin: dict[str, str | None] | None = None, plan: CheckPlan = CheckPlan(),
                 call_result: CallResult | None = None, book: CheckBook | None = None,
                 admission: Admission | None = None) -> None:
        self.invites = invites
        self.state_dir = Path(state_dir)
        self.policy, self.policy_origin = policy, policy_origin
        self.plan = plan
        self.call_result = call_result
        self.book = book or CheckBook()
        self.admission = admission or Admission()  # how many checks may be in progress, per address and in all
        self.speed_state = None  # the speed server's SpeedState, once it runs (server/serve.py)
        self.counters = BrowserCheckCounters()
        self._agent: str | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/c/{token}/start", self.start), web.post("/check/{check_id}/finish", self.finish)]

    def is_active(self, check_id: str) -> bool:
        """Is `check_id` a check in progress (the WebRTC call's routes take only these)?"""
        return self.book.get(check_id, time.monotonic()) is not None

    def charge(self, test_id: str, nbytes: int) -> bool:
        """May the speed request of `test_id` move `nbytes` more? Counted against its check's byte budget
        (server/admission.py); a test of no browser check (speedtest-cli, `homeshore check`) is not ours to judge."""
        now_s = time.monotonic()
        check = self.book.by_test(test_id, now_s)
        return check is None or self.admission.charge(check.check_id, nbytes, now_s) is None

    def _count(self, name: str) -> None:
        setattr(self.counters, name, getattr(self.counters, name) + 1)

    async def start(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return self._bad(_NOT_JSON)
        token = request.match_info["token"]
        now_s = time.monotonic()
        seen = await asyncio.to_thread(self.invites.check, token)
        if seen.status is not InviteStatus.VALID:
            return self._refused(seen.status)
        assert seen.invite is not None
        if self.book.busy(seen.invite.invite_id, now_s):
            self._count("busy")
            return _error(409, "a check is already running from this link: let it finish, or wait five minutes")
        proxied = measured_kind(request.remote or "") == "proxy"
        check_id = new_check_id(secrets.token_bytes(CHECK_ID_BYTES))
        # Behind a reverse proxy every candidate has the proxy's loopback address: only the total applies.
        refusal = self.admission.start(check_id, None if proxied else (request.remote or ""), now_s)
        if refusal is not None:
            self._count("busy")
            return _error(refusal.http_status, _BUSY[refusal])
        taken = await asyncio.to_thread(self.invites.start_check, token)
        if taken.status is not InviteStatus.VALID or taken.invite is None:
            self.admission.finish(check_id)
            return self._refused(taken.status)
        check = self.book.open(check_id, invite_id=taken.invite.invite_id, reference=taken.invite.reference,
                               district=taken.invite.district, proxied=proxied,
                               started_at=datetime.now(timezone.utc), now_s=time.monotonic())
        self._count("started")
        return web.json_response({"check_id": check.check_id, "test_id": check.test_id, "plan": self.plan.to_json()},
                                 headers=_JSON_HEADERS)

    def _refused(self, status: InviteStatus) -> web.Response:
        self._count("refused")
        page = PAGES[status]
        return _error(page.http_status, f"{page.title}. {page.paragraphs[-1]}")

    async def finish(self, request: web.Request) -> web.Response:
        check_id = request.match_info["check_id"]
        if not _CHECK_ID.fullmatch(check_id):
            return self._bad("not a check id")
        if request.content_type != "application/json":
            return self._bad(_NOT_JSON)
        body = await request.content.read(MAX_BODY_BYTES + 1)
        try:
            figures = parse_figures(body)
        except BadFigures as error:
            return self._bad(str(error))
        check = self.book.get(check_id, time.monotonic())
        if check is None:
            return self._bad("no such check in progress (unknown, finished or expired)")
        self.book.close(check_id)
        self.admission.finish(check_id)
        call = await self.call_result(check_id) if self.call_result is not None else None
        document, _ = browser_document(BrowserCheckInput(
            server=_server_of(request), started_at=check.started_at, download_s=self.plan.download_s,
            upload_s=self.plan.upload_s, proxied=check.proxied, download=self._count_of("download", check.test_id),
            upload=self._count_of("upload", check.test_id), figures=figures, call=call,
            call_note=CALL_NOT_RUN if self.call_result is None else CALL_DID_NOT_RUN),
            self.policy, candidate=check.reference, area=check.district, version=__version__,
            policy_origin=self.policy_origin)
        self._count("finished")
        if not await asyncio.to_thread(self._store, check.check_id, document):
            self._count("store_errors")
        return web.json_response(verdict_reply(document, CRITERION_LABELS, HEADLINES), headers=_JSON_HEADERS)

    def _bad(self, reason: str) -> web.Response:
        self._count("bad_finish")
        return _error(400, reason)

    def _count_of(self, phase: str, test_id: str) -> ServerCount | None:
        state = self.speed_state
        if state is None:
            return None
        book = state.downloads if phase == "download" else state.receipts
        receipt = book.receipt(test_id, time.monotonic())
        return ServerCount(tuple(receipt.bins), receipt.bin_s) if receipt is not None else None

    def _store(self, check_id: str, document: dict) -> bool:
        """Keep the result as `homeshore check` does, in the spool of the state directory, and the whole
        document for the recruiter's report; False when either failed (the verdict stands)."""
        from homeshore.collector.check_samples import check_samples
        from homeshore.collector.identity import agent_id
        from homeshore.collector.spool import Spool
        from homeshore.collector.state import spool_path
        from homeshore.server.check_documents import save_document

        try:
            if self._agent is None:
                self._agent = agent_id(self.state_dir)
            with Spool(spool_path(self.state_dir)) as spool:
                spool.append(check_samples(document, agent=self._agent, source="browser", check_id=check_id))
            save_document(self.state_dir, check_id, document)
        except (OSError, ValueError, sqlite3.Error):
            return False
        return True


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status, headers=_JSON_HEADERS)


def _server_of(request: web.Request) -> str:
    """This server as the check reached it: its own address and port (never the Host header, the client's)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if not sockname:
        return "http://unknown"
    host = sockname[0][7:] if sockname[0].startswith("::ffff:") and "." in sockname[0] else sockname[0]
    return f"http://[{host}]:{sockname[1]}" if ":" in host else f"http://{host}:{sockname[1]}"

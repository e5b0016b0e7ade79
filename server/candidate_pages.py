"""`GET /c/{token}`: what a candidate's link opens to (aiohttp handlers; the serve application mounts them).

A forged link gets 403, an expired or used-up one 410, each a plain page saying which and measuring nothing;
each outcome is counted. A valid link gets the candidate's page (its check: server/browser_check_http.py) and
takes no use: a mail client's link preview or a reload must not spend the candidate's check (Invites.start_check
does, when the check starts). The token is in the URL, so every reply says `Referrer-Policy: no-referrer` and
`Cache-Control: no-store`. The store is SQLite, so look-ups run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from homeshore.server.candidate_page_html import HEADER_POLICY, PAGES, page_html, page_policy
from homeshore.server.invites import Invites

HEADERS = {
    "Content-Security-Policy": HEADER_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@dataclass
class CandidatePageCounters:
    """Links opened, by outcome (each request lands in exactly one)."""

    valid: int = 0
    forged: int = 0
    expired: int = 0
    used_up: int = 0


class CandidatePages:
    def __init__(self, invites: Invites, call_script: str | None = None) -> None:
        self.invites = invites
        self.call_script = call_script  # server/call_script.py's CALL_JS, when the server runs the call
        self.counters = CandidatePageCounters()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/c/{token}", self.open_link)]

    async def open_link(self, request: web.Request) -> web.Response:
        verdict = await asyncio.to_thread(self.invites.check, request.match_info["token"])
        name = verdict.status.value
        setattr(self.counters, name, getattr(self.counters, name) + 1)
        headers = dict(HEADERS, **{"Content-Security-Policy": page_policy(verdict.status, self.call_script)})
        return web.Response(status=PAGES[verdict.status].http_status,
                            text=page_html(verdict.status, self.call_script), content_type="text/html",
                            charset="utf-8", headers=headers)


"""`GET /r/` and `GET /r/{check_id}`: the recruiters' list of browser checks and each check's HTML report
(the report `homeshore check --report` writes, from the same document: cli/check_report.py), for whoever
presents the recruiters' token (server/recruiter_access.py).

Credentials are judged before anything else, the check id included: without them, or with wrong ones, the reply
is 401 with the challenges and a line saying how to sign in, never whether a check exists nor anything of a
candidate. Every outcome is counted. Results are personal data: no caching, no referrer, no framing. Documents
are files, so they are read in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from homeshore.cli.check_report import CONTENT_SECURITY_POLICY, render_check_report
from homeshore.server.check_documents import CheckDocumentError, load_document, stored_checks
from homeshore.server.recruiter_access import CHALLENGES, is_authorized
from homeshore.server.recruiter_html import HEADER_POLICY, checks_page

# Every reply, the plain-text ones (401, 404, 500) included; a page replaces the policy with its own.
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"}
REPORT_POLICY = f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'"
SIGN_IN = "Sign in with the recruiters' token: homeshore serve prints the file that holds it.\n"


@dataclass
class RecruiterPageCounters:
    """Requests to /r/, by outcome (each lands in exactly one)."""

    lists: int = 0
    reports: int = 0
    not_found: int = 0  # an authorized request for a check that is not stored (or an id of the wrong form)
    unreadable: int = 0  # a stored document that could not be read (500)
    unauthorized: int = 0  # no credentials, or wrong ones (401)


class RecruiterPages:
    def __init__(self, state_dir: Path, token: str) -> None:
        self.state_dir = state_dir
        self._token = token
        self.counters = RecruiterPageCounters()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/r", self.list_checks), web.get("/r/", self.list_checks),
                web.get("/r/{check_id}", self.report)]

    def _refusal(self, request: web.Request) -> web.Response | None:
        if is_authorized(request.headers.get("Authorization"), self._token):
            return None
        self.counters.unauthorized += 1
        response = web.Response(status=401, text=SIGN_IN, headers=PRIVATE)
        for challenge in CHALLENGES:
            response.headers.add("WWW-Authenticate", challenge)
        return response

    async def list_checks(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        checks, unreadable = await asyncio.to_thread(stored_checks, self.state_dir)
        self.counters.lists += 1
        return _html(checks_page(checks, unreadable), HEADER_POLICY)

    async def report(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        try:
            document = await asyncio.to_thread(load_document, self.state_dir, request.match_info["check_id"])
        except CheckDocumentError:
            self.counters.unreadable += 1
            return web.Response(status=500, text="this check's stored result cannot be read\n", headers=PRIVATE)
        if document is None:
            self.counters.not_found += 1
            return web.Response(status=404, text="no such check\n", headers=PRIVATE)
        self.counters.reports += 1
        return _html(render_check_report(document), REPORT_POLICY)


def _html(text: str, policy: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8",
                        headers={**PRIVATE, "Content-Security-Policy": policy})

"""The pages a candidate's link opens to, as HTML text with their Content-Security-Policy. Pure.

Self-contained: inline style and script blocks and nothing else, no image, font or third-party resource. The
policy allows exactly those blocks (by their SHA-256, CSP Level 2 section 4.2.3) and, for the check's page,
requests to this server only (`connect-src 'self'`); it is sent both as a header (server/candidate_pages.py)
and in a meta element, so a saved copy of the page keeps it. `frame-ancestors` works only in the header (CSP
Level 2 section 7.7.1), so the meta copy leaves it out.

A forged, expired or used-up link gets a plain page saying so, with no script. A valid link gets the check's
page: a consent line, one Start button, progress per phase, and at the end the verdict with what to fix and the
technical figures folded away (server/candidate_page_script.py runs it; the call's script, when the server
runs the call, is a second script block).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass

from homeshore.server.candidate_page_script import SCRIPT
from homeshore.server.invite_token import InviteStatus

STYLE = ("body{margin:0;font:17px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1b;"
         "background:#fff}"
         "main{max-width:36rem;margin:0 auto;padding:2rem 1.25rem;overflow-wrap:anywhere}"
         "h1,h2{font-size:1.5rem;line-height:1.25;margin:0 0 1rem;padding:.75rem 1rem;border-radius:.4rem;"
         "color:#fff;background:#5a2d82}"
         "h1.ok,h2.pass{background:#1f6f43}h2.warn{background:#8a5a00}h2.fail{background:#a4262c}"
         "p{margin:0 0 1rem}"
         "button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.4rem;color:#fff;background:#1f6f43}"
         "button:disabled{background:#888}"
         "ol{list-style:none;padding:0;margin:1rem 0}li{margin:0 0 .5rem}"
         "progress{display:block;width:100%;height:.6rem}"
         ".note{color:#555;font-size:.9rem}"
         "ul{padding-left:1.2rem}"
         "table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.2rem .3rem;"
         "border-bottom:1px solid #ddd;vertical-align:top}"
         "#error{color:#a4262c}")
PHASES = (("idle", "Round trip on a quiet line"), ("download", "Download, and round trip while downloading"),
          ("upload", "Upload, and round trip while uploading"), ("call", "Test call"))
HEADLINES = {"PASS": "Your connection is ready for call work.",
             "WARN": "Your connection may do for call work, with reservations.",
             "FAIL": "Your connection is not ready for call work yet."}


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


META_POLICY = f"default-src 'none'; style-src {_hash(STYLE)}; base-uri 'none'; form-action 'none'"
HEADER_POLICY = f"{META_POLICY}; frame-ancestors 'none'"


def check_policy(scripts: Sequence[str]) -> str:
    """The meta policy of the check's page: its style, its scripts, and requests to this server only."""
    return (f"default-src 'none'; script-src {' '.join(_hash(script) for script in scripts)}; "
            f"style-src {_hash(STYLE)}; connect-src 'self'; base-uri 'none'; form-action 'none'")


@dataclass(frozen=True)
class PageText:
    http_status: int
    title: str
    paragraphs: tuple[str, ...]


PAGES = {
    InviteStatus.FORGED: PageText(403, "This link is not valid", (
        "This check link was not issued by this server, or it has been changed or cut short.",
        "Nothing has been measured. Please ask the recruiter who sent it for a new link.")),
    InviteStatus.EXPIRED: PageText(410, "This link has expired", (
        "The time allowed for this connection check has passed.",
        "Nothing has been measured. Please ask the recruiter who sent it for a new link.")),
    InviteStatus.USED_UP: PageText(410, "This link has already been used", (
        "Every check this link allows has been run.",
        "Nothing more has been measured. If you need to check again, please ask the recruiter for a new link.")),
    InviteStatus.VALID: PageText(200, "Your connection check", (
        "This checks whether your home broadband is good enough for call work: its speed both ways, how long "
        "it takes to answer when quiet and when busy, and a short test call. It takes under a minute; please "
        "close other downloads and video first.",
        "By pressing Start you agree to this test between this device and our server. We keep the results with "
        "the reference the recruiter gave you; nothing else about you or your device is recorded.")),
}


def scripts_of(call_script: str | None) -> tuple[str, ...]:
    """The check page's scripts: the call's (defining window.homeshoreCall) first, when the server runs it."""
    return (call_script, SCRIPT) if call_script else (SCRIPT,)


def page_policy(status: InviteStatus, call_script: str | None = None) -> str:
    """The header policy of the page for `status`."""
    if status is InviteStatus.VALID:
        return f"{check_policy(scripts_of(call_script))}; frame-ancestors 'none'"
    return HEADER_POLICY


def page_html(status: InviteStatus, call_script: str | None = None) -> str:
    page = PAGES[status]
    body = "".join(f"<p>{html.escape(text)}</p>" for text in page.paragraphs)
    policy, heading_class, scripts = META_POLICY, "", ""
    if status is InviteStatus.VALID:
        policy, heading_class = check_policy(scripts_of(call_script)), ' class="ok"'
        body += _CHECK_BODY
        scripts = "".join(f"<script>{script}</script>" for script in scripts_of(call_script))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{html.escape(policy)}\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(page.title)}</title><style>{STYLE}</style></head>"
            f"<body><main><h1{heading_class}>{html.escape(page.title)}</h1>{body}</main>{scripts}</body></html>\n")


_CHECK_BODY = (
    '<p id="not-yet">Nothing has been measured yet.</p>'
    '<p><button id="start" type="button">Start the check</button></p>'
    '<ol id="phases">'
    + "".join(f'<li data-phase="{name}">{html.escape(label)}<progress max="1" value="0"></progress>'
              '<span class="note"></span></li>' for name, label in PHASES)
    + '</ol>'
    '<p id="error" role="alert" hidden></p>'
    '<section id="result" hidden aria-live="polite"><h2 id="verdict"></h2>'
    '<p>Verdict: <strong id="verdict-code"></strong></p>'
    '<p>What to fix:</p><ul id="fixes"></ul><p id="nothing" hidden>Nothing: all is well.</p>'
    '<details><summary>Technical figures</summary><table id="figures"></table>'
    '<p>Not measured:</p><ul id="missing"></ul></details></section>')

"""The plain pages a candidate's link opens to, as HTML text with their Content-Security-Policy. Pure.

Self-contained: one inline style block and nothing else, no script, image or font. The policy allows exactly
that style block (by its SHA-256, CSP Level 2 section 4.2.3) and nothing more, and is sent both as a header
(server/candidate_pages.py) and in a meta element, so a saved copy of the page keeps it.
`frame-ancestors` works only in the header (CSP Level 2 section 7.7.1), so the meta copy leaves it out.
"""

from __future__ import annotations

import base64
import hashlib
import html
from dataclasses import dataclass

from homeshore.server.invite_token import InviteStatus

STYLE = ("body{margin:0;font:17px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1b;"
         "background:#fff}"
         "main{max-width:36rem;margin:0 auto;padding:2rem 1.25rem;overflow-wrap:anywhere}"
         "h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem;padding:.75rem 1rem;border-radius:.4rem;"
         "color:#fff;background:#5a2d82}"
         "h1.ok{background:#1f6f43}"
         "p{margin:0 0 1rem}")
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
META_POLICY = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'")
HEADER_POLICY = f"{META_POLICY}; frame-ancestors 'none'"


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
    # A placeholder until the candidate's page (issue 16 item 3) is served here.
    InviteStatus.VALID: PageText(200, "Your connection check", (
        "This link is valid. The connection check will start from this page.",
        "Nothing has been measured yet.")),
}


def page_html(status: InviteStatus) -> str:
    page = PAGES[status]
    heading_class = ' class="ok"' if status is InviteStatus.VALID else ""
    body = "".join(f"<p>{html.escape(text)}</p>" for text in page.paragraphs)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{html.escape(META_POLICY)}\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(page.title)}</title><style>{STYLE}</style></head>"
            f"<body><main><h1{heading_class}>{html.escape(page.title)}</h1>{body}</main></body></html>\n")

"""The recruiters' list of browser checks (`GET /r/`) as HTML text, with its Content-Security-Policy. Pure.

One row per check, newest first: the candidate's reference (a link to its report, `/r/CHECK_ID`), the time in
UTC (the server's readers may sit in other zones; the report itself gives the check's own time), the postcode
district and the verdict, in words. Only what the stored document holds; every value escaped. Like the
candidate's pages (candidate_page_html.py) it is one inline style block allowed by its SHA-256 and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import timezone

from homeshore.server.check_documents import StoredCheck

STYLE = ("body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a}"
         "main{max-width:60rem;margin:0 auto;padding:1.5rem 1rem}"
         "h1{font-size:1.4rem;margin:0 0 1rem}"
         "table{border-collapse:collapse;width:100%}"
         "th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e3e3;overflow-wrap:anywhere}"
         "th{background:#f3f3f3;font-size:13px}"
         ".PASS{color:#1e7b34;font-weight:700}.WARN{color:#8a6100;font-weight:700}"
         ".FAIL{color:#b3261e;font-weight:700}")
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")
HEADER_POLICY = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'; "
                 "frame-ancestors 'none'")
NOTHING = "–"


def checks_page(checks: list[StoredCheck], unreadable: int) -> str:
    """The list page; `unreadable` stored files that could not be read are counted under the table."""
    rows = "".join(_row(check) for check in checks) or \
        f'<tr><td colspan="4">No browser check has been stored yet.</td></tr>'
    note = f"<p>{unreadable} stored check(s) could not be read.</p>" if unreadable else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"referrer\" content=\"no-referrer\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Candidate checks</title><style>{STYLE}</style></head><body><main>"
            f"<h1>Candidate checks in the browser ({len(checks)})</h1>"
            "<table><thead><tr><th>reference</th><th>time (UTC)</th><th>district</th><th>verdict</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{note}</main></body></html>\n")


def _row(check: StoredCheck) -> str:
    reference = html.escape(check.reference or "(no reference)")
    when = check.time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if check.time else NOTHING
    verdict = check.verdict if check.verdict in ("PASS", "WARN", "FAIL") else None
    verdict_cell = f'<td class="{verdict}">{verdict}</td>' if verdict else f"<td>{NOTHING}</td>"
    return (f'<tr><td><a href="/r/{check.check_id}">{reference}</a></td><td>{when}</td>'
            f"<td>{html.escape(check.district or NOTHING)}</td>{verdict_cell}</tr>")

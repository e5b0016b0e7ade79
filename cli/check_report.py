"""The HTML report of `homeshore check --report FILE.html`, rendered from the `--json` document (pure).

A recruiter attaches the file to the candidate's record and opens it years later, offline, perhaps printed: so
it is one self-contained file (inline CSS, no scripts, fonts, images or links) with a Content-Security-Policy
that forbids every fetch, in case a value ever slipped through escaping. Every value is escaped: the candidate
reference, the server and the advice are user or derived text. The verdict comes first, in words as well as
colour (colour-blind readers, black-and-white printers). Any member may be missing or null (a --quick check,
a failed phase): what is there is shown, a missing figure reads "not measured", and nothing raises.

Plain words first: each criterion says what it means for calls before its figures, and the terms a candidate
need not know (goodput, line rate, the advice's detail) are folded under a <details> element, which opens
without a script. It reads on a phone: below 640 px the criteria table becomes one card per criterion, each
figure with its own label, so no column is squeezed over the next.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from homeshore.cli.check_text import (CONNECTION_LABELS, HEADINGS, INCOMPLETE, NOT_MEASURED, criterion_figures,
                                      criterion_label, is_number, megabytes, plain_words, policy_words, quantity)
from homeshore.planning.bufferbloat import GRADE_BOUNDS_MS, WORST_GRADE

# Background and text colour of the verdict banner; text contrast at least 4.5:1 (WCAG 2.1, 1.4.3).
VERDICT_COLOURS = {"PASS": ("#1e7b34", "#ffffff"), "WARN": ("#f2a900", "#1a1a1a"), "FAIL": ("#b3261e", "#ffffff")}
UNKNOWN_COLOURS = ("#5f6368", "#ffffff")
COUNTED_AT = {"receiver": "counted where the bytes arrived (the measurement server's receipt)",
              "sender": "the sender's count (speedtest.net): what this computer handed to the network, which can "
                        "read higher than what arrived"}
METHODS = {"ookla": "Ookla speedtest.net server", "selfhosted": "the contact centre's own server (homeshore serve)"}
# Nothing may be fetched: no script, font, image or frame; styles only from the inline <style>.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                           "form-action 'none'")

CSS = """
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       font-size: 15px; line-height: 1.45; color: #1a1a1a; background: #ffffff; }
.page { max-width: 1100px; margin: 0 auto; padding: 0 24px 32px; }
.banner { padding: 22px 0 20px; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.banner .page { padding-bottom: 0; }
.verdict { font-size: 56px; font-weight: 800; letter-spacing: 0.04em; line-height: 1.1; margin: 0; }
.heading { font-size: 22px; font-weight: 600; margin: 6px 0 0; }
.incomplete { font-size: 17px; margin: 6px 0 0; }
.subject { display: flex; flex-wrap: wrap; gap: 8px 40px; margin: 18px 0 8px; font-size: 17px; }
.subject span { color: #555555; margin-right: 6px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 2px solid #dddddd; padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 7px 10px; border-bottom: 1px solid #e3e3e3; }
thead th { background: #f3f3f3; font-size: 13px; text-transform: uppercase; letter-spacing: 0.03em; }
#criteria { table-layout: fixed; }  /* the advice keeps its share however long a measured value reads */
#criteria thead th:nth-child(1) { width: 15%; }
#criteria thead th:nth-child(2) { width: 9%; }
#criteria thead th:nth-child(3) { width: 14%; }
#criteria thead th:nth-child(4) { width: 20%; }
td.figure { font-variant-numeric: tabular-nums; }
td, th { overflow-wrap: anywhere; }
.plain { margin: 0; font-weight: 600; }
details { margin-top: 4px; color: #333333; }
summary { cursor: pointer; color: #555555; font-size: 13px; }
details p { margin: 4px 0 0; }
@media (max-width: 640px) {
  .page { padding: 0 12px 24px; }
  .verdict { font-size: 40px; }
  .heading { font-size: 18px; }
  .subject { gap: 4px 20px; font-size: 15px; }
  #criteria, #criteria tbody, #criteria tr, #criteria th, #criteria td { display: block; width: auto; }
  #criteria thead { display: none; }
  #criteria tr { border: 1px solid #dddddd; border-radius: 6px; margin: 0 0 10px; padding: 6px 10px; }
  #criteria th, #criteria td { border: 0; padding: 2px 0; }
  #criteria td[data-label]::before { content: attr(data-label) ": "; color: #555555; font-size: 13px; }
  table.facts th { width: 40%; }
}
.status { display: inline-block; min-width: 4.2em; text-align: center; font-weight: 700; border-radius: 4px;
          padding: 1px 6px; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.status-PASS { background: #1e7b34; color: #ffffff; }
.status-WARN { background: #f2a900; color: #1a1a1a; }
.status-FAIL { background: #b3261e; color: #ffffff; }
.status-unknown { background: #5f6368; color: #ffffff; }
.missing { color: #8a5a00; font-style: italic; }
table.facts th { width: 30%; font-weight: 600; }
.note { color: #555555; font-size: 13px; margin: 6px 0 0; }
footer { margin-top: 28px; color: #666666; font-size: 12px; }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 10pt; }
  .page { max-width: none; padding: 0; }
  .banner { padding: 10px 12px; }
  .verdict { font-size: 34pt; }
  .heading { font-size: 14pt; }
  h2 { font-size: 12pt; margin: 12px 0 4px; }
  th, td { padding: 3px 6px; }
  .subject { margin: 10px 0 4px; font-size: 11pt; }
  tr, .banner { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"""


def render_check_report(document: dict) -> str:
    """The whole report as one HTML document; `document` is `homeshore check --json`'s, possibly partial."""
    doc = _mapping(document)
    verdict = _name(doc.get("verdict"))
    measurements, host = _mapping(doc.get("measurements")), _mapping(doc.get("host"))
    criteria = [_mapping(item) for item in _sequence(doc.get("criteria"))]
    title = "homeshore check: " + " – ".join(str(part) for part in (verdict or "no verdict", doc.get("candidate"))
                                             if part)
    body = [
        _banner(verdict, doc.get("could_not_measure")),
        '<main class="page">',
        _subject(doc),
        "<h2>Criteria</h2>",
        _criteria_table(criteria),
        "<h2>Speeds</h2>",
        _facts(_speed_rows(doc, measurements, criteria)),
        _folded("How the speeds were counted", _facts(_speed_detail_rows(doc, measurements))),
        "<h2>Latency</h2>",
        _facts(_latency_rows(doc, measurements)),
        '<p class="note">Bufferbloat grade: how much the router\'s queue adds to the round trip while the line is '
        f"busy; {_e(_grade_scale())}.</p>",
        "<h2>Test call</h2>",
        _call_section(measurements.get("synthetic_call")),
        "<h2>This computer during the test</h2>",
        _facts(_host_rows(host)),
        _not_reached(doc.get("not_reached")),
        f"<footer>homeshore {_e(doc.get('version') or 'version unknown')}</footer>",
        "</main>",
    ]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


def _banner(verdict: Any, could_not_measure: Any) -> str:
    background, colour = VERDICT_COLOURS.get(verdict, UNKNOWN_COLOURS)
    word = verdict if verdict in VERDICT_COLOURS else "NO VERDICT"
    heading = HEADINGS.get(verdict, "The check gave no verdict: repeat it.")
    incomplete = f'<p class="incomplete">{_e(INCOMPLETE)}</p>' if could_not_measure is True else ""
    return (f'<header class="banner" id="verdict" style="background: {background}; color: {colour};">'
            f'<div class="page"><p class="verdict">{_e(word)}</p><p class="heading">{_e(heading)}</p>'
            f"{incomplete}</div></header>")


def _subject(doc: dict) -> str:
    area = doc.get("area")
    if isinstance(area, str) and area.split():
        area = area.split()[0]  # the postcode district: a full postcode would place the candidate's home
    parts = (("Candidate", doc.get("candidate"), "none given"), ("Area", area, "not given"),
             ("Date", _when(doc.get("time")), "unknown"), ("Judged by", policy_words(doc.get("policy")), ""))
    spans = "".join(f"<div><span>{label}</span><strong>{_e(value if value else absent)}</strong></div>"
                    for label, value, absent in parts)
    return f'<div class="subject">{spans}</div>'


def _when(value: Any) -> str | None:
    """"2026-11-24T10:40:00+00:00" -> "24 Nov 2026, 10:40 UTC"; text that is not ISO 8601 is shown as it is."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    offset = moment.utcoffset()
    zone = "" if offset is None else " UTC" if offset == timedelta(0) else " " + moment.strftime("%z")
    return moment.strftime("%d %b %Y, %H:%M") + zone


def _criteria_table(criteria: list[dict]) -> str:
    rows = []
    for item in criteria:
        name, status, unit = _name(item.get("name")), _name(item.get("status")), _name(item.get("unit"))
        known = status if status in VERDICT_COLOURS else "unknown"
        value = item.get("value")
        measured, limit = criterion_figures(item)
        advice = item.get("advice") or ""
        folded = f"<details><summary>Details</summary><p>{_e(advice)}</p></details>" if advice else ""
        rows.append(
            f'<tr class="criterion" data-criterion="{_e(name or "")}" data-status="{_e(status or "")}">'
            f"<th>{_e(criterion_label(name))}</th>"
            f'<td><span class="status status-{known}">{_e(status or "?")}</span></td>'
            f'<td class="figure{"" if is_number(value) else " missing"}" data-label="Measured">{_e(measured)}</td>'
            f'<td class="figure" data-label="Limit">{_e(limit)}</td>'
            f'<td class="meaning"><p class="plain">{_e(plain_words(item))}</p>{folded}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="5" class="missing">No criterion was judged.</td></tr>')
    return ('<table id="criteria"><thead><tr><th>Criterion</th><th>Status</th><th>Measured</th><th>Limit</th>'
            "<th>What it means</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _speed_rows(doc: dict, m: dict, criteria: list[dict]) -> list[tuple[str, str | None]]:
    """The speeds as judged (the line's rate), and what the test cost; the terms are in _speed_detail_rows."""
    judged = {_name(item.get("name")): item.get("value") for item in criteria}
    server = doc.get("server")
    method = METHODS.get(_name(doc.get("method")), _name(doc.get("method")))
    return [
        ("Download", quantity(_first(m.get("download_line_mbps"), judged.get("download")), "Mbit/s", absent=None)),
        ("Upload", quantity(_first(m.get("upload_line_mbps"), judged.get("upload")), "Mbit/s", absent=None)),
        ("Server", " – ".join(str(part) for part in (method, server) if part) or None),
        ("Data used", megabytes(m.get("bytes_used"))),
        ("Duration", quantity(m.get("duration_s"), "s", absent=None)),
    ]


def _speed_detail_rows(doc: dict, m: dict) -> list[tuple[str, str | None]]:
    counted = _name(m.get("upload_counted_at"))
    overhead = m.get("protocol_overhead_pct")
    return [
        ("Download", _speed(m.get("download_goodput_mbps"), m.get("download_line_mbps"))),
        ("Upload", _speed(m.get("upload_goodput_mbps"), m.get("upload_line_mbps"))),
        ("Upload counted", COUNTED_AT.get(counted, counted)),
        ("Line rate", "the goodput plus " + (quantity(overhead, "%") if is_number(overhead) else "the")
         + " protocol overhead (TCP/IP headers) that the line itself carries"),
    ]


def _folded(summary: str, content: str) -> str:
    return f"<details><summary>{_e(summary)}</summary>{content}</details>"


def _speed(goodput: Any, line: Any) -> str | None:
    parts = [f"{quantity(goodput, 'Mbit/s')} goodput" if is_number(goodput) else "",
             f"{quantity(line, 'Mbit/s')} line rate" if is_number(line) else ""]
    return ", ".join(part for part in parts if part) or None


def _latency_rows(doc: dict, m: dict) -> list[tuple[str, str | None]]:
    return [
        ("Round trip, idle", quantity(m.get("idle_rtt_ms"), "ms", absent=None)),
        ("Round trip while downloading",
         _with_loss(m.get("loaded_rtt_download_ms"), m.get("loaded_loss_download_pct"))),
        ("Round trip while uploading", _with_loss(m.get("loaded_rtt_upload_ms"), m.get("loaded_loss_upload_pct"))),
        ("Bufferbloat grade", doc.get("bufferbloat_grade")),
        ("Jitter", quantity(m.get("jitter_ms"), "ms", absent=None)),
        ("Packet loss", quantity(m.get("loss_pct"), "%", absent=None)),
    ]


def _with_loss(rtt_ms: Any, loss_pct: Any) -> str | None:
    if not is_number(rtt_ms):
        return None
    lost = f" ({quantity(loss_pct, '%')} of probes lost)" if is_number(loss_pct) else ""
    return quantity(rtt_ms, "ms") + lost


def _grade_scale() -> str:
    """The scale from planning/bufferbloat.py, so the report explains the very bounds that graded the line."""
    bounds = ", ".join(f"{grade} below {limit:g} ms" for grade, limit in GRADE_BOUNDS_MS)
    return f"on the increase over the idle round trip, {bounds}, {WORST_GRADE} beyond"


def _call_section(call: Any) -> str:
    if not isinstance(call, dict):
        return '<p class="missing">No test call was made (a quick check, or the call phase could not run).</p>'
    codec = " ".join(str(part) for part in (call.get("codec"), call.get("mos_kind")) if part)
    rows = [
        ("Call quality (MOS)", quantity(call.get("mos"), "MOS", absent=None)),
        ("Packet loss", quantity(call.get("loss_pct"), "%", absent=None)),
        ("Jitter", quantity(call.get("jitter_ms"), "ms", absent=None)),
        ("Round trip", quantity(call.get("rtt_ms"), "ms", absent=None)),
        ("Length", quantity(call.get("seconds"), "s", absent=None)),
    ]
    scoring = [("R-factor", None if not is_number(call.get("r_factor")) else f"{call['r_factor']:.1f}")]
    if codec:
        scoring.append(("Codec and score", codec))
    return (_facts(rows) + '<p class="note">A simulated phone call to the server: 4.3 and above sounds good, '
            "below 3.6 callers notice.</p>" + _folded("How the call was scored", _facts(scoring) +
            '<p class="note">G.711 packets, scored with the ITU-T G.107 E-model (R from 0 to 100).</p>'))


def _host_rows(host: dict) -> list[tuple[str, str | None]]:
    other = [f"{verb} {quantity(host.get(key), 'Mbit/s')}" for verb, key in
             (("downloading", "other_download_mbps"), ("uploading", "other_upload_mbps")) if is_number(host.get(key))]
    connection = _name(host.get("connection"))
    rows = [
        ("Interface", host.get("interface")),
        ("Connection", CONNECTION_LABELS.get(connection, connection)),
        ("Link speed", quantity(host.get("link_mbps"), "Mbit/s", absent=None)),
        ("Wi-Fi signal", quantity(host.get("wifi_signal_dbm"), "dBm", absent=None)),
        ("CPU", quantity(host.get("cpu_pct"), "%", absent=None)),
        ("Other traffic besides the test", ", ".join(other) or None),
    ]
    # A cable or a mobile link has no Wi-Fi signal: "not measured" there would send the reader looking for one.
    return [row for row in rows if row[0] != "Wi-Fi signal" or row[1] or connection not in ("wired", "cellular")]


def _not_reached(reasons: Any) -> str:
    if reasons is None:
        return ""
    items = [reasons] if isinstance(reasons, str) else _sequence(reasons)
    if not items:
        return '<h2>What could not be reached</h2><p>Every phase of the check ran.</p>'
    listed = "".join(f"<li>{_e(reason)}</li>" for reason in items)
    return f'<h2>What could not be reached</h2><ul class="not-reached">{listed}</ul>'


def _facts(rows: list[tuple[str, str | None]]) -> str:
    cells = "".join(f"<tr><th>{_e(label)}</th>" + (f"<td>{_e(value)}</td>" if value not in (None, "")
                                                    else f'<td class="missing">{NOT_MEASURED}</td>') + "</tr>"
                    for label, value in rows)
    return f'<table class="facts"><tbody>{cells}</tbody></table>'


def _first(*values: Any) -> Any:
    """The first figure among `values`: the document's line rate, else the one the criterion judged."""
    return next((value for value in values if is_number(value)), None)


def _name(value: Any) -> str | None:
    """An enumeration member (verdict, status, unit...) as text, None when it is not text: usable as a dict key."""
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)

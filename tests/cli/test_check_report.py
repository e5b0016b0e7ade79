"""The HTML report of `homeshore check --report`: its structure read back with html.parser, escaping of hostile
text, no external reference of any kind, documents with members missing; then real headless Chromium shows it
makes no network request (its own net log says so, and says so for an injected image) and that the screenshot's
banner carries the verdict's colour."""

from __future__ import annotations

import copy
import html
import io
import json
import random
import re
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from homeshore.cli.check_report import CONTENT_SECURITY_POLICY, VERDICT_COLOURS, render_check_report
from homeshore.cli.check_text import CONNECTION_LABELS
from homeshore.cli.check_view import verdict_panel
from homeshore.planning.measurements import CONNECTIONS, ReadinessMeasurements
from homeshore.planning.policy import Policy
from homeshore.planning.readiness import evaluate
from homeshore.planning.verdict import CRITERIA, CRITERION_LABELS, verdict_dict
from tests.conftest import skip_or_fail
from tests.references.chromium import Rendering, decode_png, dump_dom, render

GOOD_HOME = dict(download_goodput_mbps=31.234, upload_goodput_mbps=6.18, idle_rtt_ms=21.46, loaded_rtt_download_ms=34.0,
                 loaded_rtt_upload_ms=47.25, jitter_ms=3.14, loss_pct=0.26, mos=4.384, connection="wired")
HOMES = {  # a home per verdict, judged by the real policy
    "PASS": GOOD_HOME,
    "WARN": dict(GOOD_HOME, download_goodput_mbps=8.9),  # 9.3 Mbit/s line rate: in the 8-10 WARN band
    "FAIL": dict(GOOD_HOME, upload_goodput_mbps=0.5, connection="wifi", cpu_pct=95.0),
}
VERDICTS = tuple(HOMES)
INJECTIONS = ("<script>alert('x')</script>", '"><img src=x onerror=alert(1)>')
PROBE = "http://192.0.2.1/x.png"  # TEST-NET-1 (RFC 5737): never routed, so the attempt is all there is


def document(verdict: str = "PASS") -> dict:
    """A `homeshore check --json` document as probe/check_document.py builds it, around the real verdict."""
    m = HOMES[verdict]
    judged = evaluate(ReadinessMeasurements(**m))
    assert str(judged.overall) == verdict
    criteria = [dict(item, goodput_mbps=c.goodput_mbps)
                for item, c in zip(verdict_dict(judged)["criteria"], judged.criteria)]
    return {
        **verdict_dict(judged), "criteria": criteria, "could_not_measure": judged.could_not_measure,
        "server": "http://speed.contact-centre.example:8080", "method": "selfhosted",
        "time": "2026-11-24T10:40:00+00:00", "candidate": "REF-123", "area": "NG5",
        "bufferbloat_grade": judged.bufferbloat_grade,
        "measurements": {
            "download_goodput_mbps": m["download_goodput_mbps"], "download_line_mbps": criteria[0]["value"],
            "upload_goodput_mbps": m["upload_goodput_mbps"], "upload_counted_at": "receiver",
            "idle_rtt_ms": m["idle_rtt_ms"], "loaded_rtt_download_ms": m["loaded_rtt_download_ms"],
            "loaded_rtt_upload_ms": m["loaded_rtt_upload_ms"], "jitter_ms": m["jitter_ms"], "loss_pct": m["loss_pct"],
            "synthetic_call": {"mos": m["mos"], "r_factor": 91.234, "loss_pct": 0.26, "jitter_ms": 3.14,
                               "rtt_ms": 21.46, "seconds": 10.0},
            "bytes_used": 123_456_789, "duration_s": 38.25,
        },
        "host": {"interface": "eth0", "connection": m["connection"], "link_mbps": 1000.0, "wifi_signal_dbm": None,
                 "cpu_pct": m.get("cpu_pct", 12.5), "other_download_mbps": 0.04, "other_upload_mbps": 0.0},
        "not_reached": ["UDP reflector 203.0.113.7:9000 did not answer: RTT under load measured by TCP instead"],
        "version": "0.1.0",
    }


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return " ".join(" ".join(c.split()) if isinstance(c, str) else c.text() for c in self.children).strip()

    def all(self, tag: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if tag is None or child.tag == tag:
                    found.append(child)
                found.extend(child.all(tag))
        return found

    def first(self, tag: str | None = None, **attrs: str) -> Node:
        return next(n for n in self.all(tag) if all(n.attrs.get(k) == v for k, v in attrs.items()))


class TreeBuilder(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "source", "area", "base", "col", "embed", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements: " + ", ".join(n.tag for n in builder.stack[1:])
    return builder.root


def criteria_rows(root: Node) -> list[Node]:
    return [row for row in root.first("table", id="criteria").all("tr") if row.attrs.get("class") == "criterion"]


REF_ATTRIBUTES = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background", "xlink:href",
                  "ping", "manifest", "cite", "longdesc", "usemap", "codebase", "archive"}
CSS_REF = re.compile(r"""url\(\s*['"]?([^'")\s]*)|@import\s+(?:url\()?\s*['"]?([^'");\s]+)""", re.IGNORECASE)


def references(page: str) -> list[str]:
    """Every URL the page could make a browser fetch: resource attributes, a meta refresh, CSS url() and @import."""
    root, found = parse(page), []
    for node in root.all():
        for name, value in node.attrs.items():
            if name in REF_ATTRIBUTES:
                found.append(value or "")
            if name == "style":
                found.extend(a or b for a, b in CSS_REF.findall(value or ""))
        if node.tag == "meta" and (node.attrs.get("http-equiv") or "").lower() == "refresh":
            found.append(node.attrs.get("content") or "")
        if node.tag == "style":
            found.extend(a or b for a, b in CSS_REF.findall(node.text()))
    return found


def local(reference: str) -> bool:
    return reference.startswith(("data:", "#"))


# --- structure ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("verdict", VERDICTS)
def test_the_banner_comes_first_and_says_the_verdict_in_words(verdict: str) -> None:
    root = parse(render_check_report(document(verdict)))
    body = root.first("body")
    banner = body.all()[0]
    assert banner.attrs.get("id") == "verdict"
    assert banner.text().split()[0] == verdict
    assert VERDICT_COLOURS[verdict][0] in banner.attrs["style"]
    assert root.first("title").text() == f"homeshore check: {verdict} – REF-123"
    subject = root.first("div", **{"class": "subject"}).text()
    assert "REF-123" in subject and "NG5" in subject and "24 Nov 2026, 10:40 UTC" in subject


def test_one_row_per_criterion_with_status_value_threshold_and_advice() -> None:
    doc = document("FAIL")
    rows = criteria_rows(parse(render_check_report(doc)))
    assert len(rows) == len(doc["criteria"]) == 7
    for row, criterion in zip(rows, doc["criteria"]):
        cells = [cell.text() for cell in row.all() if cell.tag in ("th", "td")]
        assert row.attrs["data-criterion"] == criterion["name"]
        assert cells[1] == criterion["status"]
        assert row.first("details").text() == "Details " + " ".join(criterion["advice"].split())
    by_name = {row.attrs["data-criterion"]: [c.text() for c in row.all() if c.tag in ("th", "td")] for row in rows}
    assert by_name["upload"][:4] == ["Upload", "FAIL", "0.5 Mbit/s", "at least 1.0 Mbit/s"]
    assert by_name["download"][2] == "32.7 Mbit/s"
    assert by_name["idle_rtt"][2:4] == ["21.5 ms", "at most 100.0 ms"]
    assert by_name["loss"][2:4] == ["0.3%", "at most 1.0%"]
    assert by_name["mos"][2:4] == ["4.38", "at least 4.00"]
    assert "Connect by cable" in by_name["upload"][4]  # planning/advice.py's cause, passed through


def test_details_show_speeds_latency_call_host_and_what_was_not_reached() -> None:
    doc = document("PASS")
    text = parse(render_check_report(doc)).first("main").text()
    for expected in ("31.2 Mbit/s goodput, 32.7 Mbit/s line rate", "default policy", "counted where the bytes arrived",
                     "http://speed.contact-centre.example:8080", "21.5 ms", "47.2 ms", f"Bufferbloat grade "
                     f"{doc['bufferbloat_grade']}", "A+ below 5 ms", "4.38", "91.2", "123.5 MB", "38.2 s", "eth0",
                     "wired (Ethernet)", "12.5%", "1000.0 Mbit/s", "UDP reflector 203.0.113.7:9000 did not answer"):
        assert expected in text, expected
    assert "Wi-Fi signal" not in text  # a cable has none
    doc["measurements"]["upload_counted_at"] = "sender"
    assert "the sender's count (speedtest.net)" in parse(render_check_report(doc)).text()


def test_a_criterion_without_a_value_reads_not_measured() -> None:
    judged = evaluate(ReadinessMeasurements(**dict(GOOD_HOME, mos=None, jitter_ms=None)))
    rows = criteria_rows(parse(render_check_report(verdict_dict(judged))))
    measured = {row.attrs["data-criterion"]: [c.text() for c in row.all("td")][1] for row in rows}
    assert measured["mos"] == measured["jitter"] == "not measured"
    assert measured["download"] != "not measured"


def test_a_minimal_document_renders() -> None:
    root = parse(render_check_report({"verdict": "FAIL", "criteria": []}))
    assert root.first("header").text().split()[0] == "FAIL"
    assert criteria_rows(root) == []
    assert "No criterion was judged." in root.first("table", id="criteria").text()
    assert "No test call was made" in root.text()


def test_no_member_missing_null_or_of_the_wrong_type_makes_it_raise() -> None:
    full = document("WARN")
    variants: list[dict] = [{}, {"verdict": "MAYBE"}, {"criteria": [{}, None, {"name": "mos", "value": "n/a"}]}]
    for key in full:
        for replacement in (None, "x", 7, [], {}):
            variants.append({**full, key: replacement})
        variants.append({k: v for k, v in full.items() if k != key})
    for part in ("measurements", "host"):
        for key in full[part]:
            for replacement in (None, "x", True):
                variant = copy.deepcopy(full)
                variant[part][key] = replacement
                variants.append(variant)
    for key in full["measurements"]["synthetic_call"]:
        variant = copy.deepcopy(full)
        variant["measurements"]["synthetic_call"][key] = None
        variants.append(variant)
    for variant in variants:
        root = parse(render_check_report(variant))
        assert root.first("header").attrs["id"] == "verdict"
    assert parse(render_check_report({})).first("header").text().startswith("NO VERDICT")


def test_only_the_postcode_district_is_shown() -> None:
    page = render_check_report({**document(), "area": "NG5 1AB"})
    assert "NG5" in page and "1AB" not in page


# --- escaping and self-containment ----------------------------------------------------------------------------

@pytest.mark.parametrize("injection", INJECTIONS)
def test_hostile_text_comes_out_inert(injection: str) -> None:
    doc = document("FAIL")
    doc.update(candidate=injection, server=injection, area=injection, not_reached=[injection])
    doc["criteria"][0].update(advice=injection, name=injection, unit=injection)
    doc["host"]["interface"] = injection
    root = parse(render_check_report(doc))
    tags = {node.tag for node in root.all()}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link"}
    assert not [name for node in root.all() for name in node.attrs if name.startswith("on")]
    # Shown as text, whole, where each value belongs; the criterion's name even inside an attribute.
    assert injection in root.first("div", **{"class": "subject"}).text()
    assert criteria_rows(root)[0].attrs["data-criterion"] == injection
    assert injection in [c.text() for c in criteria_rows(root)[0].all("td")][3]
    assert injection in root.first("ul", **{"class": "not-reached"}).text()


def test_the_report_references_nothing_outside_itself() -> None:
    doc = document("PASS")
    page = render_check_report(doc)
    assert [ref for ref in references(page) if not local(ref)] == []
    assert not re.search(r"https?:", page.replace(doc["server"], "")), "a URL other than the server's text"
    assert not re.search(r"<(script|link|iframe|object|embed)\b|@font-face", page, re.IGNORECASE)
    policy = parse(page).first("meta", **{"http-equiv": "Content-Security-Policy"})
    assert policy.attrs["content"] == CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY


def test_the_reference_finder_finds_remote_references() -> None:
    """The check above can fail: each way a page can pull a resource in is found."""
    page = ('<html><head><link rel="stylesheet" href="https://a.example/s.css">'
            '<style>@import "https://b.example/i.css"; body { background: url(http://c.example/bg.png); }</style>'
            '</head><body style="background:url(\'//d.example/x\')">'
            '<img src="http://e.example/x.png" srcset="f.png 2x"><a href="#criteria">x</a>'
            '<meta http-equiv="refresh" content="0; url=http://g.example/"></body></html>')
    remote = [ref for ref in references(page) if not local(ref)]
    assert remote == ["https://a.example/s.css", "https://b.example/i.css", "http://c.example/bg.png",
                      "//d.example/x", "http://e.example/x.png", "f.png 2x", "0; url=http://g.example/"]


def test_it_prints_on_a4() -> None:
    style = parse(render_check_report(document())).first("style").text()
    assert re.search(r"@page\s*{\s*size:\s*A4", style) and "@media print" in style
    assert "print-color-adjust: exact" in style  # the banner's colour survives printing


# --- the reference PNG decoder -------------------------------------------------------------------------------

def paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left  # PNG spec 9.4: the nearest of the three to the estimate, ties in this order
    return min((abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - up_left), 2, up_left))[2]


def encode_png(rows: list[bytes], width: int, channels: int, filters: list[int]) -> bytes:
    """A PNG whose row y is filtered with filters[y] (the forward filters, PNG spec clause 9.2)."""
    raw, above = bytearray(), bytes(len(rows[0]))
    for row, kind in zip(rows, filters):
        raw.append(kind)
        for i, value in enumerate(row):
            left, up = (row[i - channels] if i >= channels else 0), above[i]
            up_left = above[i - channels] if i >= channels else 0
            predictor = (0, left, up, (left + up) // 2, paeth(left, up, up_left))[kind]
            raw.append((value - predictor) & 0xFF)
        above = row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, len(rows), 8, 2 if channels == 3 else 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw)))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", (3, 4))
def test_the_png_decoder_undoes_every_filter(channels: int) -> None:
    generator = random.Random(channels)
    width, filters = 16, [0, 1, 2, 3, 4, 4, 3, 2, 1, 0] * 2
    # Values 0-7 (flat areas, as in a screenshot) make the Paeth predictor's ties frequent; then any byte.
    rows = [bytes(generator.randrange(8 if y < 10 else 256) for _ in range(width * channels)) for y in range(20)]
    image = decode_png(encode_png(rows, width, channels, filters))
    assert (image.width, image.height, image.channels) == (width, len(rows), channels)
    assert list(image.rows) == rows
    assert image.pixel(15, 19) == tuple(rows[19][15 * channels:])
    assert decode_png(encode_png(rows, width, channels, filters), max_rows=3).rows == tuple(rows[:3])


# --- real Chromium --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        skip_or_fail("chromium is not installed (Debian package chromium)")
    return path


def screenshots(chromium: str, directory: Path, width: int = 1200, height: int = 900) -> dict[str, Rendering]:
    """Each verdict's report, screenshot by Chromium at width x height."""
    rendered = {}
    for verdict in VERDICTS:
        page = directory / f"report-{verdict}.html"
        page.write_text(render_check_report(document(verdict)), encoding="utf-8")
        rendered[verdict] = render(chromium, page, directory / verdict, width=width, height=height)
    return rendered


@pytest.fixture(scope="module")
def pages(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendering]:
    """One Chromium run per verdict (startup costs seconds: these three serve every test below but two)."""
    return screenshots(chromium, tmp_path_factory.mktemp("check-report"))


def render_with_probe(chromium: str, directory: Path, *, keep_policy: bool) -> Rendering:
    report = render_check_report(document("FAIL"))
    policy = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CONTENT_SECURITY_POLICY)}">'
    assert policy in report
    if not keep_policy:
        report = report.replace(policy, "")
    page = directory / "probe.html"
    page.write_text(report.replace("<body>", f'<body><img src="{PROBE}" alt="">', 1), encoding="utf-8")
    return render(chromium, page, directory / "run")


def test_chromium_makes_no_request_for_the_report(pages: dict[str, Rendering]) -> None:
    for verdict, rendering in pages.items():
        assert rendering.page_requests == (), verdict


def test_the_net_log_shows_a_request_when_the_page_makes_one(chromium: str, tmp_path: Path) -> None:
    """The detector works: the report with an image injected, and its Content-Security-Policy removed."""
    assert render_with_probe(chromium, tmp_path, keep_policy=False).page_requests == (PROBE,)


def test_the_content_security_policy_stops_a_request_escaping_lets_through(chromium: str, tmp_path: Path) -> None:
    assert render_with_probe(chromium, tmp_path, keep_policy=True).page_requests == ()


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def hue(rgb: tuple[int, int, int]) -> str:
    """Green, amber or red as a reader would name it, independently of the report's own constants."""
    red, green, blue = rgb
    if green > red + 40 and green > blue + 40:
        return "green"
    if red > 180 and 100 <= green <= 210 and blue < 90:
        return "amber"
    if red > green + 80 and red > blue + 80:
        return "red"
    return "other"


@pytest.mark.parametrize("verdict", VERDICTS)
def test_the_screenshot_shows_the_verdict(pages: dict[str, Rendering], verdict: str) -> None:
    image = decode_png(pages[verdict].screenshot.read_bytes(), max_rows=110)
    assert (image.width, image.channels) == (1200, 3)
    background, text = (hex_rgb(c) for c in VERDICT_COLOURS[verdict])
    box = (0, 0, 1200, 110)  # the top of the page, where the banner spans the full width
    colours = image.colours(*box)
    assert image.dominant(*box) == background
    assert hue(background) == {"PASS": "green", "WARN": "amber", "FAIL": "red"}[verdict]
    assert colours[background] > 0.7 * 1200 * 110
    assert colours[text] > 400, "the verdict word is drawn in the banner"


def test_the_banners_differ_between_verdicts(pages: dict[str, Rendering]) -> None:
    seen = {decode_png(r.screenshot.read_bytes(), max_rows=60).dominant(0, 0, 1200, 60) for r in pages.values()}
    assert len(seen) == 3


# Each criterion of document("FAIL") as a reader should see it, rounded by hand from the figures above: the
# measured value and the limit, in the terminal and in the report alike.
# The loaded RTT's limit, idle 21.46 + 100 ms, has two places: its figure takes them too.
READ_AS = {"download": ("32.7 Mbit/s", "at least 8.0 Mbit/s"), "upload": ("0.5 Mbit/s", "at least 1.0 Mbit/s"),
           "idle_rtt": ("21.5 ms", "at most 100.0 ms"), "loaded_rtt": ("47.25 ms", "at most 121.46 ms"),
           "jitter": ("3.1 ms", "at most 30.0 ms"), "loss": ("0.3%", "at most 1.0%"), "mos": ("4.38", "at least 4.00")}


def test_the_terminal_panel_and_the_report_name_and_round_every_criterion_alike() -> None:
    doc = document("FAIL")
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(verdict_panel(doc))
    panel_lines = console.export_text().splitlines()
    report_rows = {row.attrs["data-criterion"]: [c.text() for c in row.all() if c.tag in ("th", "td")]
                   for row in criteria_rows(parse(render_check_report(doc)))}
    assert set(READ_AS) == set(CRITERIA) == set(CRITERION_LABELS) == set(report_rows)
    for name, (measured, limit) in READ_AS.items():
        label = CRITERION_LABELS[name]
        (panel_row,) = [cells for cells in ([c.strip() for c in line.split("│") if c.strip()] for line in panel_lines)
                        if label in cells]
        assert panel_row[-3:] == [label, measured, limit], panel_row
        report_row = report_rows[name]
        assert report_row[0] == label and report_row[2] == measured and report_row[3] == limit, report_row


def test_every_connection_kind_has_its_words_in_the_report() -> None:
    assert set(CONNECTION_LABELS) == set(CONNECTIONS)
    for kind in CONNECTIONS:
        doc = document("PASS")
        doc["host"]["connection"] = kind
        assert CONNECTION_LABELS[kind] in parse(render_check_report(doc)).first("main").text()



# --- issue 15: the report says what it means ---------------------------------------------------------------------

def judged_by(policy: Policy, **changes: float) -> dict:
    """document("PASS") with its figures changed by `changes` and judged again by `policy`."""
    doc = document("PASS")
    judged = evaluate(ReadinessMeasurements(**dict(GOOD_HOME, **changes)), policy)
    doc.update(verdict_dict(judged), could_not_measure=judged.could_not_measure)
    return doc


def panel_text(doc: dict, width: int = 200) -> str:
    console = Console(file=io.StringIO(), width=width, record=True)
    console.print(verdict_panel(doc))
    return console.export_text()


def panel_row(doc: dict, label: str) -> list[str]:
    (row,) = [cells for cells in ([c.strip() for c in line.split("│") if c.strip()]
                                  for line in panel_text(doc).splitlines()) if label in cells]
    return row


# A jitter limit of 0.04 ms (a strict policy file may set one) and 0.045 ms measured: judged to 0.001 ms, a
# FAIL. Shown to the unit's one place both read "0.0 ms" (the "FAIL, 0.0 ms, at most 0.0 ms").
@pytest.mark.parametrize(("limit_ms", "jitter_ms", "status", "read_as"), [
    (0.04, 0.045, "FAIL", ("0.045 ms", "at most 0.040 ms")),  # two places still tie (0.04, 0.04): three
    (0.05, 0.06, "FAIL", ("0.06 ms", "at most 0.05 ms")),  # the limit's own two places tell them apart
    (0.05, 0.05, "WARN", ("0.05 ms", "at most 0.05 ms")),  # equal: inclusive (no FAIL), and shown equal
    (30.0, 3.14, "PASS", ("3.1 ms", "at most 30.0 ms")),  # the default: the unit's one place
])
def test_shown_precision_follows_the_limit_so_a_failure_never_reads_equal_to_its_limit(
        limit_ms: float, jitter_ms: float, status: str, read_as: tuple[str, str]) -> None:
    doc = judged_by(Policy(jitter_max_ms=limit_ms), jitter_ms=jitter_ms)
    assert criterion_of(doc, "jitter")["status"] == status
    assert panel_row(doc, "Jitter")[-3:] == ["Jitter", *read_as]
    (row,) = [r for r in criteria_rows(parse(render_check_report(doc))) if r.attrs["data-criterion"] == "jitter"]
    assert [c.text() for c in row.all() if c.tag in ("th", "td")][2:4] == list(read_as)


def criterion_of(doc: dict, name: str) -> dict:
    (found,) = [c for c in doc["criteria"] if c["name"] == name]
    return found


def test_plain_words_come_first_and_the_terms_are_folded_under_them() -> None:
    doc = judged_by(Policy(), loss_pct=5.0)
    assert criterion_of(doc, "loss")["status"] == "FAIL"
    root = parse(render_check_report(doc))
    (row,) = [r for r in criteria_rows(root) if r.attrs["data-criterion"] == "loss"]
    meaning = row.first("td", **{"class": "meaning"})
    assert meaning.children[0].tag == "p" and meaning.children[0].text() == "Calls would break up: words would drop out."
    assert "5% is above the 1% limit" in meaning.first("details").text()
    # goodput and line rate, the advice's terms, appear only inside <details> (folded)
    unfolded = _without(root.first("main"), "details").text()
    assert "goodput" not in unfolded and "line rate" not in unfolded and "R-factor" not in unfolded
    assert "goodput" in root.first("main").text() and "line rate" in root.first("main").text()
    # the terminal: the plain words ahead of the advice on the failing criterion's line
    text = " ".join(panel_text(doc, width=300).split())
    assert "Packet loss: Calls would break up: words would drop out. Packet loss 5% is above" in text


def _without(node: Node, tag: str) -> Node:
    return Node(node.tag, node.attrs, [c if isinstance(c, str) else _without(c, tag) for c in node.children
                                       if isinstance(c, str) or c.tag != tag])


def test_the_report_and_the_terminal_name_the_policy_that_judged_the_check() -> None:
    doc = document("PASS")
    assert "Judged by default policy" in parse(render_check_report(doc)).first("div", **{"class": "subject"}).text()
    assert "default policy" in panel_text(doc)
    doc["policy"] = {"file": "strict.toml", "sha256": "0123456789abcdef" * 4}
    subject = parse(render_check_report(doc)).first("div", **{"class": "subject"}).text()
    assert "Judged by policy strict.toml (sha256 0123456789ab)" in subject
    assert "policy strict.toml (sha256 0123456789ab)" in " ".join(panel_text(doc).split())


# Chromium measures its own layout of the report at a phone's width: how far the page scrolls sideways, and any
# two cells of one criterion whose boxes overlap or whose text overflows its box. The check runs as a script
# in a copy of the report without its Content-Security-Policy (which forbids scripts), shown in an iframe of the
# width wanted (a headless window is at least 500 px wide); the result goes to the outer page's body.
LAYOUT_SCRIPT = """<script>
addEventListener('load', () => {
  const overlaps = [];
  for (const row of document.querySelectorAll('#criteria tr.criterion')) {
    const cells = [...row.children];
    cells.forEach((a, i) => cells.slice(i + 1).forEach(b => {
      const r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      if (Math.min(r.right, q.right) - Math.max(r.left, q.left) > 1 &&
          Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top) > 1) overlaps.push(row.dataset.criterion);
    }));
    for (const cell of cells) if (cell.scrollWidth > cell.clientWidth + 1) overlaps.push(row.dataset.criterion);
  }
  const sideways = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  parent.postMessage(JSON.stringify({sideways, overlaps, width: innerWidth}), '*');
});
</script>"""
FRAME_PAGE = """<!DOCTYPE html><html><body style="margin:0">
<script>addEventListener('message', e => document.body.setAttribute('data-layout', e.data));</script>
<iframe style="border:0;display:block" width="{width}" height="900" srcdoc="{report}"></iframe></body></html>"""


def layout_of(chromium: str, report: str, directory: Path, width: int) -> dict:
    """Chromium's layout figures (LAYOUT_SCRIPT) for `report` shown `width` px wide."""
    policy = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CONTENT_SECURITY_POLICY)}">'
    assert policy in report
    framed = report.replace(policy, "").replace("</body>", LAYOUT_SCRIPT + "</body>")
    page = directory / f"layout-{width}.html"
    page.write_text(FRAME_PAGE.format(width=width, report=html.escape(framed, quote=True)), encoding="utf-8")
    dom = dump_dom(chromium, page, directory / f"dom-{width}")
    found = re.search(r'data-layout="([^"]*)"', dom)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("width", [390, 1200])
def test_the_report_reads_on_a_phone_and_a_desktop_without_overlap_or_sideways_scrolling(
        chromium: str, tmp_path: Path, width: int) -> None:
    layout = layout_of(chromium, render_check_report(document("FAIL")), tmp_path, width)
    assert layout["width"] == width, layout
    assert layout["sideways"] <= 0 and layout["overlaps"] == [], layout


def test_the_layout_check_sees_an_overlap(chromium: str, tmp_path: Path) -> None:
    """The detector works: a report with an unbreakable advice and the phone layout's CSS taken out."""
    doc = document("FAIL")
    doc["criteria"][1]["advice"] = "x" * 300
    report = render_check_report(doc)
    wide = re.sub(r"@media \(max-width: 640px\) \{.*?\n\}\n", "", report, flags=re.S)
    assert wide != report
    layout = layout_of(chromium, wide.replace("overflow-wrap: anywhere;", ""), tmp_path, 390)
    assert layout["sideways"] > 0 or layout["overlaps"], layout


@pytest.fixture(scope="module")
def phone_pages(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendering]:
    """Each verdict's report as a 390-px-wide phone shows it (the screenshots the issue asks for)."""
    return screenshots(chromium, tmp_path_factory.mktemp("check-report-phone"), width=390, height=1800)


@pytest.mark.parametrize("verdict", VERDICTS)
def test_the_phone_screenshot_shows_the_verdict_across_the_screen(phone_pages: dict[str, Rendering],
                                                                   verdict: str) -> None:
    image = decode_png(phone_pages[verdict].screenshot.read_bytes(), max_rows=100)
    assert image.width == 390
    background, text = (hex_rgb(c) for c in VERDICT_COLOURS[verdict])
    box = (0, 0, 375, 100)  # the banner, left of the scroll bar
    assert image.dominant(*box) == background
    assert image.colours(*box)[text] > 300, "the verdict word is drawn in the banner"
    assert phone_pages[verdict].page_requests == ()


def test_the_panel_names_the_server_time_and_bytes_whole_at_80_columns() -> None:
    """They were the border's subtitle, which Rich cuts to the width with an ellipsis: at 80 columns the URL of
    a real server lost its port and the check's time and bytes were gone. In the body the line wraps."""
    doc = document("PASS")
    doc["server"] = "https://speedtest.recruitment.contact-centre.example.co.uk:8443"
    text = panel_text(doc, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    inside = ("".join(line.split("│")[1:-1]) for line in text.splitlines() if line.count("│") >= 2)
    body = "".join("".join(part.split()) for part in inside)
    for expected in (doc["server"], "(selfhosted)", "38.2s", "123.5MB"):
        assert expected in body, expected

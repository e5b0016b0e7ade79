"""`homeshore analyze`: tables, the --json contract of DESIGN.md ("Machine-readable outputs") and exit codes, through
click's CliRunner and once through the installed console script."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from homeshore.cli.main import cli
from homeshore.cli.status import ExitStatus
from homeshore.quality.capture import analyze_capture
from tests.conftest import PCAPS

DTMF2 = PCAPS / "rtppcap_SIP_DTMF2.pcap"
G711A = PCAPS / "sipp_g711a.pcap"
# Reference figures for rtppcap_SIP_DTMF2.pcap (../shared/pcaps/README.md, tshark 4.0.17): 1360 frames; the
# 192.168.105.110 -> .172 stream lost 2 packets, the reverse stream none.
DTMF2_FRAMES = 1360
DTMF2_SSRCS = {0x9A7B5382: 2, 0x5711BF84: 0}
CONSOLE_SCRIPT = Path(sys.executable).with_name("homeshore")

# DESIGN.md, "Machine-readable outputs": `homeshore analyze --json`. Extra keys are allowed; these may not go.
CAPTURE_KEYS = {"file", "packets_read", "warnings", "streams"}
STREAM_KEYS = {
    "ssrc", "src", "dst", "codec", "clock_hz", "clock_source", "packets", "expected", "lost", "loss_pct",
    "duplicates", "reordered", "resets", "jitter_mean_ms", "jitter_max_ms", "max_delta_ms", "burst_density",
    "gap_density", "discarded", "r_factor", "mos", "mos_kind", "problems",
}  # fmt: skip
INTEGER_KEYS = {"ssrc", "packets", "expected", "lost", "duplicates", "reordered", "resets", "discarded"}
NUMBER_KEYS = {"loss_pct", "jitter_mean_ms", "jitter_max_ms", "max_delta_ms", "burst_density", "gap_density"}
ENDPOINT = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$")


def invoke(*args: str, standalone: bool = True):
    """Run `homeshore analyze ARGS`; rendered 200 columns wide so no table cell is folded. With standalone=False,
    click hands the command's return value back (`result.return_value`), as `homeshore.cli.main.main` takes it."""
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    extra = {} if standalone else {"standalone_mode": False}
    return runner.invoke(cli, ["analyze", *args], catch_exceptions=False, **extra)


def bad_input(kind: str, tmp_path: Path) -> Path:
    if kind == "missing":
        return tmp_path / "no-such.pcap"
    if kind == "directory":
        return tmp_path
    path = tmp_path / f"{kind}.pcap"
    path.write_bytes(b"" if kind == "empty" else b"this is a text file, not a capture\n" * 20)
    return path


def complete_records(data: bytes) -> tuple[int, bool]:
    """(complete records, whether bytes of a cut record follow) of a little-endian microsecond pcap."""
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    pos, count = 24, 0
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        if pos + 16 + caplen > len(data):
            break
        pos += 16 + caplen
        count += 1
    return count, pos < len(data)


# --- tables ---------------------------------------------------------------------------------------------------


def test_table_shows_every_stream_with_its_ssrc_in_hex(pcaps):
    result = invoke(str(DTMF2))
    assert result.exit_code == 0, result.output
    assert set(re.findall(r"0x[0-9A-F]{8}\b", result.stdout)) == {f"0x{ssrc:08X}" for ssrc in DTMF2_SSRCS}
    assert "192.168.105.110:4374 -> 192.168.105.172:4376" in result.stdout
    assert result.stderr == ""


# --- --json ---------------------------------------------------------------------------------------------------


def test_json_has_the_design_contract(pcaps):
    result = invoke("--json", str(DTMF2))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"captures"}
    (capture,) = document["captures"]
    assert CAPTURE_KEYS <= set(capture), CAPTURE_KEYS - set(capture)
    assert capture["file"] == str(DTMF2)
    assert capture["packets_read"] == DTMF2_FRAMES
    assert capture["warnings"] == []
    assert {stream["ssrc"]: stream["lost"] for stream in capture["streams"]} == DTMF2_SSRCS
    for stream in capture["streams"]:
        assert STREAM_KEYS <= set(stream), STREAM_KEYS - set(stream)
        assert "windows" not in stream  # only with --windows
        for key in INTEGER_KEYS:
            assert type(stream[key]) is int, (key, stream[key])  # SSRC too: an integer, never "0x..."
        for key in NUMBER_KEYS:
            assert isinstance(stream[key], (int, float)), (key, stream[key])
        for key in ("r_factor", "mos"):
            assert stream[key] is None or isinstance(stream[key], float)
        assert ENDPOINT.match(stream["src"]) and ENDPOINT.match(stream["dst"]), (stream["src"], stream["dst"])
        assert stream["clock_source"] in {"static", "sdp", "inferred"}
        assert stream["mos_kind"] in {"listening", "conversational", "unknown"}
        assert isinstance(stream["problems"], list) and all(isinstance(p, str) for p in stream["problems"])
        assert (stream["codec"], stream["clock_hz"]) == ("PCMA", 8000)
        assert stream["expected"] == stream["packets"] - stream["duplicates"] + stream["lost"]
    lossy = next(s for s in capture["streams"] if s["ssrc"] == 0x9A7B5382)
    assert (lossy["src"], lossy["dst"], lossy["lost"]) == ("192.168.105.110:4374", "192.168.105.172:4376", 2)


def test_json_with_windows_lists_the_ten_second_windows(pcaps):
    result = invoke("--json", "--windows", str(DTMF2))
    assert result.exit_code == 0, result.output
    for stream in json.loads(result.stdout)["captures"][0]["streams"]:
        windows = stream["windows"]
        assert len(windows) >= 2  # about 20 s of call
        starts = [window["start_s"] for window in windows]
        assert all(start % 10 == 0 for start in starts) and starts == sorted(starts)
        assert sum(window["packets"] for window in windows) == stream["packets"]
        assert sum(window["lost"] for window in windows) == stream["lost"]


# --- damaged and wrong input ----------------------------------------------------------------------------------

BAD_INPUTS = ("missing", "empty", "text", "directory")


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_unreadable_input_is_one_line_on_stderr_and_status_2(kind, tmp_path):
    path = bad_input(kind, tmp_path)
    result = invoke(str(path), standalone=False)
    assert result.return_value == ExitStatus.CANNOT_MEASURE == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("homeshore analyze: ") and str(path) in lines[0]
    assert "Traceback" not in result.output
    assert "RTP streams" not in result.stdout


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_unreadable_input_exits_2_through_click(kind, tmp_path):
    result = invoke(str(bad_input(kind, tmp_path)))
    assert result.exit_code == ExitStatus.CANNOT_MEASURE


def test_capture_cut_mid_record_is_analysed_up_to_the_cut_with_a_warning(tmp_path, pcaps):
    data = G711A.read_bytes()[:50_000]
    records, cut = complete_records(data)
    assert cut and 0 < records < 236  # the premise: 50,000 bytes end inside a record
    path = tmp_path / "cut.pcap"
    path.write_bytes(data)

    result = invoke("--json", str(path), standalone=False)
    assert result.return_value == ExitStatus.OK
    (capture,) = json.loads(result.stdout)["captures"]
    assert capture["packets_read"] == records
    assert any("truncated" in warning for warning in capture["warnings"]), capture["warnings"]
    (stream,) = capture["streams"]
    assert (stream["ssrc"], stream["packets"], stream["lost"]) == (0xDEE0EE8F, records, 0)

    table = invoke(str(path))
    assert table.exit_code == 0
    assert re.search(r"warning:.*truncated", table.stdout), table.stdout


def test_one_bad_file_among_two_still_reports_the_good_one(tmp_path, pcaps):
    bad = bad_input("text", tmp_path)
    result = invoke("--json", str(bad), str(G711A), standalone=False)
    assert result.return_value == ExitStatus.CANNOT_MEASURE
    (capture,) = json.loads(result.stdout)["captures"]
    assert capture["file"] == str(G711A)
    assert [(s["ssrc"], s["packets"], s["lost"]) for s in capture["streams"]] == [(0xDEE0EE8F, 236, 0)]
    assert len(result.stderr.splitlines()) == 1 and str(bad) in result.stderr


# --- the installed entry point --------------------------------------------------------------------------------


def test_console_script_runs_and_sets_the_exit_code(tmp_path, pcaps):
    assert CONSOLE_SCRIPT.is_file(), f"{CONSOLE_SCRIPT} not installed (pip install -e .)"
    good = subprocess.run([str(CONSOLE_SCRIPT), "analyze", "--json", str(DTMF2)], capture_output=True, text=True,
                          timeout=120)
    assert good.returncode == 0, good.stderr
    (capture,) = json.loads(good.stdout)["captures"]
    assert {stream["ssrc"]: stream["lost"] for stream in capture["streams"]} == DTMF2_SSRCS

    bad = subprocess.run([str(CONSOLE_SCRIPT), "analyze", str(tmp_path / "no-such.pcap"), str(G711A)],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert bad.returncode == ExitStatus.CANNOT_MEASURE
    assert bad.stderr.strip() == f"homeshore analyze: no such file: {tmp_path / 'no-such.pcap'}"
    assert "0xDEE0EE8F" in bad.stdout  # the good file is still reported


def _discarded(*options: str) -> int:
    """Discards of the 2.6-ms-jitter stream of pcap2wav_one.pcap (405 packets, SSRC 0x3522CD97)."""
    result = invoke("--json", *options, str(PCAPS / "pcap2wav_one.pcap"))
    assert result.exit_code == 0, result.output
    streams = json.loads(result.stdout)["captures"][0]["streams"]
    return next(s["discarded"] for s in streams if s["ssrc"] == 0x3522CD97)


def test_fixed_jitter_buffer_depth_decides_the_discards(pcaps):
    """A buffer with no depth discards every packet later than the first one's transit; one of a second, none."""
    assert _discarded("--jitter-buffer", "fixed:0") > 0
    assert _discarded("--jitter-buffer", "fixed:1000") == 0
    assert _discarded("--jitter-buffer", "fixed:0") >= _discarded("--jitter-buffer", "fixed:5")


@pytest.mark.parametrize("spec", ["fixed", "fixed:-1", "elastic", "fixed:abc"])
def test_bad_jitter_buffer_is_one_line_and_status_2(spec, pcaps):
    result = invoke("--jitter-buffer", spec, str(PCAPS / "sipp_g711a.pcap"))
    assert result.exit_code == ExitStatus.CANNOT_MEASURE
    assert "Traceback" not in result.output and "jitter buffer must be" in result.output


# --- layout at 80, 120 and 200 columns, and in a pipe (issue 15) ------------------------------------------------

FAX = PCAPS / "ndpi_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"
# The two streams of FAX (tshark 4.0.17 -q -z rtp,streams, ../shared/pcaps/README.md).
FAX_STREAMS = {0x0EAF0EAF: "10.35.60.100:15580 -> 10.23.1.52:16756", 0x17D90134: "10.23.1.52:16756 -> 10.35.60.100:15580"}


def rendered(table, width: int) -> list[str]:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue().splitlines()


def header_cells(lines: list[str]) -> str:
    """The text of a table's header row(s): the lines between the top border (┏) and the header rule (┡)."""
    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    rule = next(i for i, line in enumerate(lines) if line.startswith("┡"))
    return " ".join(lines[top + 1 : rule])


@pytest.mark.parametrize("width", [80, 120, 200])
def test_table_fits_the_terminal_and_keeps_addresses_on_one_line(width, pcaps):
    result = CliRunner(env={"COLUMNS": str(width), "NO_COLOR": "1"}).invoke(cli, ["analyze", str(FAX)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    for address in FAX_STREAMS.values():
        assert sum(address in line for line in lines) == 1, (address, result.stdout)
    header = header_cells(lines)
    for kept in ("source -> destination", "lost %", "MOS", "problems"):  # never the columns that vanish
        assert kept in header, (width, header)
    assert "1712 lost" in result.stdout  # the problems column shows its text, not a sliver of it


def test_least_useful_columns_go_first():
    from homeshore.cli.tables import streams_table

    capture = analyze_capture(str(FAX))
    headers = {width: header_cells(rendered(streams_table(capture, width), width)) for width in (80, 120, 200)}
    assert "jitter mean ms" in headers[200] and "packets" in headers[200] and "SSRC" in headers[200]
    assert "jitter mean ms" not in headers[120] and "packets" not in headers[120]  # the first to go
    assert "SSRC" in headers[120] and "jitter max ms" in headers[120]  # kept while they fit
    assert "jitter mean ms" not in headers[80] and "SSRC" not in headers[80]
    assert "problems" in headers[80] and "MOS" in headers[80]


def test_an_address_too_long_for_the_terminal_is_cut_with_an_ellipsis():
    from homeshore.cli.tables import streams_table

    capture = analyze_capture(str(FAX))
    long_src, long_dst = "[2001:db8:ffff:1234:5678:9abc:def0:1]:15580", "[2001:db8:eeee:4321:8765:cba9:fed:2]:16756"
    streams = tuple(dataclasses.replace(s, src=long_src, dst=long_dst) for s in capture.streams)
    lines = rendered(streams_table(dataclasses.replace(capture, streams=streams), 80), 80)
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if long_src[:20] in line]
    assert len(rows) == 2 and all("…" in row for row in rows), lines  # one line per stream, cut visibly
    assert not any("16756" in line and long_src[:20] not in line for line in lines)  # no folded remainder


def test_in_a_pipe_the_table_is_80_columns(tmp_path, pcaps):
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    piped = subprocess.run([str(CONSOLE_SCRIPT), "analyze", "--windows", str(FAX)], capture_output=True, text=True,
                           timeout=120, env=env)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[" not in piped.stdout  # no colour codes in a pipe
    for address in FAX_STREAMS.values():
        assert any(line.strip().startswith("0x") and address in line for line in lines), address


@pytest.mark.parametrize("width", [80, 120, 200])
def test_window_rows_name_their_stream_and_show_empty_windows(width, pcaps):
    """0x0EAF0EAF sends nothing from 09:22:47.95 to 09:23:22.2 (tshark: max delta 34261.832 ms): the windows
    starting 09:22:50, 09:23:00 and 09:23:10 are empty and shown as such, between the two with packets."""
    result = CliRunner(env={"COLUMNS": str(width), "NO_COLOR": "1"}).invoke(cli, ["analyze", "--windows", str(FAX)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if re.match(r"│ 0x[0-9A-F]{8} ", line)]
    by_stream: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by_stream.setdefault(row[0], []).append((row[1], row[2]))  # (start, packets), the row's stream named in full
    assert set(by_stream) == {f"0x{ssrc:08X}" for ssrc in FAX_STREAMS}
    assert by_stream["0x0EAF0EAF"] == [("09:22:40", "126"), ("09:22:50", "0"), ("09:23:00", "0"), ("09:23:10", "0"),
                                       ("09:23:20", "33")]
    assert [start for start, _ in by_stream["0x17D90134"]] == ["09:22:40", "09:22:50", "09:23:00", "09:23:10", "09:23:20"]


def test_json_windows_show_the_empty_windows_as_the_table_does(pcaps):
    """The same three empty windows of 0x0EAF0EAF as the table above, marked `empty` with no figures."""
    result = invoke("--json", "--windows", str(FAX))
    assert result.exit_code == 0, result.output
    streams = {stream["ssrc"]: stream for stream in json.loads(result.stdout)["captures"][0]["streams"]}
    windows = streams[0x0EAF0EAF]["windows"]
    assert [(window["empty"], window["packets"]) for window in windows] == [
        (False, 126), (True, 0), (True, 0), (True, 0), (False, 33)]
    starts = [window["start_s"] for window in windows]
    assert [b - a for a, b in zip(starts, starts[1:])] == [10.0] * 4
    assert set(windows[1]) == {"start_s", "duration_s", "empty", "packets"}  # nothing measured: no figures


SESS6_O = PCAPS / "rtpproxy_sess6.o.pcap"  # rtpproxy's reference (tests/rtp_analyze/sess6.o.output): 1 lost of 2039


def test_a_mos_brought_down_by_discards_says_so(pcaps):
    """With no jitter buffer (fixed:0) every packet later than the first one's transit is discarded: the network
    lost 1 packet, the listener misses most of the rest, and the MOS reaches the floor of 1.00. The problems say
    why, with the discard count and share the JSON gives."""
    result = invoke("--json", "--jitter-buffer", "fixed:0", str(SESS6_O))
    assert result.exit_code == 0, result.output
    (stream,) = json.loads(result.stdout)["captures"][0]["streams"]
    assert (stream["expected"], stream["lost"], stream["mos"]) == (2039, 1, 1.0)
    assert stream["discarded"] > stream["lost"]
    share = f"{100 * stream['discarded'] / stream['expected']:.1f} %"
    assert f"MOS 1.00 from jitter-buffer discards: {stream['discarded']} late packets ({share})" in stream["problems"]

    adaptive = json.loads(invoke("--json", str(SESS6_O)).stdout)["captures"][0]["streams"][0]
    assert adaptive["mos"] > 3.6 and not any("discards" in problem for problem in adaptive["problems"])


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_table_shows_the_discards_behind_a_mos_of_one(width, pcaps):
    result = CliRunner(env={"COLUMNS": str(width), "NO_COLOR": "1"}).invoke(
        cli, ["analyze", "--jitter-buffer", "fixed:0", str(SESS6_O)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    problems = " ".join(line.split("│")[-2].strip() for line in lines if line.startswith("│"))
    assert "1.00 (L)" in result.stdout and "jitter-buffer discards:" in problems, result.stdout

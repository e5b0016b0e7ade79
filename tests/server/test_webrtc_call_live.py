"""The candidate's synthetic call from real headless Chromium (Debian's): the browser in a "home" namespace runs
server/call_script.py's CALL_JS against server/webrtc_call.py in a "server" namespace (tests/tools/call_server.py),
across a veth pair: a 20-s call, 1,000 packets each way, on a clean link, with 2 % random loss on both
directions at once (nftables netdev egress, numgen random), and with all UDP from the home dropped.

References, independent of homeshore: nftables' own counters on each side's egress (data packets sent and
dropped), and the browser's getStats() (its data channel's messages and bytes each way). The loss is made at
random, so the share dropped in a 1,000-packet call is itself random (binomial: at 2 % its standard deviation is
0.44 %, and the issue's 1.5-2.5 % window holds in only ~74 % of runs per direction); what homeshore measures is
therefore checked exactly against what nft dropped, and nft's share against the binomial 99.9 % interval of 2 %
(0.54-3.46 % at 1,000 packets: a lost rule or a rule that drops everything fails it).

Which UDP packets carry a call packet: one 172-byte message in an SCTP DATA chunk (16-byte chunk header, 12-byte
common header) in a DTLS 1.2 AES-GCM record (13-byte header, 8-byte explicit nonce, 16-byte tag) is a UDP
length of 245, 261 with a SACK bundled (gap blocks add 4 bytes each); two messages bundled in one packet (a
sender that fell 20 ms behind) 433-620. DTLS handshake, STUN, SACK and FORWARD-TSN packets fall outside 245-620
(as recorded on this lab: 73, 45-177 and 653-666). Messages are counted as packets of one plus twice those of two.
"""

from __future__ import annotations

import json
import math
import queue
import shutil
import subprocess
import sys
import threading
import time

import pytest

from tests import netlab
from tests.conftest import REPO
from tests.live.livecalls import require_lab
from tests.live.test_webrtc_chromium import FLAGS

SECONDS = 20
PACKETS = SECONDS * 50
PACKET_BYTES = 172
LOSS_PCT = 2.0
ONE, TWO = "245-432", "433-620"  # UDP lengths of a packet carrying one call packet, and two (module docstring)
CHECK_ID = "chk-live"
TIMEOUT_S = 90.0  # Chromium's start, the call and its log, on a machine whose cores are shared
CONNECT_BOUND_S = 10.0  # WebrtcLimits.connect_timeout_s
# A veth adds no delay variation: what the call measures there is the two peers' scheduling, 0.2-0.4 ms on an
# idle machine; the bound is a third of the policy's jitter limit (30 ms), room for a machine shared with others.
SMALL_JITTER_MS = 10.0


def _binomial_999(n: int, pct: float) -> tuple[float, float]:
    """The normal approximation's 99.9 % interval (z = 3.29) of the share lost of n, in percent."""
    p = pct / 100
    half = 3.29 * math.sqrt(p * (1 - p) / n)
    return 100 * (p - half), 100 * (p + half)


def _counted_loss(ns: str, dev: str, percent: float | None) -> None:
    """Count the packets carrying call packets that leave dev, and drop percent % of all UDP at random (None:
    every UDP packet), those and the rest counted apart."""
    chance = f"numgen random mod 10000 < {round(percent * 100)} " if percent is not None else ""
    script = (
        "table netdev homeshore_call {\n"
        "  chain egress {\n"
        f'    type filter hook egress device "{dev}" priority 0; policy accept;\n'
        f'    udp length {ONE} counter comment "one_sent"\n'
        f'    udp length {TWO} counter comment "two_sent"\n'
        f'    udp length {ONE} {chance}counter drop comment "one_dropped"\n'
        f'    udp length {TWO} {chance}counter drop comment "two_dropped"\n'
        f'    udp length != {ONE.split("-")[0]}-{TWO.split("-")[1]} {chance}counter drop comment "other_dropped"\n'
        "  }\n"
        "}\n"
    )
    netlab.run(ns, ["nft", "-f", "-"], stdin=script)


def _counters(ns: str) -> dict[str, int]:
    """Each rule's packets by its comment, and call packets (data_*) sent and dropped: messages, not packets."""
    listing = json.loads(netlab.run(ns, ["nft", "-j", "list", "table", "netdev", "homeshore_call"]))
    counts = {}
    for item in listing["nftables"]:
        rule = item.get("rule")
        if rule and "comment" in rule:
            (counter,) = [e["counter"] for e in rule["expr"] if "counter" in e]
            counts[rule["comment"]] = counter["packets"]
    return {"data_sent": counts["one_sent"] + 2 * counts["two_sent"],
            "data_dropped": counts["one_dropped"] + 2 * counts["two_dropped"], **counts}


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def browser_call(tmp_path, *, loss_pct: float | None = 0.0, block_udp: bool = False) -> dict:
    """One call from Chromium in the home (lab.b) to the server (lab.a): {"browser": the page's outcome,
    "server": CallFigures as a dict, "counters": the server's at stop, "nft": {home, server} counters}."""
    require_lab(("ip", "nft", "chromium"))
    chromium = shutil.which("chromium")
    with netlab.Lab() as lab:
        server_host, home = lab.a, lab.b
        # Chromium gathers no host candidate on an interface without a route out: give each side one.
        netlab.run(server_host.ns, ["ip", "route", "add", "default", "via", home.ipv4, "dev", server_host.dev])
        netlab.run(home.ns, ["ip", "route", "add", "default", "via", server_host.ipv4, "dev", home.dev])
        _counted_loss(home.ns, home.dev, None if block_udp else loss_pct)
        _counted_loss(server_host.ns, server_host.dev, 0.0 if block_udp else loss_pct)
        server = netlab.popen(server_host.ns, [sys.executable, "-m", "tests.tools.call_server", server_host.ipv4,
                                               CHECK_ID], stdout=subprocess.PIPE, text=True, cwd=REPO)
        browser = None
        try:
            port = int(server.stdout.readline().split()[1])
            lines: queue.Queue = queue.Queue()
            threading.Thread(target=_lines, args=(server.stdout, lines), daemon=True).start()
            browser = netlab.popen(home.ns, [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                                             f"http://{server_host.ipv4}:{port}/call.html?seconds={SECONDS}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                line = lines.get(timeout=TIMEOUT_S)
            except queue.Empty:
                pytest.fail(f"no outcome from the page within {TIMEOUT_S} s")
            assert line is not None, "the call server ended before the page posted its outcome"
            outcome = json.loads(line)
            nft = {"home": _counters(home.ns), "server": _counters(server_host.ns)}
        finally:
            if browser is not None:
                netlab.end_process(browser)
            assert netlab.end_process(server) == 0
        outcome.update(json.loads(lines.get(timeout=10)), nft=nft)
    return outcome


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return browser_call(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def lossy(tmp_path_factory):
    return browser_call(tmp_path_factory.mktemp("lossy"), loss_pct=LOSS_PCT)


def _assert_agrees_with_nft_and_the_browser(call: dict) -> None:
    """Each leg's packets and losses equal nft's counts of data packets sent and dropped on its sender's egress,
    and the browser's own data-channel counts."""
    server, browser, nft = call["server"], call["browser"], call["nft"]
    assert browser["ok"], browser
    channel = browser["browserStats"]["dataChannel"]
    up, down = server["upstream"], server["downstream"]
    assert server["packets_per_leg"] == PACKETS
    assert (channel["messagesSent"], channel["bytesSent"]) == (PACKETS, PACKETS * PACKET_BYTES)
    assert nft["home"]["data_sent"] == PACKETS
    assert up["loss"]["expected"] == PACKETS
    assert up["loss"]["lost"] == nft["home"]["data_dropped"]
    assert up["packets"] == PACKETS - nft["home"]["data_dropped"]
    assert nft["server"]["data_sent"] == PACKETS
    assert down["loss"]["lost"] == nft["server"]["data_dropped"]
    assert down["packets"] == channel["messagesReceived"] == PACKETS - nft["server"]["data_dropped"]
    assert channel["bytesReceived"] == down["packets"] * PACKET_BYTES
    assert call["counters"]["completed"] == 1 and call["counters"]["errors"] == 0


def test_a_clean_link_loses_nothing_either_way(clean) -> None:
    _assert_agrees_with_nft_and_the_browser(clean)
    server = clean["server"]
    assert (server["blocked"], server["reason"]) == (False, None)
    for leg in (server["upstream"], server["downstream"]):
        assert (leg["packets"], leg["loss"]["lost"]) == (PACKETS, 0)
        assert 0 < leg["jitter_ms"] < SMALL_JITTER_MS
        # G.711 with no loss and a short delay: 4.38-4.41. A peer stalled by other work on the machine makes the
        # jitter buffer discard a late packet or two (4.20 seen once at load 5): above the policy's 4.0 still.
        assert leg["mos"] > 4.0, leg
    assert clean["nft"]["home"]["data_dropped"] == clean["nft"]["server"]["data_dropped"] == 0
    # The round trip from the two legs' median transits, against the browser's own candidate-pair RTT (whole
    # milliseconds in Chromium): both short on a veth pair; ours includes both peers' handling of a message.
    browser_rtt_ms = 1000 * clean["browser"]["browserStats"]["candidatePair"]["currentRoundTripTime"]
    assert 0 < server["rtt_ms"] < 20 and 0 <= browser_rtt_ms < 20


def test_random_loss_shows_in_each_direction_as_nft_dropped_it(clean, lossy) -> None:
    _assert_agrees_with_nft_and_the_browser(lossy)
    low, high = _binomial_999(PACKETS, LOSS_PCT)
    for leg in ("upstream", "downstream"):
        figures = lossy["server"][leg]
        assert low <= 100 * figures["loss"]["lost"] / PACKETS <= high, (leg, figures["loss"])
        assert figures["mos"] < clean["server"][leg]["mos"]
    # The loss fell on the rest too: on the server's ~1,000 SACKs (none dropped: P = 0.98^1000 = 2e-9). The home
    # sends only ~80 packets besides its call packets, none of them dropped in 19 % of runs: that side says nothing.
    assert lossy["nft"]["server"]["other_dropped"] > 0


def test_udp_blocked_is_a_finding_within_the_bound(tmp_path) -> None:
    started_s = time.monotonic()
    call = browser_call(tmp_path, block_udp=True)
    server, browser = call["server"], call["browser"]
    assert server["blocked"] and server["upstream"] is None and server["downstream"] is None
    assert server["reason"].startswith("no UDP path to the server: no ICE candidate pair and DTLS came up within")
    assert server["connect_s"] <= CONNECT_BOUND_S + 1.0
    assert browser["blocked"] and not browser["ok"] and browser["reason"].startswith("no UDP path to the server")
    assert call["nft"]["home"]["other_dropped"] > 0  # the browser did try: its ICE checks were dropped
    assert call["counters"]["blocked"] == 1 and call["counters"]["errors"] == 0
    assert time.monotonic() - started_s < TIMEOUT_S

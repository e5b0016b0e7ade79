"""server/offer_candidates.py: the lines of an offer as Firefox ESR 153 sends them from a headless page (taken from
the live test's offer, tests/server/test_browser_check_live.py, where the call read as blocked before)."""

from __future__ import annotations

from homeshore.server.offer_candidates import without_mdns_candidates

FIREFOX_MEDIA = [
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=candidate:0 1 UDP 2122252543 29250a23-385c-43b6-8c29-dad2a1bab4bc.local 36955 typ host",
    "a=candidate:1 1 TCP 2105524479 29250a23-385c-43b6-8c29-dad2a1bab4bc.local 9 typ host tcptype active",
    "a=sendrecv",
    "a=end-of-candidates",
    "a=ice-pwd:4d2b1c7e0f9a8b6c5d4e3f2a1b0c9d8e",
    "a=ice-ufrag:8f3a2b1c",
    "a=mid:0",
    "a=sctp-port:5000",
]


def sdp(lines: list[str], newline: str = "\r\n") -> str:
    return newline.join(["v=0", "o=mozilla...THIS_IS_SDPARTA-99.0 1 0 IN IP4 0.0.0.0", "s=-", "t=0 0", *lines, ""])


def test_firefox_mdns_candidates_and_their_end_marker_are_dropped() -> None:
    kept = without_mdns_candidates(sdp(FIREFOX_MEDIA))
    assert kept == sdp([line for line in FIREFOX_MEDIA if not line.startswith(("a=candidate", "a=end-of"))])
    assert ".local" not in kept and "end-of-candidates" not in kept and "a=ice-ufrag:8f3a2b1c\r\n" in kept


def test_candidates_with_addresses_and_the_end_marker_stay() -> None:
    lines = [line.replace("29250a23-385c-43b6-8c29-dad2a1bab4bc.local", "10.77.0.1") for line in FIREFOX_MEDIA]
    assert without_mdns_candidates(sdp(lines)) == sdp(lines)
    assert without_mdns_candidates(sdp(lines, "\n")) == sdp(lines, "\n")


def test_a_mixed_offer_keeps_its_addressed_candidate_and_drops_the_end_marker() -> None:
    srflx = "a=candidate:2 1 UDP 1686052863 203.0.113.7 36955 typ srflx raddr 0.0.0.0 rport 0"
    kept = without_mdns_candidates(sdp([*FIREFOX_MEDIA, srflx], "\n")).split("\n")
    assert srflx in kept and not any(".local" in line or line == "a=end-of-candidates" for line in kept)

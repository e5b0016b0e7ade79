"""What the server's peer keeps of a browser's ICE candidates: never the mDNS ones.

Browsers hide a page's local addresses behind random `UUID.local` names (draft-ietf-mmusic-mdns-ice-candidates):
Firefox always, when the page has no camera or microphone permission, and a candidate's page never asks for one.
Such a name resolves by multicast DNS on the candidate's own network only, never from our server on the
internet, so it can give no candidate pair. Worse, aioice tries to resolve it and, with `a=end-of-candidates`
in the offer and nothing left to pair, fails the connection at once ("Components {1} have no candidate pairs"),
before the browser's own connectivity checks arrive: the call read as blocked in Firefox on a clean link.

Without those lines the server waits for the browser's checks, learns the browser's address from them (a peer
reflexive candidate, RFC 8445 section 7.3.1.3), and pairs with that, as it does for Chromium, which offers no
candidate at all here; a network that blocks UDP still ends as `blocked` after connect_timeout_s.
`a=end-of-candidates` goes too, since the browser's real address is still to be learnt. Candidates with an
address (none hidden, or server reflexive ones) stay.
"""

from __future__ import annotations

import re

_MDNS_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ \S+\.local \d+ ", re.IGNORECASE)
_END_OF_CANDIDATES = "a=end-of-candidates"


def without_mdns_candidates(sdp: str) -> str:
    """The offer without its `.local` candidates and, when it had any, without `a=end-of-candidates`."""
    lines = sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n")
    kept = [line for line in lines if not _MDNS_CANDIDATE.match(line)]
    if len(kept) == len(lines):
        return sdp
    kept = [line for line in kept if line.strip() != _END_OF_CANDIDATES]
    return ("\r\n" if "\r\n" in sdp else "\n").join(kept)

"""Codec names in one case everywhere: the encoding name as IANA registers it, whatever case the SDP used."""

from __future__ import annotations

import pytest

from homeshore.quality.capture import analyze_capture
from homeshore.quality.codecs import canonical_codec
from tests.conftest import PCAPS


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("pcma", "PCMA"), ("PCMA", "PCMA"), ("Pcmu", "PCMU"), ("g729", "G729"), ("gsm", "GSM"),
        ("OPUS", "opus"), ("opus", "opus"), ("ilbc", "iLBC"), ("SPEEX", "speex"), ("g726-32", "G726-32"),
        ("Telephone-Event", "telephone-event"), ("cn", "CN"), ("amr-wb", "AMR-WB"), (" pcma ", "PCMA"),
        ("x-private", "X-PRIVATE"),  # not registered: upper case
    ],
)  # fmt: skip
def test_canonical_codec_is_the_iana_registered_case(written, canonical):
    assert canonical_codec(written) == canonical


def test_lower_case_rtpmap_is_reported_as_registered(pcaps):
    """shanewa_SIP_call_RTP_G711.pcap: one side's SDP says `a=rtpmap:8 pcma/8000` (tshark -Y sdp shows it); the
    other side's says `PCMA/8000`. Both streams of PT 8 are the same codec and must read the same."""
    capture = analyze_capture(str(PCAPS / "shanewa_SIP_call_RTP_G711.pcap"))
    codecs = {stream.codec for stream in capture.streams if stream.payload_type == 8}
    assert codecs == {"PCMA"}, [(hex(s.ssrc), s.codec, s.clock_source) for s in capture.streams]
    assert any(stream.clock_source == "sdp" for stream in capture.streams if stream.payload_type == 8)

"""SIP messages (RFC 3261) reduced to what call quality needs: which call, which transaction, which SDP.

Pure: bytes in, frozen dataclasses out, never raises. Calls carry personal data, so it stays in here: the
result holds no URI, no From/To/Contact/P-Asserted-Identity, no user part or display name. The Call-ID only
leaves as a salted HMAC, enough to group the streams of one call without being reversible to the number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from homeshore.quality.sdp import SdpSession, parse_sdp

# RFC 3261 §7.3.3 compact forms, for the headers read here.
_COMPACT = {"i": "call-id", "l": "content-length", "c": "content-type", "e": "content-encoding"}
# RFC 3261 §25.1 allows any token as a method; every registered one is letters (and no digits means a method
# can never carry a phone number out of here).
_METHOD = rb"[A-Za-z][A-Za-z._-]{0,31}"
_TOKEN = re.compile(_METHOD)
_STATUS_LINE = re.compile(rb"SIP/2\.0 ([1-6][0-9][0-9])(?: [^\r\n]*)?", re.IGNORECASE)
_REQUEST_LINE = re.compile(b"(" + _METHOD + rb") [^ \r\n]+ SIP/2\.0", re.IGNORECASE)
_MAX_START_LINE = 4096
_MESSAGE_START = re.compile(rb"(?:[A-Z]{1,16}(?: |$)|S(?:I(?:P(?:/|$)|$)|$))")  # a method or "SIP/", perhaps cut
_MAX_CONTENT_LENGTH = 1 << 20


@dataclass(frozen=True)
class SipMessage:
    is_request: bool
    method: str | None  # request method, or for a response the CSeq method (INVITE, BYE, ...)
    status_code: int | None  # responses only
    call_key: str  # first 16 hex digits of HMAC-SHA256(salt, Call-ID); never the Call-ID itself
    sdp: SdpSession | None  # the application/sdp body, if any (multipart bodies are skipped)


def looks_like_sip(payload: bytes) -> bool:
    """Cheap test of the start line: "SIP/2.0 <3 digits> ..." or "<METHOD> <uri> SIP/2.0" (RFC 3261 §7.1, §7.2).

    The line must end (LF or CRLF) within the first 4096 bytes; methods are letters only.
    """
    return _start_line(payload, 0) is not None


def may_start_message(data: bytes) -> bool:
    """Could `data` be the beginning of a SIP message, however short (a TCP segment may hold a few bytes)?"""
    return _MESSAGE_START.match(data) is not None


def parse_sip(payload: bytes, salt: bytes) -> SipMessage | None:
    """Parse one SIP message. None when it is not SIP or has no Call-ID (RFC 3261 §8.1.1 makes it mandatory)."""
    match = _start_line(payload, 0)
    if match is None:
        return None
    head, body = _split_head(payload)
    headers = _headers(head)
    call_id = headers.get("call-id", "").strip()
    if not call_id:
        return None
    is_request = match.re is _REQUEST_LINE
    method: str | None
    status_code: int | None = None
    if is_request:
        method = match.group(1).decode("ascii").upper()
    else:
        status_code = int(match.group(1))
        method = _cseq_method(headers.get("cseq", ""))
    return SipMessage(
        is_request=is_request,
        method=method,
        status_code=status_code,
        call_key=call_key(call_id.encode("latin-1"), salt),
        sdp=_sdp_body(headers, body),
    )


def call_key(call_id: bytes, salt: bytes) -> str:
    """Salted, truncated HMAC-SHA256 of a Call-ID (compared byte for byte: RFC 3261 §20.8 is case-sensitive)."""
    return hmac.new(salt, call_id, hashlib.sha256).hexdigest()[:16]


def split_stream(buffer: bytes) -> tuple[list[bytes], bytes]:
    """SIP over TCP/TLS: the complete messages at the start of `buffer`, and the bytes still waiting for more.

    Framing is by Content-Length (RFC 3261 §18.3; absent means 0). CRLF keep-alives (RFC 5626 §3.5.1) are
    dropped, and so is anything before a line that looks like a SIP start line, so a capture that starts
    in the middle of a message resynchronises on the next one.
    """
    messages: list[bytes] = []
    pos = 0
    while pos < len(buffer):
        if buffer[pos] in b"\r\n":
            pos += 1
            continue
        if _start_line(buffer, pos) is None:
            newline = buffer.find(b"\n", pos)
            if newline == -1:
                break  # the start line is not complete yet
            pos = newline + 1
            continue
        head_end = _head_end(buffer, pos)
        if head_end is None:
            break
        length = _content_length(_headers(buffer[pos:head_end]))
        if head_end + length > len(buffer):
            break
        messages.append(buffer[pos : head_end + length])
        pos = head_end + length
    return messages, buffer[pos:]


def _start_line(data: bytes, pos: int) -> re.Match[bytes] | None:
    end = data.find(b"\n", pos, pos + _MAX_START_LINE)
    if end == -1:
        return None
    line = data[pos:end].rstrip(b"\r")
    return _STATUS_LINE.fullmatch(line) or _fullmatch_request(line)


def _fullmatch_request(line: bytes) -> re.Match[bytes] | None:
    # Status-line matches allow a reason phrase; a request line ends exactly at the version.
    if line[:8].upper() == b"SIP/2.0 ":
        return None
    return _REQUEST_LINE.fullmatch(line)


def _head_end(data: bytes, pos: int) -> int | None:
    """Offset just past the blank line that ends the headers starting at `pos` (CRLF or bare LF)."""
    ends = [(i, n) for i, n in ((data.find(b"\r\n\r\n", pos), 4), (data.find(b"\n\n", pos), 2)) if i != -1]
    if not ends:
        return None
    index, size = min(ends)
    return index + size


def _split_head(payload: bytes) -> tuple[bytes, bytes]:
    head_end = _head_end(payload, 0)
    if head_end is None:
        return payload, b""
    return payload[:head_end], payload[head_end:]


def _headers(head: bytes) -> dict[str, str]:
    """The first value of each header, names lower-cased and compact forms expanded; folded lines joined."""
    lines: list[str] = []
    for raw in head.decode("latin-1").split("\n")[1:]:  # latin-1: lossless, so the Call-ID hashes as sent
        line = raw.rstrip("\r")
        if line[:1] in (" ", "\t") and lines:  # RFC 3261 §7.3.1 line folding
            lines[-1] += " " + line.strip()
        elif line:
            lines.append(line)
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip().lower()
        name = _COMPACT.get(name, name)
        headers.setdefault(name, value.strip())
    return headers


def _cseq_method(value: str) -> str | None:
    # RFC 3261 §20.16: CSeq: <number> <method>
    parts = value.split()
    if len(parts) != 2 or not _TOKEN.fullmatch(parts[1].encode("latin-1")):
        return None
    return parts[1].upper()


def _content_length(headers: dict[str, str]) -> int:
    value = headers.get("content-length", "0").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 8:
        return 0
    return min(int(value), _MAX_CONTENT_LENGTH)


def _sdp_body(headers: dict[str, str], body: bytes) -> SdpSession | None:
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    encoding = headers.get("content-encoding", "").strip().lower()
    if content_type != "application/sdp" or encoding not in ("", "identity"):
        return None
    if "content-length" in headers:  # RFC 3261 §18.3: bytes past Content-Length are not part of the body
        body = body[: _content_length(headers)]
    return parse_sdp(body)

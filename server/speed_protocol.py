"""The speed-test protocol `homeshore serve` speaks, pure: request targets to routes, the Ookla XML documents
speedtest-cli parses, and the names a server gives itself (no sockets; server/speed_http.py is the I/O).

See server/speed_http.py for the endpoint list. Everything here takes the client's text and either
understands it exactly or refuses it (BadRequest, answered 400), so nothing the client sent is echoed back
unchecked.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

# Content-Length of Ookla's random{N}x{N}.jpg files, the sizes speedtest-cli asks for (get_config's
# sizes['download']). The figures are those of the files on Ookla's legacy HTTP servers, as published by two
# independent re-implementations (a Go speedtest mini clone's size table and a speedtest-mini Docker image's
# README, found with the search tool); serving the same lengths keeps speedtest-cli's requests as large, and so
# its figures comparable, against this server and against Ookla's.
RANDOM_FILE_BYTES = {
    350: 245_388,
    500: 505_544,
    750: 1_118_012,
    1000: 1_986_284,
    1500: 4_468_241,
    2000: 7_907_740,
    2500: 12_407_926,
    3000: 17_816_816,
    3500: 24_262_167,
    4000: 31_625_365,
}
_TEST_ID = re.compile(r"[0-9a-f]{16,32}")
_RANDOM_PATH = re.compile(r"/speedtest/random([0-9]{3,4})x([0-9]{3,4})\.jpg")
_HOST_HEADER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))(:[0-9]{1,5})?")
_MAX_QUERY_FIELDS = 16


class BadRequest(ValueError):
    """The request target cannot be understood (answered 400)."""


@dataclass(frozen=True)
class Route:
    """Where a request goes: endpoint is one of info, index, latency, random, upload, receipt, config, servers,
    not_found."""

    endpoint: str
    size_px: int = 0  # random: the N of random{N}x{N}.jpg
    test_id: str | None = None  # upload, random, receipt: the test=ID of the query


_GET_ROUTES = {
    "/": "index",
    "/homeshore.json": "info",
    "/speedtest/latency.txt": "latency",
    "/speedtest/upload.php": "upload",
    "/speedtest/receipt": "receipt",
    "/speedtest-config.php": "config",
    "/speedtest-servers-static.php": "servers",
    "/speedtest-servers.php": "servers",
}


def parse_target(method: str, target: str) -> Route:
    """The route of a request line's method and target (origin-form `/path?query`, or absolute-form
    `http://host/path?query`, which RFC 9112 §3.2.2 says a server must accept). BadRequest for a target that is
    neither, a query that does not parse or has more than 16 fields, or a test id not of 16-32 lowercase hex
    digits; Route('not_found') for any other path or method."""
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
    elif target.startswith("/"):
        path, _, query = target.partition("?")
    else:
        raise BadRequest(f"not a request target: {target[:80]!r}")
    try:
        fields = parse_qs(query, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS)
    except ValueError as error:
        raise BadRequest(f"bad query: {error}") from None
    test_id = None
    if "test" in fields:
        values = fields["test"]
        if len(values) != 1 or not _TEST_ID.fullmatch(values[0]):
            raise BadRequest("test must be one id of 16-32 lowercase hex digits")
        test_id = values[0]
    if method == "POST":
        return Route("upload", test_id=test_id) if path == "/speedtest/upload.php" else Route("not_found")
    if method != "GET":
        return Route("not_found")
    match = _RANDOM_PATH.fullmatch(path)
    if match:
        side, other = int(match[1]), int(match[2])
        if side == other and side in RANDOM_FILE_BYTES and match[1] == str(side):
            return Route("random", size_px=side, test_id=test_id)
        return Route("not_found")
    endpoint = _GET_ROUTES.get(path, "not_found")
    return Route(endpoint, test_id=test_id if endpoint in ("upload", "receipt") else None)


def source_key(address: str) -> str:
    """What connection limits count by: an IPv4 address (IPv4-mapped ones included), or the /64 of an IPv6
    address, since one home holds a whole /64 and could otherwise open connections from as many addresses."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def advertised_host(host_header: str | None, fallback_host: str, port: int) -> tuple[str, str]:
    """(authority for URLs, host:port) naming this server the way the client reached it: the Host header when it
    is a plain host name or address with an optional port, else fallback_host (the address the connection came
    in on) with port. The Host header is the client's text, so anything else in it is not repeated."""
    if host_header and _HOST_HEADER.fullmatch(host_header):
        has_port = host_header.rsplit("]", 1)[-1].count(":") == 1
        return host_header, host_header if has_port else f"{host_header}:{port}"
    authority = f"[{fallback_host}]" if ":" in fallback_host else fallback_host
    return (authority if port == 80 else f"{authority}:{port}"), f"{authority}:{port}"


def ookla_config_xml(client_ip: str, test_length_s: int) -> bytes:
    """The speedtest-config.php speedtest-cli's get_config parses: the attributes it reads (client lat/lon,
    server-config threadcount/ignoreids, download testlength/threadsperurl, upload testlength/ratio/
    maxchunkcount/threads) with Ookla's usual values, and test lengths of test_length_s. Client and server are
    both put at 0°N 0°E: this server has no place, and speedtest-cli only uses the distance to sort servers."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<settings>\n'
        f'<client ip={quoteattr(client_ip)} lat="0" lon="0" isp="homeshore serve" isprating="3.7" rating="0"'
        ' ispdlavg="0" ispulavg="0" loggedin="0" country=""/>\n'
        '<server-config threadcount="4" ignoreids="" notonmap="" forcepingid="" preferredserverid=""/>\n'
        f'<download testlength="{int(test_length_s)}" initialtest="250K" mintestsize="250K" threadsperurl="4"/>\n'
        f'<upload testlength="{int(test_length_s)}" ratio="5" initialtest="0" mintestsize="32K" threads="2"'
        ' maxchunksize="512K" maxchunkcount="50" threadsperurl="4"/>\n'
        '</settings>\n'
    ).encode()


def ookla_servers_xml(authority: str, host_port: str) -> bytes:
    """The speedtest-servers(-static).php list speedtest-cli's get_servers parses: this one server, id 1, at
    0°N 0°E, its upload URL on `authority` (as the client reached it)."""
    url = f"http://{authority}/speedtest/upload.php"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<settings>\n<servers>\n'
        f'<server url={quoteattr(url)} lat="0" lon="0" name="homeshore serve" country="" cc=""'
        f' sponsor="homeshore" id="1" host={quoteattr(host_port)}/>\n'
        '</servers>\n</settings>\n'
    ).encode()

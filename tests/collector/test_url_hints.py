"""collector/url_hints.py on real failures: an https request to a real plain-HTTP server (OpenSSL's own "wrong
version number") and a connection to a port nothing listens on (the kernel's ECONNREFUSED), as exceptions and
as the text the agent keeps of them."""

from __future__ import annotations

import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler

import pytest

from homeshore.collector.url_hints import url_hint, with_hint
from tests.references.http_peer import serving
from tests.references.influxd import closed_port


@pytest.fixture(scope="module")
def plain_http_port():
    with serving(SimpleHTTPRequestHandler) as url:
        yield int(url.rsplit(":", 1)[1])


def failure(url: str) -> urllib.error.URLError:
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen(url, timeout=10)
    return raised.value


def test_https_to_a_plain_http_server_says_try_http(plain_http_port: int) -> None:
    url = f"https://127.0.0.1:{plain_http_port}/base/"
    error = failure(url)
    expected = f"the server speaks plain HTTP: try http://127.0.0.1:{plain_http_port}/base"
    assert url_hint(url, error) == expected
    assert url_hint(url, f"SSLError: {error.reason}") == expected  # the agent's text form
    assert url_hint(f"http://127.0.0.1:{plain_http_port}", error) == ""  # http:// already: not that mistake


def test_a_refused_connection_says_nothing_listens(plain_http_port: int) -> None:
    with closed_port() as port:
        error = failure(f"http://127.0.0.1:{port}")
    expected = f"nothing listens on 127.0.0.1:{port}: is the server running?"
    assert url_hint(f"http://127.0.0.1:{port}", error) == expected
    assert url_hint(f"http://127.0.0.1:{port}", "ConnectionRefusedError: [Errno 111] Connection refused") == expected
    assert url_hint("https://[::1]", ConnectionRefusedError()) == "nothing listens on [::1]:443: is the server running?"
    assert url_hint("http://localhost", error) == "nothing listens on localhost:80: is the server running?"


def test_other_failures_get_no_hint_and_the_message_is_kept() -> None:
    assert url_hint("https://collector.example.org", TimeoutError("timed out")) == ""
    assert url_hint("https://collector.example.org", "HTTP 401: authorization failed") == ""
    assert with_hint("cannot reach X: timed out", "http://x", "timed out") == "cannot reach X: timed out"
    assert with_hint("cannot reach X: refused", "http://x:8086", ConnectionRefusedError()) == \
        "cannot reach X: refused; nothing listens on x:8086: is the server running?"
    once = with_hint("cannot reach X: refused", "http://x:8086", ConnectionRefusedError())
    assert with_hint(once, "http://x:8086", once) == once  # a second layer adds nothing
